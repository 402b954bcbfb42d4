-- A saga: run each step; on failure, undo the finished steps in reverse order.
local funcs = require("funcs")

local function main(order)
  local compensations = {}   -- stack of {function_id, argument}
  local undone = {}

  local function compensate()
    for i = #compensations, 1, -1 do
      local c = compensations[i]
      local _, err = funcs.call(c[1], c[2])
      undone[#undone + 1] = err and (c[1] .. " failed: " .. err:message()) or c[1]
    end
  end

  local reservation, err = funcs.call("saga:reserve_inventory", order.item, order.qty)
  if err then
    return {status = "failed", step = "reserve_inventory", error = err:message(), compensated = undone}
  end
  compensations[#compensations + 1] = {"saga:release_inventory", reservation}

  local payment
  payment, err = funcs.call("saga:charge_payment", order.id, order.amount)
  if err then
    compensate()
    return {status = "failed", step = "charge_payment", error = err:message(), compensated = undone}
  end
  compensations[#compensations + 1] = {"saga:refund_payment", payment}

  local shipment
  shipment, err = funcs.call("saga:ship_order", order.id, order.address)
  if err then
    compensate()
    return {status = "failed", step = "ship_order", error = err:message(),
            kind = err:kind(), compensated = undone}
  end

  return {status = "completed", reservation = reservation, payment = payment, shipment = shipment}
end

return { main = main }
