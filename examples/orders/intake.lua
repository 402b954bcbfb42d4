-- The intake service: receives orders, prices them with the shared function, has a
-- checker from the supervised pool vet them, then starts one durable saga workflow per
-- accepted order and reports how each one ends (it monitors the workflow).
local funcs = require("funcs")
local logger = require("logger")

local function main(checkers)
  process.registry.register("intake")
  local log = logger:named("orders.intake")
  local inbox, events = process.inbox(), process.events()
  local sagas = {}            -- workflow pid -> order id
  local next_checker = 0
  local expected = nil
  local stats = {received = 0, rejected = 0, shipped = 0, compensated = 0, failed = 0}

  local function settled()
    return stats.rejected + stats.shipped + stats.compensated + stats.failed
  end

  local function report_if_done()
    if expected and settled() == expected then
      log:info(string.format("all %d orders settled", expected), stats)
    end
  end

  local function dispatch(order)
    for _ = 1, #checkers do
      next_checker = next_checker % #checkers + 1
      local ok = process.send(checkers[next_checker], "check", order)
      if ok then return true end   -- a checker that is restarting is skipped
    end
    return false
  end

  log:info("ready", {checkers = #checkers})
  while true do
    local r = channel.select{events:case_receive(), inbox:case_receive()}
    if r.channel == events then
      local ev = r.value
      if ev.kind == process.event.CANCEL then
        log:info("stopping", stats)
        return stats
      elseif ev.kind == process.event.EXIT and sagas[ev.from] then
        local id = sagas[ev.from]
        sagas[ev.from] = nil
        local out = ev.result.value
        if ev.result.error then
          stats.failed = stats.failed + 1
          log:error("saga failed", {order = id, error = ev.result.error:message()})
        elseif out.status == "shipped" then
          stats.shipped = stats.shipped + 1
          log:info("order shipped", {order = id, tracking = out.tracking, paid = out.amount})
        else
          stats.compensated = stats.compensated + 1
          log:warn("order compensated", {order = id, failed_step = out.step,
                   reason = out.error, undone = table.concat(out.compensated, " then ")})
        end
        report_if_done()
      end
    else
      local msg = r.value
      local topic, data = msg:topic(), msg:payload():data()
      if topic == "expect" then
        expected = data
      elseif topic == "order" then
        stats.received = stats.received + 1
        local total, err = funcs.call("orders:price", data)
        if err then
          stats.failed = stats.failed + 1
          log:error("cannot price order", {order = data.id, error = err:message()})
        else
          data.total = total
          log:info("order received", {order = data.id, total = total})
          if not dispatch(data) then
            stats.failed = stats.failed + 1
            log:error("no checker available", {order = data.id})
          end
        end
      elseif topic == "checked" then
        local order = data.order
        if data.ok then
          local pid, err = process.spawn_monitored("orders:saga", "orders:worker", order)
          if err then
            stats.failed = stats.failed + 1
            log:error("cannot start saga", {order = order.id, error = err:message()})
          else
            sagas[pid] = order.id
            log:info("saga started", {order = order.id, checked_by = data.by, workflow = pid})
          end
        else
          stats.rejected = stats.rejected + 1
          log:warn("order rejected", {order = order.id, checked_by = data.by, reason = data.reason})
        end
        report_if_done()
      end
    end
  end
end

return {main = main}
