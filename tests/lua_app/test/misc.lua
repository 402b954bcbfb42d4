-- uuid, errors, ctx, json, logger, payload, sandbox (run as functions).
local assert = require("assert")
local uuid = require("uuid")
local ctx = require("ctx")
local json = require("json")
local logger = require("logger")
local funcs = require("funcs")
local T = {}

local UUID = "^%x%x%x%x%x%x%x%x%-%x%x%x%x%-%x%x%x%x%-%x%x%x%x%-%x%x%x%x%x%x%x%x%x%x%x%x$"

function T.uuid()
  local a, err = uuid.v4()
  assert.no_error(err)
  assert.match(a, UUID)
  assert.neq(uuid.v4(), a)
  assert.eq(uuid.version(a), 4)
  local b = uuid.v7()
  assert.match(b, UUID)
  assert.eq(uuid.version(b), 7)
  assert.ok(uuid.parse(b).timestamp > 1700000000000, "v7 carries Unix milliseconds")
  local c = uuid.v5(uuid.NAMESPACE_DNS, "example.com")
  assert.eq(c, "cfbff0d1-9375-5685-968c-48ce8b15ae17", "v5 is deterministic (RFC 4122)")
  assert.eq(uuid.version(c), 5)
  assert.eq(uuid.variant(c), "RFC4122")
  assert.eq(uuid.validate(c), true)
  assert.eq(uuid.validate("not-a-uuid"), false)
  assert.eq(uuid.validate(42), false)
  local _, e = uuid.v5("bad namespace", "x")
  assert.is_error(e, errors.INVALID)
  assert.eq(uuid.format(c, "simple"), "cfbff0d193755685968c48ce8b15ae17")
  assert.eq(uuid.format(c, "urn"), "urn:uuid:" .. c)
  return true
end

function T.errors_module()
  assert.eq(errors.NOT_FOUND, "NotFound")
  assert.eq(errors.INVALID, "Invalid")
  local e = errors.new("plain message")
  assert.eq(e:message(), "plain message")
  assert.eq(e:kind(), errors.UNKNOWN)
  assert.is_nil(e:retryable(), "retryable unknown by default")
  assert.eq(tostring(e), "plain message")
  local t = errors.new{kind = errors.TIMEOUT, message = "slow", retryable = true, details = {ms = 5}}
  assert.eq(t:kind(), errors.TIMEOUT)
  assert.eq(t:retryable(), true)
  assert.eq(t:details().ms, 5)
  assert.ok(errors.is(t, errors.TIMEOUT))
  assert.ok(not errors.is(t, errors.INVALID))
  assert.ok(not errors.is("string", errors.TIMEOUT))
  local w = errors.wrap(t, "fetching user")
  assert.eq(w:message(), "slow", "wrap keeps the message (Wippy); the context is in the stack")
  assert.match(w:stack(), "^fetching user\n")
  assert.eq(w:kind(), errors.TIMEOUT, "wrap keeps the kind")
  assert.eq(w:retryable(), true)
  assert.raises(function() errors.new(errors.INVALID, "two args") end, "not supported")
  local ok, raised = pcall(error, t)
  assert.eq(raised, t, "error objects survive pcall")
  assert.eq("x: " .. t, "x: slow", "concatenation uses the message")
  return true
end

function T.ctx_module()
  local ex = funcs.new():with_context({user = "ada", n = 3})
  local v = ex:call("app.helpers:ctx_fn", "user")
  assert.eq(v, "ada")
  local _, err = ctx.get("")
  assert.is_error(err, errors.INVALID)
  local _, missing = ctx.get("definitely-missing")
  assert.is_error(missing, errors.NOT_FOUND)
  local all = ctx.all()
  assert.is_table(all)
  return true
end

function T.json_module()
  local s, err = json.encode({b = 1, a = {1, 2, 3}, c = "x", d = true, e = 1.5, f = {}})
  assert.no_error(err)
  assert.eq(s, '{"a":[1,2,3],"b":1,"c":"x","d":true,"e":1.5,"f":[]}')
  local v = json.decode('{"name":"ada","tags":["x","y"],"n":null,"o":{},"i":7,"f":2.5}')
  assert.eq(v.name, "ada")
  assert.deep_eq(v.tags, {"x", "y"})
  assert.is_nil(v.n)
  assert.eq(math.type(v.i), "integer")
  assert.eq(json.encode(v.o), "{}", "an empty object stays an object")
  assert.eq(json.encode(json.decode("[]")), "[]")
  local bad, derr = json.decode("{oops")
  assert.is_nil(bad)
  assert.is_error(derr, errors.INVALID)
  local _, eerr = json.encode({[1] = "a", x = "mixed"})
  assert.is_error(eerr, errors.INVALID)
  local cyc = {}
  cyc.self = cyc
  local _, cerr = json.encode(cyc)
  assert.is_error(cerr)
  assert.raises(function() json.decode(42) end)
  return true
end

function T.logger_module()
  logger:info("hello from lua", {k = "v"})
  logger:debug("debug")
  logger:warn("warn")
  logger:error("error", {code = 1})
  local child = logger:with({request = "r1"}):named("auth")
  child:info("child logger")
  assert.raises(function() logger:named("") end)
  print("print goes to the log too", 1, nil, true)
  return true
end

function T.payload_module()
  local p = payload.new({a = 1})
  assert.eq(p:data().a, 1)
  assert.eq(p:get_format(), "lua/any")
  assert.eq(p:unmarshal().a, 1)
  return true
end

function T.sandbox()
  for _, name in ipairs({"load", "loadstring", "dofile", "loadfile", "io", "debug",
                         "collectgarbage", "rawlen", "python", "package"}) do
    assert.is_nil(_G[name], name .. " is not available")
  end
  assert.is_nil(os.execute)
  assert.is_nil(os.getenv)
  assert.is_nil(string.dump)
  assert.eq(getmetatable(""), false, "the string metatable is locked")
  assert.raises(function() string.upper = nil end, "read%-only")
  -- Wippy's terminal `io` module exists, behind the entry's allow-list (not Lua's io)
  assert.raises(function() require("io") end, "not allowed")
  assert.raises(function() require("debug") end, "not found")
  assert.raises(function() require("secret_module") end, "not found")
  return true
end

return T
