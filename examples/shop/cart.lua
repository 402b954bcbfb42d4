-- The cart service: registers a name, keeps the basket in its own state, and asks the
-- Python tax rule for totals. Messages:
--   "add"   {item, price, qty}      -> replies "added" with the number of lines
--   "total" (no payload)            -> replies "total" with {subtotal, tax, total}
--   "clear"                         -> empties the basket
local funcs = require("funcs")
local logger = require("logger")

local function main(name)
  process.registry.register(name)
  logger:info("cart ready", {name = name, pid = process.pid()})
  local lines = {}
  local inbox, events = process.inbox(), process.events()
  while true do
    local r = channel.select{events:case_receive(), inbox:case_receive()}
    if r.channel == events then
      if r.value.kind == process.event.CANCEL then return "closed" end
    else
      local msg = r.value
      local topic, data = msg:topic(), msg:payload():data()
      if topic == "add" then
        lines[#lines + 1] = {item = data.item, price = data.price, qty = data.qty or 1}
        process.send(msg:from(), "added", #lines)
      elseif topic == "total" then
        local totals, err = funcs.call("shop:tax", lines)
        if err then
          process.send(msg:from(), "error", err:message())
        else
          process.send(msg:from(), "total", totals)
        end
      elseif topic == "clear" then
        lines = {}
      end
    end
  end
end

return {main = main}
