-- The `funcs` module (require("funcs")): calling functions by entry ID, futures.
-- Registered lazily by beamish.luabridge._modules.install_modules and run privileged on
-- its first require, with (core); returns the module. Documented in
-- beamish.luabridge._lib_funcs.
-- Host code (beamish's own, not a script): compiled once per Python process.

local core = ...
local command = core.command
local sync = core.sync
local type, error, setmetatable, pairs = type, error, setmetatable, pairs

local funcs = {}
function funcs.call(id, ...) return command("call", nil, id, ...) end
function funcs.async(id, ...)
  local h, err = sync("call_async", nil, id, ...)
  if h == nil then return nil, err end
  return core.new_future(h)
end

local EX = {}
local EX_MT = {__index = EX, __metatable = "executor"}
local merge = core.merge
function funcs.new() return setmetatable({}, EX_MT) end
local function ex_copy(ex, changes)
  local f = {context = ex.context, options = ex.options, actor = ex.actor, scope = ex.scope}
  for k, v in pairs(changes) do f[k] = v end
  return setmetatable(f, EX_MT)
end
function EX.with_context(ex, t)
  if type(t) ~= "table" then error("bad argument #1 to 'with_context' (table expected)", 2) end
  return ex_copy(ex, {context = merge(ex.context, t)})
end
function EX.with_options(ex, t)
  if type(t) ~= "table" then error("bad argument #1 to 'with_options' (table expected)", 2) end
  return ex_copy(ex, {options = merge(ex.options, t)})
end
local sec_data = core.sec_data
function EX.with_actor(ex, a) return ex_copy(ex, {actor = sec_data(a, "actor", "with_actor")}) end
function EX.with_scope(ex, s) return ex_copy(ex, {scope = sec_data(s, "scope", "with_scope")}) end
function EX.call(ex, id, ...) return command("call", ex, id, ...) end
function EX.async(ex, id, ...)
  local h, err = sync("call_async", ex, id, ...)
  if h == nil then return nil, err end
  return core.new_future(h)
end

-- futures
local HANDLE = setmetatable({}, {__mode = "k"})
local F = {}
local F_MT = {__index = F, __metatable = "future"}
function core.new_future(h)
  local f = setmetatable({}, F_MT)
  HANDLE[f] = h
  return f
end
local function fh(f)
  local h = HANDLE[f]
  if h == nil then error("future expected", 3) end
  return h
end
function F.response(f) return sync("future_channel", fh(f)) end
F.channel = F.response
function F.is_complete(f) return sync("future_state", fh(f), "complete") end
function F.is_canceled(f) return sync("future_state", fh(f), "canceled") end
function F.result(f)
  local done, value, err = sync("future_result", fh(f))
  if not done then return nil, nil end
  if err ~= nil then return nil, err end
  return core.new_payload(value), nil
end
function F.error(f)
  local done, value, err = sync("future_result", fh(f))
  if done and err ~= nil then return err, true end
  return nil, false
end
function F.cancel(f) return sync("future_cancel", fh(f)) end

return funcs
