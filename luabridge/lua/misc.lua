-- The small modules `uuid`, `ctx`, `json`, `logger` and `registry`, in one chunk.
-- Registered lazily by beamish.luabridge._modules.install_modules and run privileged on
-- the first require of any of them, with (core, callbacks); returns {name = module}.
-- Documented in beamish.luabridge._lib_misc.
-- Host code (beamish's own, not a script): compiled once per Python process.

local core, H = ...
local command = core.command
local sync = core.sync
local type, error, setmetatable, tostring = type, error, setmetatable, tostring

local function invalid(msg, kind)
  return errors.new{kind = kind or errors.INVALID, message = msg, retryable = false}
end
local function wrap(ok, a, b)  -- a Python helper's (value) | (nil, message) -> value, err
  if a == nil and b ~= nil then return nil, invalid(b) end
  return a, nil
end

-- uuid ---------------------------------------------------------------------------------
local uuid = {}
function uuid.v4() return sync("uuid4"), nil end
function uuid.v7() return sync("uuid7"), nil end
function uuid.v5(ns, name)
  if type(ns) ~= "string" or type(name) ~= "string" then
    return nil, invalid("uuid.v5 expects a namespace UUID and a name")
  end
  return wrap(true, H.uuid_named(5, ns, name))
end
function uuid.v3(ns, name)
  if type(ns) ~= "string" or type(name) ~= "string" then
    return nil, invalid("uuid.v3 expects a namespace UUID and a name")
  end
  return wrap(true, H.uuid_named(3, ns, name))
end
function uuid.validate(x) return type(x) == "string" and H.uuid_valid(x) end
function uuid.version(x)
  if type(x) ~= "string" then return nil, invalid("uuid expected") end
  return wrap(true, H.uuid_version(x))
end
function uuid.variant(x)
  if type(x) ~= "string" then return nil, invalid("uuid expected") end
  return wrap(true, H.uuid_variant(x))
end
function uuid.parse(x)
  if type(x) ~= "string" then return nil, invalid("uuid expected") end
  local version, variant, ts = H.uuid_parse(x)
  if version == nil then return nil, invalid(variant) end
  return {version = version, variant = variant, timestamp = ts}, nil
end
function uuid.format(x, fmt)
  if type(x) ~= "string" then return nil, invalid("uuid expected") end
  return wrap(true, H.uuid_format(x, fmt or "standard"))
end
uuid.NAMESPACE_DNS = "6ba7b810-9dad-11d1-80b4-00c04fd430c8"
uuid.NAMESPACE_URL = "6ba7b811-9dad-11d1-80b4-00c04fd430c8"
uuid.NAMESPACE_OID = "6ba7b812-9dad-11d1-80b4-00c04fd430c8"
uuid.NAMESPACE_X500 = "6ba7b814-9dad-11d1-80b4-00c04fd430c8"

-- ctx ----------------------------------------------------------------------------------
local ctx = {}
function ctx.get(key)
  if type(key) ~= "string" or key == "" then
    return nil, invalid("context key must be a non-empty string")
  end
  local found, value = sync("ctx_get", key)
  if not found then
    return nil, invalid("context value '" .. key .. "' not found", errors.NOT_FOUND)
  end
  return value, nil
end
function ctx.all() return sync("ctx_all"), nil end

-- json ---------------------------------------------------------------------------------
local json = {}
function json.encode(v)
  local s, err = H.json_encode(v)
  if s == nil then return nil, invalid(err) end
  return s, nil
end
function json.decode(s)
  if type(s) ~= "string" then error("bad argument #1 to 'decode' (string expected)", 2) end
  if s == "" then error("bad argument #1 to 'decode' (empty string is not valid JSON)", 2) end
  local ok, v = H.json_decode(s)
  if not ok then return nil, invalid(v) end
  return v, nil
end

-- logger -------------------------------------------------------------------------------
local LG = {}
local LG_MT = {__index = LG, __metatable = "logger"}
local function new_logger(name, fields)
  return setmetatable({name = name, fields = fields}, LG_MT)
end
local merged = core.merge
local ROOT
local function emit(level)
  return function(self, msg, fields)
    if type(self) ~= "table" then  -- logger.info("x") without the colon
      self, msg, fields = ROOT, self, msg
    end
    local extra = merged(self.fields, type(fields) == "table" and fields or nil)
    H.log(level, self.name, tostring(msg), extra)
  end
end
LG.debug = emit("debug")
LG.info = emit("info")
LG.warn = emit("warn")
LG.error = emit("error")
function LG.with(self, fields) return new_logger(self.name, merged(self.fields, fields)) end
function LG.named(self, name)
  if type(name) ~= "string" or name == "" then
    error(invalid("logger name must not be empty"), 2)
  end
  return new_logger(self.name and (self.name .. "." .. name) or name, self.fields)
end
local logger = new_logger(nil, nil)
ROOT = logger

-- registry (read-only view of the Lua entries) --------------------------------------------
local registry = {}
function registry.find(criteria)
  if criteria ~= nil and type(criteria) ~= "table" then
    return nil, invalid("registry.find expects a table of criteria")
  end
  return H.registry_find(criteria or {}), nil
end
function registry.get(id)
  if type(id) ~= "string" then return nil, invalid("entry ID expected") end
  local e = H.registry_get(id)
  if e == nil then return nil, invalid("entry '" .. id .. "' not found", errors.NOT_FOUND) end
  return e, nil
end

return {uuid = uuid, ctx = ctx, json = json, logger = logger, registry = registry}
