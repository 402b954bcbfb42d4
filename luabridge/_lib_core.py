"""Shared Lua machinery of the modules, and the ``channel`` module with ``coroutine.spawn``.

What it is for: the pieces every module uses — the command protocol (yield ``CMD, op,
...``; resume with ``0, values...`` or ``1, error`` to raise), channel objects (a Lua
table whose Python :class:`~._channels.LChannel` sits in a hidden weak table, so scripts
never touch a Python object), message and payload objects — plus the ``channel`` global
(``channel.new``, ``ch:send/receive/close``, ``case_send``/``case_receive``,
``channel.select`` with ``default``) and ``coroutine.spawn``.

Lua objects (all with protected metatables, methods via ``__index``):

* channel: ``ch:send(v)`` -> ``true`` (raises on a closed channel), ``ch:receive()`` ->
  ``v, true`` | ``nil, false``, ``ch:close()``, ``ch:case_send(v)``,
  ``ch:case_receive()``; equal to itself only (``r.channel == ch`` after select).
* message: ``msg:topic()``, ``msg:from()`` (sender PID string or nil),
  ``msg:payload()`` -> payload; payload: ``p:data()`` (one value, or an array when the
  send had several, nil when none), ``p:get_format()`` (``"lua/any"``), ``p:unmarshal()``.
  (A message is its own payload object: one table per message.) Sent on to another
  process, a message or payload object travels as its data. ``payload.new(v)`` (the
  ``payload`` global) makes one.

``channel.select{...}`` returns ``{channel=ch, value=v, ok=bool}`` (``value`` absent for a
send case) or ``{default=true, ok=true}``; the first ready case in table order wins.
A channel cannot be sent to another process (conversion refuses it).
"""

from __future__ import annotations

from typing import Any

from beamish.actors._errors import Error, ErrorKind

from ._channels import INBOX, LChannel, SendOnClosed, Waiter
from ._commands import BLOCKED, OPCODES, command
from ._convert import ConversionError

__all__ = ["CORE_LUA", "OP_RECV", "install_core"]

