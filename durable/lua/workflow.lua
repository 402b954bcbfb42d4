-- The `workflow` module (require("workflow")) of Lua workflows run on Temporal.
-- Registered lazily by beamish.durable._lua.install_workflow_module and run privileged
-- on its first require, with (core); returns the module. Documented in
-- beamish.durable._lua.
-- Host code (beamish's own, not a script): compiled once per Python process.

local core = ...
local command = core.command
local workflow = {}
function workflow.info() return command("wf_info") end
function workflow.exec(id, ...) return command("wf_exec", id, ...) end
workflow.execute = workflow.exec
function workflow.version(change_id, min, max) return command("wf_version", change_id, min, max) end
function workflow.attrs(t) return command("wf_attrs", t) end
function workflow.history_length() return command("wf_history", "history_length") end
function workflow.history_size() return command("wf_history", "history_size") end
return workflow
