-- Shared machinery of the Lua modules (the command protocol, channels, messages,
-- payloads, coroutine.spawn, helpers) and the `channel` module.
-- Run privileged once per runtime by beamish.luabridge._lib_core.install_core, with
-- (host, H_call, H_send, inbox handle, max payload); returns the core table.
-- Host code (beamish's own, not a script): compiled once per Python process.

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
-- merge(a, b): a new table with a's fields, then b's over them (either may be nil);
-- the with_* builders of funcs and process, and logger fields, use it
local pairs = pairs
function core.merge(a, b)
  local out = {}
  if a then for k, v in pairs(a) do out[k] = v end end
  if b then for k, v in pairs(b) do out[k] = v end end
  return out
end

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
