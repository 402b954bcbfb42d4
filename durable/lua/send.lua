-- process.send in a Lua workflow waits for a signal's outcome, as Wippy's does: a
-- signal to a workflow that does not exist is `nil, err` (NOT_FOUND) in the sender,
-- not only a log line. A local send returns at once (wf_sent says true). Run privileged once per workflow sandbox by
-- beamish.durable._lua.new_workflow_sandbox, with (core, process): the real module
-- table, which is then installed again so scripts see the new function.
-- Host code (beamish's own, not a script): compiled once per Python process.

local core, process = ...
local command, send = core.command, process.send

local function confirmed_send(...)
  local ok, err = send(...)  -- a programming error raises here, as before
  if ok then return command("wf_sent") end
  return ok, err
end

process.send = confirmed_send
return process
