-- funcs module: Lua -> Lua, Lua -> Python, Python -> Lua (run as functions).
local assert = require("assert")
local funcs = require("funcs")
local time = require("time")
local T = {}

function T.call_lua()
  local v, err = funcs.call("app.helpers:add_fn", 2, 3)
  assert.no_error(err)
  assert.eq(v, 5)
  v = funcs.call("app.helpers:add_fn", 1.5, 1)
  assert.eq(v, 2.5)
  assert.eq(math.type(funcs.call("app.helpers:add_fn", 1, 1)), "integer", "integers stay integers")
  return true
end

function T.call_errors()
  local v, err = funcs.call("app.helpers:fail_fn", "gone")
  assert.is_nil(v)
  assert.is_error(err, errors.NOT_FOUND)
  assert.eq(err:message(), "gone")
  assert.eq(err:retryable(), false)
  v, err = funcs.call("app.helpers:raise_fn", "kaput")
  assert.is_error(err)
  assert.eq(err:message(), "kaput")
  v, err = funcs.call("app.helpers:nope")
  assert.is_error(err, errors.NOT_FOUND)
  v, err = funcs.call("not-an-id")
  assert.is_error(err, errors.INVALID)
  return true
end

function T.async_future()
  local f, err = funcs.async("app.helpers:slow_fn", 20)
  assert.no_error(err)
  assert.eq(f:is_complete(), false)
  local v, e = f:result()
  assert.is_nil(v, "result() does not block")
  assert.is_nil(e)
  local p = f:channel():receive()
  assert.eq(p:data(), "done")
  assert.eq(f:is_complete(), true)
  local payload = f:result()
  assert.eq(payload:data(), "done")
  local e2, has = f:error()
  assert.eq(has, false)
  local bad = funcs.async("app.helpers:fail_fn", "x")
  bad:response():receive()
  local rv, rerr = bad:result()
  assert.is_error(rerr, errors.NOT_FOUND)
  local ferr, fhas = bad:error()
  assert.eq(fhas, true)
  local _, unknown = funcs.async("app.helpers:missing")
  assert.is_error(unknown, errors.NOT_FOUND)
  return true
end

function T.future_channel_and_cancel()
  local f = funcs.async("app.helpers:slow_fn", 5000)
  assert.eq(f:cancel(), true)
  assert.eq(f:is_canceled(), true)
  local _, err = f:result()
  assert.is_error(err, errors.CANCELED)
  local quick = funcs.async("app.helpers:add_fn", 1, 2)
  local r = channel.select{quick:channel():case_receive(), time.after("2s"):case_receive()}
  assert.eq(r.channel, quick:channel())
  assert.eq(r.value:data(), 3)
  local ok, cerr = quick:cancel()
  assert.eq(ok, false, "a finished call cannot be cancelled")
  return true
end

function T.executor_context()
  local ex = funcs.new():with_context({tenant = "acme"})
  assert.eq(ex:call("app.helpers:ctx_fn", "tenant"), "acme")
  local ex2 = ex:with_context({tenant = "other", extra = 1})
  assert.eq(ex2:call("app.helpers:ctx_fn", "tenant"), "other", "explicit values win")
  assert.eq(ex:call("app.helpers:ctx_fn", "tenant"), "acme", "executors are immutable")
  local _, err = funcs.call("app.helpers:ctx_fn", "tenant")
  assert.is_error(err, errors.NOT_FOUND, "no context value without with_context")
  local f = ex2:async("app.helpers:ctx_fn", "extra")
  assert.eq(f:channel():receive():data(), 1)
  return true
end

function T.executor_timeout()
  local ex = funcs.new():with_options({timeout = 30})
  local v, err = ex:call("app.helpers:slow_fn", 5000)
  assert.is_nil(v)
  assert.is_error(err, errors.TIMEOUT)
  v, err = ex:call("app.helpers:slow_fn", 1)
  assert.eq(v, "done")
  return true
end

function T.call_python()
  assert.eq(funcs.call("app.py:double", 21), 42)
  assert.eq(funcs.call("app.py:double", "ab"), "abab")
  local v, err = funcs.call("app.py:fail", "conflict!")
  assert.is_error(err, errors.CONFLICT)
  assert.eq(funcs.call("app.helpers:call_python_fn", 4), 8, "Lua -> Lua -> Python")
  return true
end

function T.python_calls_lua()
  local v, err = funcs.call("app.py:call_lua", 20, 22)
  assert.no_error(err)
  assert.eq(v, 42, "Lua -> Python -> Lua")
  return true
end

function T.pool_keeps_globals()
  local a = funcs.call("app.helpers:counter_fn")
  local b = funcs.call("app.helpers:counter_fn")
  assert.eq(b, a + 1, "a pooled function worker keeps its globals")
  return true
end

return T
