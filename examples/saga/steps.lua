-- The saga's steps: plain functions. Called from the workflow they run as activities
-- (their results are recorded; a retryable error is retried by the activity policy).

local function reserve_inventory(item, qty)
  if qty <= 0 then
    return nil, errors.new{kind = errors.INVALID, message = "quantity must be positive", retryable = false}
  end
  return "res-" .. item .. "-" .. qty
end

local function release_inventory(reservation)
  return "released " .. reservation
end

local function charge_payment(order_id, amount)
  if amount > 1000 then
    return nil, errors.new{kind = errors.PERMISSION_DENIED, message = "amount over the limit", retryable = false}
  end
  return "pay-" .. order_id
end

local function refund_payment(payment)
  return "refunded " .. payment
end

local function ship_order(order_id, address)
  if address == nil or address == "" then
    return nil, errors.new{kind = errors.INVALID, message = "no shipping address", retryable = false}
  end
  return "ship-" .. order_id
end

return {
  reserve_inventory = reserve_inventory,
  release_inventory = release_inventory,
  charge_payment = charge_payment,
  refund_payment = refund_payment,
  ship_order = ship_order,
}
