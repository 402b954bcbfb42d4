-- Helper processes for the acceptance tests.
local M = {}

function M.add(a, b) return a + b end

function M.crash(msg)
  error(errors.new{kind = errors.UNAVAILABLE, message = msg or "crashed on purpose", retryable = true})
end

function M.fail_return(msg) return nil, msg or "failed by return" end

function M.value_false() return 42, false end

-- Replies to every message with the same topic and payload; "stop" ends it.
function M.echo()
  local inbox = process.inbox()
  while true do
    local msg = inbox:receive()
    if msg:topic() == "stop" then return "stopped" end
    process.send(msg:from(), msg:topic(), msg:payload():data())
  end
end

-- Waits for a CANCEL event and returns its reason.
function M.wait_cancel(reply_to)
  local events = process.events()
  if reply_to then process.send(reply_to, "ready", process.pid()) end
  while true do
    local ev = events:receive()
    if ev.kind == process.event.CANCEL then return "cancelled: " .. ev.reason end
  end
end

function M.sleeper(ms)
  local time = require("time")
  time.sleep((ms or 60000) * time.MILLISECOND)
  return "slept"
end

-- Links to a crashing process without trapping: dies with "linked process failed".
function M.linker(reply_to)
  local time = require("time")
  local pid = process.spawn_linked("app.helpers:crash", "app:processes", "boom")
  process.send(reply_to, "linked", pid)
  time.sleep("10s")
  return "should not get here"
end

-- Returns a context value and the first inbox message (startup messages arrive first).
function M.ctx_echo()
  local ctx = require("ctx")
  local v = ctx.get("tenant")
  local msg = process.inbox():receive()
  return {tenant = v, topic = msg:topic(), data = msg:payload():data()}
end

-- Receives a table, changes it, and sends it back: the sender's copy must not change.
function M.mutate_echo()
  local msg = process.inbox():receive()
  local t = msg:payload():data()
  t.changed = true
  t.list[1] = "mutated"
  process.send(msg:from(), "back", t)
  return true
end

-- Forwards every message (topic and payload) to `target`; "stop" ends it.
function M.relay(target)
  local inbox = process.inbox()
  while true do
    local msg = inbox:receive()
    if msg:topic() == "stop" then return "stopped" end
    process.send(target, msg:topic(), msg:payload():data())
  end
end

return M
