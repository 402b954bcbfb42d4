-- Helper functions for the acceptance tests.
local M = {}

function M.add(a, b) return a + b end

function M.fail(msg)
  return nil, errors.new{kind = errors.NOT_FOUND, message = msg or "nothing here", retryable = false}
end

function M.raise(msg) error(msg or "raised", 0) end

function M.slow(ms)
  local time = require("time")
  time.sleep(ms * time.MILLISECOND)
  return "done"
end

function M.ctx_value(key)
  local ctx = require("ctx")
  local v, err = ctx.get(key)
  if err then return nil, err end
  return v
end

-- Pooled function workers keep their globals between calls, like Wippy's pools.
calls = 0
function M.counter()
  calls = calls + 1
  return calls
end

function M.call_python(x)
  local funcs = require("funcs")
  return funcs.call("app.py:double", x)
end

return M
