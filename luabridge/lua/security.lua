-- The `security` module (require("security")): the actor and scope a process runs as.
-- Registered lazily by beamish.luabridge._modules.install_modules and run privileged on
-- its first require, with (core); returns the module. Documented (including what is
-- enforced: nothing) in beamish.luabridge._lib_security.
-- Host code (beamish's own, not a script): compiled once per Python process.

local core = ...
local sync = core.sync
local SEC = core.SECURITY   -- object -> its plain data (weak keys), shared with process/funcs
local type, error, setmetatable, tostring = type, error, setmetatable, tostring

local function fail(msg, kind)
  return errors.new{kind = kind or errors.INTERNAL, message = msg, retryable = false}
end

-- Actor --------------------------------------------------------------------------------
local A = {}
local A_MT = {__index = A, __metatable = "security.Actor",
              __tostring = function(a) return "security.Actor(" .. SEC[a].id .. ")" end}
local function wrap_actor(data)
  local a = setmetatable({}, A_MT)
  SEC[a] = data
  return a
end
local function actor_data(a, fname)
  local d = SEC[a]
  if d == nil or d.kind ~= "actor" then
    error("bad argument #1 to '" .. fname .. "' (security.Actor expected)", 3)
  end
  return d
end
function A.id(a) return actor_data(a, "id").id end
function A.meta(a) return sync("security_copy", actor_data(a, "meta").meta) end

-- Policy: beamish has no policy entries, so no Policy object ever exists; scopes hold
-- policy IDs only so that `contains`/`without` answer consistently.
-- Scope --------------------------------------------------------------------------------
local S = {}
local S_MT = {__index = S, __metatable = "security.Scope"}
local function wrap_scope(data)
  local s = setmetatable({}, S_MT)
  SEC[s] = data
  return s
end
local function scope_data(s, fname)
  local d = SEC[s]
  if d == nil or d.kind ~= "scope" then
    error("bad argument #1 to '" .. fname .. "' (security.Scope expected)", 3)
  end
  return d
end
function S.policies(s)
  scope_data(s, "policies")
  return {}
end
function S.contains(s, _)
  scope_data(s, "contains")
  return false
end
function S.without(s, _)
  scope_data(s, "without")
  return s
end
function S.with(s, p)
  scope_data(s, "with")
  error("bad argument #1 to 'with' (security.Policy expected, got " .. type(p) .. ")", 2)
end
function S.evaluate(s, actor, action, resource)
  scope_data(s, "evaluate")
  actor_data(actor, "evaluate")
  if type(action) ~= "string" then error("bad argument #2 to 'evaluate' (string expected)", 2) end
  if type(resource) ~= "string" then error("bad argument #3 to 'evaluate' (string expected)", 2) end
  return "undefined"
end

-- module -------------------------------------------------------------------------------
local security = {}
function security.actor()
  local a = sync("security_get", "actor")
  if a == nil then return nil end
  return wrap_actor(a)
end
function security.scope()
  local s = sync("security_get", "scope")
  if s == nil then return nil end
  return wrap_scope(s)
end
function security.can(action, resource)
  if type(action) ~= "string" then error("bad argument #1 to 'can' (string expected)", 2) end
  if type(resource) ~= "string" then error("bad argument #2 to 'can' (string expected)", 2) end
  return false  -- no policy can allow anything: every scope is empty
end
function security.new_actor(id, meta)
  if type(id) ~= "string" then error("bad argument #1 to 'new_actor' (string expected)", 2) end
  if meta ~= nil and type(meta) ~= "table" then
    error("bad argument #2 to 'new_actor' (table expected)", 2)
  end
  return wrap_actor({kind = "actor", id = id, meta = sync("security_copy", meta or {})})
end
function security.new_scope(policies)
  if policies ~= nil and type(policies) ~= "table" then
    error("bad argument #1 to 'new_scope' (table expected)", 2)
  end
  return wrap_scope({kind = "scope"})  -- non-policies are ignored; no policies exist
end
function security.policy(id)
  if type(id) ~= "string" then error("bad argument #1 to 'policy' (string expected)", 2) end
  return nil, fail("policy '" .. id .. "' not found: beamish has no security policies")
end
function security.named_scope(id)
  if type(id) ~= "string" then error("bad argument #1 to 'named_scope' (string expected)", 2) end
  return nil, fail("policy group '" .. id .. "' not found: beamish has no security policies")
end
function security.token_store(id)
  if type(id) ~= "string" or id == "" then
    return nil, fail("token store id required", errors.INVALID)
  end
  return nil, fail("token store '" .. tostring(id) .. "' not found: beamish has no token stores")
end

return security
