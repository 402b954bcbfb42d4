-- An ordinary process that files a request and decides on it: spawn the workflow on
-- the temporal.worker host (a durable spawn), send the decision, wait for its EXIT.
local function main(decision)
  local pid, err = process.spawn_monitored("approval:request", "approval:worker",
    {document = "budget-2025.xlsx", timeout = "1s"})
  if err then return nil, err end
  process.send(pid, "comment", "ignored by the workflow")
  if decision == "approve" then
    process.send(pid, "approve", {by = "alice"})
  elseif decision == "reject" then
    process.send(pid, "reject", {by = "bob", reason = "over budget"})
  end
  local ev = process.events():receive()
  if ev.result.error then return nil, ev.result.error end
  return ev.result.value
end

return { main = main }
