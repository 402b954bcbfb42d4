-- Talks to the cart service by its registered name and returns the totals.
local time = require("time")

local DEFAULT = {{"book", 12.5, 2}, {"coffee", 3.2, 3}, {"food", 10, 1}}

local function main(items)
  local inbox = process.inbox()
  local function ask(topic, payload)
    assert(process.send("cart", topic, payload))
    local r = channel.select{inbox:case_receive(), time.after("5s"):case_receive()}
    if r.channel ~= inbox then error("the cart did not answer") end
    return r.value:topic(), r.value:payload():data()
  end
  process.send("cart", "clear")
  for _, it in ipairs(items or DEFAULT) do
    ask("add", {item = it[1], price = it[2], qty = it[3]})
  end
  local topic, totals = ask("total")
  if topic ~= "total" then return nil, totals end
  return totals
end

return {main = main}
