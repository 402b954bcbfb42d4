-- Assertions for the acceptance tests; each raises with the caller's line.
local M = {}

local function show(v, depth)
  depth = depth or 0
  if type(v) == "string" then return string.format("%q", v) end
  if type(v) ~= "table" or depth > 2 then return tostring(v) end
  if getmetatable(v) == "error" then return "error(" .. tostring(v:kind()) .. ": " .. tostring(v:message()) .. ")" end
  local parts = {}
  for k, x in pairs(v) do parts[#parts + 1] = tostring(k) .. "=" .. show(x, depth + 1) end
  table.sort(parts)
  return "{" .. table.concat(parts, ", ") .. "}"
end
M.show = show

local function fail(msg, what) error((msg and (msg .. ": ") or "") .. what, 3) end

function M.eq(actual, expected, msg)
  if actual ~= expected then fail(msg, "expected " .. show(expected) .. ", got " .. show(actual)) end
end
function M.neq(actual, other, msg)
  if actual == other then fail(msg, "expected something other than " .. show(other)) end
end
function M.ok(v, msg) if not v then fail(msg, "expected a true value, got " .. show(v)) end end
function M.is_nil(v, msg) if v ~= nil then fail(msg, "expected nil, got " .. show(v)) end end
function M.not_nil(v, msg) if v == nil then fail(msg, "expected a value, got nil") end end
function M.is_table(v, msg) if type(v) ~= "table" then fail(msg, "expected a table, got " .. type(v)) end end
function M.type(v, t, msg) if type(v) ~= t then fail(msg, "expected a " .. t .. ", got " .. type(v)) end end
function M.match(s, pattern, msg)
  if type(s) ~= "string" or not s:find(pattern) then fail(msg, show(s) .. " does not match " .. show(pattern)) end
end

local function deep_eq(a, b)
  if type(a) ~= type(b) then return false end
  if type(a) == "number" then return a == b and math.type(a) == math.type(b) end
  if type(a) ~= "table" then return a == b end
  for k, v in pairs(a) do if not deep_eq(v, b[k]) then return false end end
  for k in pairs(b) do if a[k] == nil then return false end end
  return true
end
M.deep_eq_values = deep_eq
function M.deep_eq(actual, expected, msg)
  if not deep_eq(actual, expected) then fail(msg, "expected " .. show(expected) .. ", got " .. show(actual)) end
end

function M.no_error(err, msg) if err ~= nil then fail(msg, "unexpected error " .. show(err)) end end
function M.is_error(err, kind, msg)
  -- error values are "userdata" to scripts, as in Wippy
  if type(err) ~= "userdata" or getmetatable(err) ~= "error" then fail(msg, "expected an error object, got " .. show(err)) end
  if kind ~= nil and err:kind() ~= kind then fail(msg, "expected error kind " .. kind .. ", got " .. show(err)) end
end
function M.raises(fn, pattern, msg)
  local ok, err = pcall(fn)
  if ok then fail(msg, "expected an error") end
  if pattern and not tostring(err):find(pattern) then
    fail(msg, "error " .. show(tostring(err)) .. " does not match " .. show(pattern))
  end
  return err
end

return M
