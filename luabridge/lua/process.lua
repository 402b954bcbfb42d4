-- The `process` module (a global): PIDs, messages, spawning, links, names.
-- Run privileged once per runtime by beamish.luabridge._modules.install_modules, with
-- (core); returns the module table. Documented in beamish.luabridge._lib_process.
-- Host code (beamish's own, not a script): compiled once per Python process.

local core = ...
local command = core.command
local sync = core.sync
local type, error, setmetatable, pairs, select = type, error, setmetatable, pairs, select
local pack, unpack = table.pack, table.unpack

local process = {}
-- Actor/Scope objects of the `security` module -> their plain data (weak keys): set there,
-- read here and in `funcs` by with_actor/with_scope.
local SEC = setmetatable({}, {__mode = "k"})
core.SECURITY = SEC
function process.pid() return sync("pid") end
function process.id() return sync("id") end
local box_args, finish, H_send = core.box_args, core.finish, core.H_send
local utf8_len = utf8.len
-- H_send answers true, or nil + err (returned), or false + err (raised)
local function send_result(ok, err)
  if ok then return true end
  if ok == false then error(err, 3) end
  return nil, err
end
local room, check_time, MAX_PAYLOAD = core.room, core.check_time, core.MAX_PAYLOAD
local function too_large(n)
  error(errors.new{kind = errors.INVALID, retryable = false, message = "value: too large: "
    .. n .. " bytes of string data, more than the host's limits.max_payload ("
    .. MAX_PAYLOAD .. "); send a smaller value or split it"}, 3)
end
-- Strings that are not UTF-8 are boxed (see the prelude's box_args); a table payload
-- is converted by Python, so room() first. An oversized string fails here.
function process.send(dest, topic, ...)
  if select("#", ...) == 1 and type(dest) == "string" and type(topic) == "string"
      and utf8_len(dest) and utf8_len(topic) then  -- the common case
    local v = ...
    local tv = type(v)
    if tv == "string" then
      if #v > MAX_PAYLOAD then too_large(#v) end
      if #v > 65536 or not utf8_len(v) then
        local ok, err = H_send(dest, topic, box_args(v))
        check_time()  -- copying a big payload is the step's time too
        return send_result(ok, err)
      end
    elseif tv == "table" then
      room()
      local ok, err = H_send(dest, topic, v)
      check_time()
      return send_result(ok, err)
    end
    local ok, err = H_send(dest, topic, v)
    if ok then return true end
    return send_result(ok, err)
  end
  room()
  for i = 1, select("#", ...) do
    local v = select(i, ...)
    if type(v) == "string" and #v > MAX_PAYLOAD then too_large(#v) end
  end
  local ok, err = H_send(box_args(dest, topic, ...))
  check_time()
  return send_result(ok, err)
end

-- spawn answers pid, nil | nil, err | pid, true: the host confirms the start later
-- (a workflow): wait for that (a yield), so a refused start is nil, err.
local function spawned(pid, extra)
  if extra == true then return command("spawn_wait", pid) end
  return pid, extra
end
local function spawner(flags)
  return function(id, host, ...)
    return spawned(sync("spawn", flags, nil, id, host, box_args(...)))
  end
end
process.spawn = spawner(0)
process.spawn_monitored = spawner(1)
process.spawn_linked = spawner(2)
process.spawn_linked_monitored = spawner(3)
function process.exec(id, host, ...) return command("exec", nil, id, host, ...) end
-- beamish: request/reply with a Python Server (ctx.ask / ctx.cast)
function process.call(dest, request, timeout) return command("ask", nil, dest, request, timeout) end
function process.cast(dest, request) return sync("cast", dest, request) end

function process.terminate(dest) return sync("terminate", dest) end
function process.cancel(dest, reason) return sync("cancel", dest, reason) end
function process.monitor(dest) return sync("monitor", dest) end
function process.unmonitor(dest) return sync("unmonitor", dest) end
function process.link(dest) return sync("link", dest) end
function process.unlink(dest) return sync("unlink", dest) end

function process.get_options() return {trap_links = sync("get_trap_links")} end
function process.set_options(t)
  if type(t) ~= "table" then error("bad argument #1 to 'set_options' (table expected)", 2) end
  for k, v in pairs(t) do
    if k ~= "trap_links" then
      return false, errors.new{kind = errors.INVALID, retryable = false,
                               message = "option " .. tostring(k) .. " is not supported"}
    end
    if type(v) ~= "boolean" then
      return false, errors.new{kind = errors.INVALID, retryable = false,
                               message = "option trap_links must be a boolean"}
    end
  end
  if t.trap_links ~= nil then sync("set_trap_links", t.trap_links) end
  return true, nil
end

local INBOX = core.INBOX
function process.inbox() return INBOX end
function process.events() return sync("events") end
function process.listen(topic, opts)
  local as_message = type(opts) == "table" and opts.message == true
  return sync("listen", topic, as_message)
end
function process.unlisten(ch) return sync("unlisten", core.handle(ch, "unlisten")) end

process.registry = {
  -- LOCAL and EVENTUAL answer at once (a name is cluster-wide either way; a name
  -- another node claimed first is revoked); CONSISTENT and STRONG wait for the
  -- cluster's answer (one winner among racers).
  register = function(name, pid, scope)
    if scope == 2 or scope == 3 then return command("register_global", name, pid) end
    return sync("register", name, pid)
  end,
  lookup = function(name) return sync("lookup", name) end,
  unregister = function(name) return sync("unregister", name) end,
  LOCAL = 0, EVENTUAL = 1, CONSISTENT = 2, STRONG = 3,
}
process.event = {EXIT = "pid.exit", CANCEL = "pid.cancel", LINK_DOWN = "pid.link.down"}

function process.upgrade()
  error(errors.new{kind = errors.INVALID, retryable = false,
                   message = "process.upgrade is not supported by beamish"}, 2)
end

-- Spawn builders: immutable; every with_* returns a new builder.
local B = {}
local B_MT = {__index = B, __metatable = "spawner"}
local merge = core.merge
local function builder(fields) return setmetatable(fields, B_MT) end
local function copy(b, changes)
  local f = {context = b.context, options = b.options, name = b.name, messages = b.messages,
             actor = b.actor, scope = b.scope}
  for k, v in pairs(changes) do f[k] = v end
  return builder(f)
end
function B.with_context(b, t)
  if type(t) ~= "table" then error("bad argument #1 to 'with_context' (table expected)", 2) end
  return copy(b, {context = merge(b.context, t)})
end
function B.with_options(b, t)
  if type(t) ~= "table" then error("bad argument #1 to 'with_options' (table expected)", 2) end
  return copy(b, {options = merge(b.options, t)})
end
function B.with_name(b, name)
  if type(name) ~= "string" or name == "" then
    error("bad argument #1 to 'with_name' (name expected)", 2)
  end
  return copy(b, {name = name})
end
function B.with_message(b, topic, ...)
  if type(topic) ~= "string" then error("bad argument #1 to 'with_message' (topic expected)", 2) end
  local msgs = {}
  sync("spawn_message_room", b.messages and #b.messages or 0)  -- raises past the limit
  if b.messages then for i, m in ipairs(b.messages) do msgs[i] = m end end
  msgs[#msgs + 1] = {topic, pack(...)}
  return copy(b, {messages = msgs})
end
local function sec_data(v, kind, fname)
  local d = SEC[v]
  if d == nil or d.kind ~= kind then
    error("bad argument #1 to '" .. fname .. "' (security." .. (kind == "actor" and "Actor"
      or "Scope") .. " expected)", 3)
  end
  return d
end
core.sec_data = sec_data
function B.with_actor(b, a) return copy(b, {actor = sec_data(a, "actor", "with_actor")}) end
function B.with_scope(b, s) return copy(b, {scope = sec_data(s, "scope", "with_scope")}) end
local function bspawn(flags)
  return function(b, id, host, ...)
    return spawned(sync("spawn", flags, b, id, host, box_args(...)))
  end
end
B.spawn = bspawn(0)
B.spawn_monitored = bspawn(1)
B.spawn_linked = bspawn(2)
B.spawn_linked_monitored = bspawn(3)
function B.exec(b, id, host, ...) return command("exec", b, id, host, ...) end

function process.with_context(t) return B.with_context(builder({}), t) end
function process.with_options(t) return B.with_options(builder({}), t or {}) end

return process