CORE_LUA = r"""
local host, H_call, H_send, INBOX_H, MAX_PAYLOAD = ...
local CMD = host.CMD
local box_args = host.box_args
local co_yield = coroutine.yield
local setmetatable, type, error = setmetatable, type, error
local select, rawget, tostring = select, rawget, tostring
local rawequal = rawequal
local pack, unpack = table.pack, table.unpack
local unbox = host.unbox
local dbg_getmetatable = debug.getmetatable
local room, lock_mt = host.room, host.lock_mt
local raw_setmetatable = host.raw_setmetatable

local core = {unbox = unbox}

local function finish(st, ...)
  if st == 0 then return ... end
  error((...), 0)
end
local function command(...) return finish(co_yield(CMD, ...)) end
core.command = command
-- Operations that never block call the driver directly (no yield: cheaper, and they
-- work across C boundaries such as table.sort comparators). Like every call into
-- Python: room first, and strings that are not UTF-8 boxed (see the prelude).
local function sync(...)
  room()
  return finish(H_call(box_args(...)))
end
core.sync = sync
core.box_args = box_args
core.finish = finish
core.H_send = H_send   -- process.send checks sizes and boxes (see _lib_process)
core.room = room
core.check_time = host.check_time
core.MAX_PAYLOAD = MAX_PAYLOAD

-- channels ---------------------------------------------------------------------
-- Host objects are empty tables with a locked metatable (no field can be added, rawset
-- refuses them): what they stand for lives in weak tables only the host reads. So the
-- one inbox table every process shares is immutable, and no Python object is ever a
-- field a script can read.
local HANDLE = setmetatable({}, {__mode = "k"})
local CH = {}
local CH_MT = lock_mt({__index = CH, __metatable = "channel",
                       __tostring = function() return "channel" end}, "channel")
local CASES = setmetatable({}, {__mode = "k"})   -- case -> {ch, h, is_send, value}
local CASE = {}
local CASE_MT = lock_mt({__index = CASE, __metatable = "case"}, "case")
core.CH_MT = CH_MT

local function wrap_channel(h)
  local ch = raw_setmetatable({}, CH_MT)
  HANDLE[ch] = h
  return ch
end
core.wrap_channel = wrap_channel
-- process.inbox(): one table per runtime, standing for the running process's inbox
core.INBOX = wrap_channel(INBOX_H)

local function handle(ch, fname)
  local h = (type(ch) == "table") and HANDLE[ch] or nil
  if h == nil then error("bad argument to '" .. fname .. "' (channel expected)", 3) end
  return h
end
core.handle = handle

-- A received message arrives as MSG_MARK, topic, from, n, payload... and is built
-- here, in Lua (cheaper than one more call from Python per message).
local MSG_MARK = raw_setmetatable({}, {__metatable = false})
core.MSG_MARK = MSG_MARK
local new_message
local function recv_finish(v, ok, ...)
  if rawequal(v, MSG_MARK) then return new_message(ok, ...), true end
  return unbox(v), ok
end

function CH.send(self, v) return command("ch_send", handle(self, "send"), v) end
-- the hottest call: inlined (no handle()/command()/finish() frames)
local function recv_resumed(st, v, ...)
  if st ~= 0 then error(v, 0) end
  return recv_finish(v, ...)
end
function CH.receive(self)
  local h = HANDLE[self]
  if h == nil then handle(self, "receive") end
  return recv_resumed(co_yield(CMD, "ch_recv", h))
end
function CH.close(self) return sync("ch_close", handle(self, "close")) end
local function new_case(ch, h, is_send, v)
  local c = raw_setmetatable({}, CASE_MT)
  CASES[c] = {ch, h, is_send, v}
  return c
end
function CH.case_send(self, v) return new_case(self, handle(self, "case_send"), true, v) end
function CH.case_receive(self) return new_case(self, handle(self, "case_receive"), false) end

local channel = {}
local select_finish
function channel.new(size)
  if size ~= nil and (math.type(size) ~= "integer" or size < 0) then
    error("bad argument #1 to 'channel.new' (non-negative integer expected)", 2)
  end
  return wrap_channel(sync("ch_new", size or 0))
end
function channel.select(cases)
  if type(cases) ~= "table" then
    error("bad argument #1 to 'select' (table of cases expected)", 2)
  end
  local n = #cases
  local flat, picked = {}, {}
  for i = 1, n do
    local c = CASES[cases[i]]
    if c == nil then
      error("bad case #" .. i .. " in select (use ch:case_receive() or ch:case_send(v))", 2)
    end
    picked[i] = c
    flat[3 * i - 2] = c[2]
    flat[3 * i - 1] = c[3]
    flat[3 * i] = c[4]
  end
  return select_finish(picked, command("select", rawget(cases, "default") == true, n,
                                       unpack(flat, 1, 3 * n)))
end
function select_finish(picked, idx, ...)
  if idx == 0 then return {default = true, ok = true} end
  local c = picked[idx]
  local v, ok = recv_finish(...)
  if c[3] then return {channel = c[1], ok = ok} end
  return {channel = c[1], value = v, ok = ok}
end
core.channel = channel

-- coroutine.spawn ----------------------------------------------------------------
local add_task_co, current_process = host.add_task_co, host.current_process
function core.spawn(fn)
  if type(fn) ~= "function" then error("bad argument #1 to 'spawn' (function expected)", 2) end
  local P = current_process()
  if P == nil then error("coroutine.spawn needs a running process", 2) end
  local tid, co = add_task_co(P, fn)
  sync("spawn_task", tid)
  return co
end

-- messages and payloads -------------------------------------------------------------
local PAYLOAD = {}
local PAYLOAD_MT = lock_mt({__index = PAYLOAD, __metatable = "payload"}, "payload")
function PAYLOAD.data(p) return p[1] end
function PAYLOAD.unmarshal(p) return p[1] end
function PAYLOAD.get_format(p) return "lua/any" end
local function new_payload(v) return raw_setmetatable({v}, PAYLOAD_MT) end
core.new_payload = new_payload
core.PAYLOAD_MT = PAYLOAD_MT

-- A message is one table {topic, from, data}; msg:payload() is the message itself
-- seen as its payload (it answers :data(), :get_format(), :unmarshal()), which saves a
-- table per received message. Both export as the data when sent on.
local MSG = {}
local MSG_MT = lock_mt({__index = MSG, __metatable = "message"}, "message")
function MSG.topic(m) return m[1] end
function MSG.from(m) return m[2] end
function MSG.payload(m) return m end
function MSG.data(m) return m[3] end
function MSG.unmarshal(m) return m[3] end
function MSG.get_format(m) return "lua/any" end
core.MSG_MT = MSG_MT
-- new_message(topic, from, n, payload values...)
function new_message(topic, from, n, ...)
  local data
  if n == 1 then data = ... elseif n > 1 then data = {...} end
  return raw_setmetatable({topic, from, data}, MSG_MT)
end
core.new_message = new_message
-- listen() without {message=true}: the payload value(s) themselves
function core.payload_value(n, ...)
  if n == 1 then return (...) end
  if n > 1 then return {...} end
  return nil
end

-- conversion of these objects when they cross to Python
host.EXPORT[CH_MT] = function(ch) return "C", "channel" end
host.EXPORT[PAYLOAD_MT] = function(p) return "P", p[1] end
host.EXPORT[MSG_MT] = function(m) return "G", m[3] end

-- the `payload` global
core.payload_module = {new = function(v) return new_payload(v) end}
-- coroutine.spawn joins the sandbox's coroutine library
host.real(host.BASE.coroutine).spawn = core.spawn

return core
"""


