-- Wait for a decision on a request: "approve" or "reject" (from anyone who knows the
-- workflow's PID), or expire when the deadline passes.
local time = require("time")

local function main(request)
  local inbox = process.inbox()
  local deadline = time.after(request.timeout or "24h")
  while true do
    local r = channel.select{ inbox:case_receive(), deadline:case_receive() }
    if r.channel == deadline then
      return {status = "expired", document = request.document}
    end
    local msg = r.value
    local decision = msg:payload():data() or {}
    if msg:topic() == "approve" then
      return {status = "approved", by = decision.by, document = request.document}
    elseif msg:topic() == "reject" then
      return {status = "rejected", by = decision.by, reason = decision.reason,
              document = request.document}
    end
    -- anything else is ignored: keep waiting
  end
end

return { main = main }
