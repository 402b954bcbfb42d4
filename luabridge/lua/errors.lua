-- The `errors` module (a global): structured error objects.
-- Run privileged once per runtime by beamish.luabridge._modules.install_modules, with
-- (host, kinds); returns the module table. Documented in beamish.luabridge._lib_errors.
-- Host code (beamish's own, not a script): compiled once per Python process.

local host, kinds = ...
local new_error, is_error = host.new_error, host.is_error
local type, tostring, rawget, error, setmetatable = type, tostring, rawget, error, setmetatable
local KNOWN = {}
for _, v in pairs(kinds) do KNOWN[v] = true end

local M = {}
for k, v in pairs(kinds) do M[k] = v end

local function norm_kind(kind)
  if kind == nil then return "Unknown" end
  if type(kind) ~= "string" then
    error("error kind must be a string (use errors.INVALID etc.)", 3)
  end
  if KNOWN[kind] then return kind end
  if kinds[kind] then return kinds[kind] end   -- "NOT_FOUND" -> "NotFound"
  return kind
end

function M.new(arg, extra)
  if is_error(arg) then return arg end
  if type(arg) == "string" then
    if extra ~= nil then
      error("errors.new(kind, message) is not supported; "
        .. "write errors.new{kind = errors.X, message = '...'}", 2)
    end
    return new_error("Unknown", arg, nil, nil, nil)
  end
  if type(arg) == "table" then
    local msg = rawget(arg, "message")
    if msg == nil then msg = "" end
    local retryable = rawget(arg, "retryable")
    if retryable ~= nil and type(retryable) ~= "boolean" then
      error("errors.new: 'retryable' must be a boolean", 2)
    end
    local kind = norm_kind(rawget(arg, "kind"))
    return new_error(kind, tostring(msg), retryable, rawget(arg, "details"), nil)
  end
  error("errors.new expects a message string or a table {message=, kind=, retryable=, details=}", 2)
end

function M.wrap(err, msg)
  if err == nil then return nil end
  if not is_error(err) then err = M.new(tostring(err)) end
  local message = err:message()
  if msg ~= nil and msg ~= "" then message = tostring(msg) .. ": " .. tostring(message) end
  return new_error(err:kind(), message, err:retryable(), err:details(), err:stack())
end

M["is"] = function(err, kind)
  if not is_error(err) then return false end
  return err:kind() == norm_kind(kind)
end

function M.call_stack(err)
  local frames = {}
  local stack = is_error(err) and err:stack() or nil
  if type(stack) == "string" then
    for src, line, name in stack:gmatch("\n%s*([^:\n]+):(%d+): in ([^\n]*)") do
      frames[#frames + 1] = {source = src, line = tonumber(line), name = name}
    end
  end
  return {thread = "main", frames = frames}
end

return M