def install_core(sb: Any) -> Any:
    """Run the core chunk in ``sb``; returns the core table (kept on ``sb.core``)."""
    from ._lib_process import direct_send

    core = sb.eval_privileged(CORE_LUA, sb.host, _direct_caller(sb), direct_send(sb), INBOX,
                              sb.limits.max_payload, name="core")

    def refuse_channel(_plain: Any) -> Any:
        raise ConversionError(
            "a channel cannot leave its process (send values, not channels)"
        )

    sb.host.set_inbox(INBOX)
    sb.convert.register_tag("C", refuse_channel)
    sb.convert.register_tag("P", lambda plain: plain)
    sb.convert.register_tag("G", lambda plain: plain)
    sb.core = core
    sb.lua_command = core.command
    return core


def _direct_caller(sb: Any) -> Any:
    """The Python side of ``core.sync``: run a non-blocking command for the current task.

    Never raises into Lua (a Python exception would reach the script as an object):
    failures come back as ``(1, error)`` like a command's.
    """
    from ._commands import COMMANDS

    def H_call(op: Any, *args: Any) -> Any:
        drv = sb.current
        if drv is None:
            return (1, sb.convert.error_to_lua(Error(
                f"'{op}' needs a running process or function", kind=ErrorKind.INVALID)))
        out = drv._perform(COMMANDS.get(op), op, 0, args)
        if type(out) is tuple:
            return out
        return (1, sb.convert.error_to_lua(Error(
            f"'{op}' would block where it cannot", kind=ErrorKind.INTERNAL)))

    return H_call


# -- handlers ---------------------------------------------------------------------------

_OK = (0,)
_OK_TRUE = (0, True)


def _channel(h: Any, fname: str, drv: Any) -> LChannel:
    if type(h) is not LChannel:
        if h is INBOX:
            return drv.inbox_channel()
        raise Error(f"bad argument to '{fname}' (channel expected)", kind=ErrorKind.INVALID)
    return h


@command("ch_new")
def _ch_new(drv: Any, tid: int, size: Any) -> tuple[Any, ...]:
    ch = LChannel(int(size or 0))
    ch.owner = drv
    return (0, ch)


@command("ch_send")
def _ch_send(drv: Any, tid: int, h: Any, value: Any = None) -> Any:
    ch = _channel(h, "send", drv)
    if ch.source is not None:
        return (1, drv.sb.convert.error_to_lua(Error(
            f"cannot send on a receive-only channel ({ch.kind})", kind=ErrorKind.INVALID)))
    try:
        if ch.try_send(value):
            return _OK_TRUE
    except SendOnClosed:
        return (1, drv.send_on_closed_error())
    ch.park_sender(Waiter(drv, tid), 0, value)
    return BLOCKED


@command("ch_recv")
def _ch_recv(drv: Any, tid: int, h: Any) -> Any:
    if type(h) is LChannel and h.source is not None and not h.buf and not h.sendq:
        return h  # the common case: an empty context channel (events, listen...)
    if h is INBOX and drv.inbox is None:
        return h  # the driver awaits the context's inbox itself, or makes the channel
    ch = _channel(h, "receive", drv)
    r = ch.try_receive(poll_source=False)
    if r is not None:
        return (0, *r)
    if ch.source is not None:
        # The channel itself: the driver awaits its source directly when this is the
        # only task of the process, else parks the task (see Driver.run).
        return ch
    ch.park_receiver(Waiter(drv, tid))
    drv.park_on(ch)
    return BLOCKED


#: The opcode of ``ch_recv``: the driver answers a receive on a channel-less inbox
#: itself (the hottest command).
OP_RECV = OPCODES["ch_recv"]


@command("ch_close")
def _ch_close(drv: Any, tid: int, h: Any) -> tuple[Any, ...]:
    _channel(h, "close", drv).close()
    return _OK


@command("select")
def _select(drv: Any, tid: int, has_default: Any, n: int, *flat: Any) -> Any:
    cases = []
    for i in range(n):
        h, is_send = flat[3 * i], flat[3 * i + 1]
        value = flat[3 * i + 2] if 3 * i + 2 < len(flat) else None
        cases.append((_channel(h, "select", drv), bool(is_send), value))
    for i, (ch, is_send, value) in enumerate(cases, 1):
        if is_send:
            if ch.source is not None:
                raise Error("cannot send on a receive-only channel", kind=ErrorKind.INVALID)
            try:
                if ch.try_send(value):
                    return (0, i, None, True)
            except SendOnClosed:
                return (1, drv.send_on_closed_error())
        else:
            r = ch.try_receive()
            if r is not None:
                return (0, i, *r)
    if has_default:
        return (0, 0)
    if not cases:
        raise Error("select with no cases and no default blocks forever",
                    kind=ErrorKind.INVALID)
    w = Waiter(drv, tid, is_select=True)
    for i, (ch, is_send, value) in enumerate(cases, 1):
        if is_send:
            ch.park_sender(w, i, value)
        else:
            ch.park_receiver(w, i)
            drv.park_on(ch)
    return BLOCKED


@command("spawn_task")
def _spawn_task(drv: Any, tid: int, new_tid: int) -> tuple[Any, ...]:
    drv.add_task(new_tid)
    return _OK
