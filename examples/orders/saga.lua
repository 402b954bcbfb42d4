-- The order saga, a durable workflow: reserve -> charge -> ship. Every funcs.call here
-- is a Temporal activity recorded in history, so a crash resumes where it stopped. When
-- a step fails, the steps already done are undone in reverse order (compensation).
local funcs = require("funcs")

local function main(order)
  local done, undone = {}, {}

  local function compensate(step, err)
    for i = #done, 1, -1 do
      funcs.call(done[i][1], done[i][2])
      undone[#undone + 1] = done[i][1]
    end
    return {status = "compensated", step = step, error = err:message(), compensated = undone}
  end

  local reservation, err = funcs.call("orders:reserve", order)
  if err then return compensate("reserve", err) end
  done[#done + 1] = {"orders:release", reservation}

  local amount
  amount, err = funcs.call("orders:price", order)   -- the shared function, as an activity
  if err then return compensate("price", err) end

  local payment
  payment, err = funcs.call("orders:charge", order, amount)
  if err then return compensate("charge", err) end
  done[#done + 1] = {"orders:refund", payment}

  local shipment
  shipment, err = funcs.call("orders:ship", order)
  if err then return compensate("ship", err) end

  return {status = "shipped", tracking = shipment.tracking, amount = amount}
end

return {main = main}
