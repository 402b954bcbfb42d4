-- Test runner: finds every Lua entry with meta.type = "test", runs each one and
-- reports. function.lua tests are called with funcs.call; process.lua tests run as
-- processes on app:processes (process.exec). A test passes when it returns without
-- error and does not return false.
local registry = require("registry")
local funcs = require("funcs")
local time = require("time")

local HOST = "app:processes"

local function run_test(entry)
  local ok, result, err = pcall(function()
    if entry.kind == "process.lua" then
      return process.exec(entry.id, HOST)
    end
    return funcs.call(entry.id)
  end)
  if not ok then return false, tostring(result) end
  if err ~= nil then return false, tostring(err) end
  if result == false then return false, "test returned false" end
  return true, nil
end

local function main(filter)
  local entries, err = registry.find({type = "test"})
  if err then return nil, err end
  table.sort(entries, function(a, b)
    local sa, sb = a.meta.suite or "", b.meta.suite or ""
    if sa ~= sb then return sa < sb end
    return a.id < b.id
  end)
  local passed, failed, failures, suites = 0, 0, {}, {}
  local started = time.now()
  for _, entry in ipairs(entries) do
    if filter == nil or entry.id:find(filter, 1, true) then
      local ok, why = run_test(entry)
      local suite = entry.meta.suite or "other"
      suites[suite] = suites[suite] or {passed = 0, failed = 0}
      if ok then
        passed = passed + 1
        suites[suite].passed = suites[suite].passed + 1
      else
        failed = failed + 1
        suites[suite].failed = suites[suite].failed + 1
        failures[#failures + 1] = {id = entry.id, error = why}
        print("FAIL " .. entry.id .. ": " .. why)
      end
    end
  end
  local report = {
    passed = passed,
    failed = failed,
    total = passed + failed,
    suites = suites,
    failures = failures,
    ms = time.now():sub(started):milliseconds(),
  }
  if failed > 0 then
    local lines = {}
    for _, f in ipairs(failures) do lines[#lines + 1] = f.id .. ": " .. f.error end
    return nil, errors.new{
      kind = errors.INTERNAL,
      message = failed .. " of " .. (passed + failed) .. " Lua tests failed:\n" .. table.concat(lines, "\n"),
      details = report,
    }
  end
  return report
end

return {main = main}
