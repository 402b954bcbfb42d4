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

from typing import TYPE_CHECKING, Any

from beamish.actors import Error, ErrorKind

from ._channels import INBOX, LChannel, SendOnClosed, Waiter
from ._commands import BLOCKED, OPCODES, LuaProcess, command
from ._convert import ConversionError
from ._lib_process import direct_send
from ._lua_sources import HostLua

if TYPE_CHECKING:
    from ._runtime import Sandbox

__all__ = ["CORE_LUA", "OP_RECV", "install_core"]

#: The core chunk, ``lua/core.lua``: run with (host, H_call, H_send, inbox handle,
#: max payload); returns the core table.
CORE_LUA = HostLua("beamish.luabridge", "core.lua")


def install_core(sb: Sandbox) -> Any:
    """Run the core chunk in ``sb``; returns the core table (kept on ``sb.core``)."""
    core = sb.eval_privileged(CORE_LUA, sb.host, _direct_caller(sb), direct_send(sb), INBOX,
                              sb.limits.max_payload)

    def refuse_channel(_plain: Any) -> Any:
        raise ConversionError(
            "a channel cannot leave its process (send values, not channels)"
        )

    sb.host.set_inbox(INBOX)
    sb.convert.register_tag("C", refuse_channel)
    sb.convert.register_tag("P", lambda plain: plain)
    sb.convert.register_tag("G", lambda plain: plain)
    sb.core = core
    return core


def _direct_caller(sb: Sandbox) -> Any:
    """The Python side of ``core.sync``: run a non-blocking command for the current task.

    Never raises into Lua (a Python exception would reach the script as an object):
    failures come back as ``(1, error)`` like a command's.
    """

    def H_call(op: Any, *args: Any) -> Any:
        drv: LuaProcess | None = sb.current
        if drv is None:
            return (1, sb.convert.error_to_lua(Error(
                f"'{op}' needs a running process or function", kind=ErrorKind.INVALID)))
        out = drv.perform(op, 0, args)
        if type(out) is tuple:
            return out
        return (1, sb.convert.error_to_lua(Error(
            f"'{op}' would block where it cannot", kind=ErrorKind.INTERNAL)))

    return H_call


# -- handlers ---------------------------------------------------------------------------

_OK = (0,)
_OK_TRUE = (0, True)


def _channel(h: Any, fname: str, drv: LuaProcess) -> LChannel:
    if type(h) is not LChannel:
        if h is INBOX:
            return drv.inbox_channel()
        raise Error(f"bad argument to '{fname}' (channel expected)", kind=ErrorKind.INVALID)
    return h


@command("ch_new")
def _ch_new(drv: LuaProcess, tid: int, size: Any) -> tuple[Any, ...]:
    ch = LChannel(int(size or 0))
    ch.owner = drv
    return (0, ch)


@command("ch_send")
def _ch_send(drv: LuaProcess, tid: int, h: Any, value: Any = None) -> Any:
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
def _ch_recv(drv: LuaProcess, tid: int, h: Any) -> Any:
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
def _ch_close(drv: LuaProcess, tid: int, h: Any) -> tuple[Any, ...]:
    _channel(h, "close", drv).close()
    return _OK


@command("select")
def _select(drv: LuaProcess, tid: int, has_default: Any, n: int, *flat: Any) -> Any:
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
def _spawn_task(drv: LuaProcess, tid: int, new_tid: int) -> tuple[Any, ...]:
    drv.add_task(new_tid)
    return _OK
