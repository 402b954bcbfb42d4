-- channel module, select and coroutine.spawn (run as functions).
local assert = require("assert")
local time = require("time")
local T = {}

function T.unbuffered_rendezvous()
  local ch = channel.new()
  local order = {}
  coroutine.spawn(function()
    order[#order + 1] = "send start"
    ch:send("hello")
    order[#order + 1] = "send done"
  end)
  local v, ok = ch:receive()
  assert.eq(v, "hello")
  assert.eq(ok, true)
  assert.eq(order[1], "send start", "the sender ran first and blocked until received")
  return true
end

function T.buffered_fifo()
  local ch = channel.new(3)
  assert.eq(ch:send(1), true)
  ch:send(2)
  ch:send({k = "v"})
  assert.eq(ch:receive(), 1)
  assert.eq(ch:receive(), 2)
  local t = ch:receive()
  assert.eq(t.k, "v", "tables pass by reference inside a process")
  -- a full buffer blocks the sender until a receiver makes room
  local full = channel.new(1)
  full:send("a")
  local done = channel.new(1)
  coroutine.spawn(function() full:send("b") done:send(true) end)
  assert.eq(full:receive(), "a")
  assert.eq(full:receive(), "b")
  assert.eq(done:receive(), true)
  return true
end

function T.close_semantics()
  local ch = channel.new(2)
  ch:send("x")
  ch:close()
  ch:close() -- idempotent
  local v, ok = ch:receive()
  assert.eq(v, "x", "buffered values stay receivable after close")
  assert.eq(ok, true)
  v, ok = ch:receive()
  assert.is_nil(v)
  assert.eq(ok, false)
  assert.raises(function() ch:send("y") end, "closed")
  -- blocked receivers wake with nil, false; blocked senders fail
  local rx, tx = channel.new(), channel.new()
  local got = channel.new(2)
  coroutine.spawn(function() local v, ok = rx:receive() got:send({"recv", ok}) end)
  coroutine.spawn(function() local ok = pcall(tx.send, tx, 1) got:send({"send", ok}) end)
  time.sleep(0)
  rx:close()
  tx:close()
  local seen = {}
  for _ = 1, 2 do local r = got:receive() seen[r[1]] = r[2] end
  assert.eq(seen.recv, false, "a blocked receiver wakes with ok = false")
  assert.eq(seen.send, false, "a blocked sender gets an error")
  return true
end

function T.select_ready_and_default()
  local ch1, ch2 = channel.new(1), channel.new(1)
  local r = channel.select{ch1:case_receive(), ch2:case_receive(), default = true}
  assert.eq(r.default, true)
  assert.eq(r.ok, true)
  ch2:send("two")
  r = channel.select{ch1:case_receive(), ch2:case_receive(), default = true}
  assert.eq(r.channel, ch2)
  assert.eq(r.value, "two")
  assert.eq(r.ok, true)
  assert.is_nil(r.default)
  ch1:send("one")
  ch2:send("two")
  r = channel.select{ch1:case_receive(), ch2:case_receive()}
  assert.eq(r.channel, ch1, "the first ready case wins, in order")
  return true
end

function T.select_send_and_closed()
  local out = channel.new(1)
  local r = channel.select{out:case_send("v")}
  assert.eq(r.channel, out)
  assert.eq(r.ok, true)
  assert.eq(out:receive(), "v")
  local closed = channel.new()
  closed:close()
  r = channel.select{closed:case_receive()}
  assert.eq(r.channel, closed)
  assert.eq(r.ok, false)
  -- a blocked select is woken by another coroutine
  local a, b = channel.new(), channel.new()
  coroutine.spawn(function() b:send(7) end)
  r = channel.select{a:case_receive(), b:case_receive()}
  assert.eq(r.channel, b)
  assert.eq(r.value, 7)
  assert.raises(function() channel.select{"not a case"} end)
  return true
end

function T.select_with_timeout()
  local never = channel.new()
  local timeout = time.after("20ms")
  local r = channel.select{never:case_receive(), timeout:case_receive()}
  assert.eq(r.channel, timeout)
  assert.eq(getmetatable(r.value), "time", "time.after delivers a Time")
  return true
end

function T.fan_in()
  local out = channel.new()
  local n = 5
  for i = 1, n do
    coroutine.spawn(function()
      for j = 1, 3 do out:send(i * 10 + j) end
    end)
  end
  local sum, count = 0, 0
  for _ = 1, n * 3 do
    sum = sum + out:receive()
    count = count + 1
  end
  assert.eq(count, 15)
  assert.eq(sum, (10 + 20 + 30 + 40 + 50) * 3 + (1 + 2 + 3) * 5)
  return true
end

function T.errors()
  assert.raises(function() channel.new(-1) end)
  assert.raises(function() channel.new(1.5) end)
  assert.raises(function() process.send(process.pid(), "x", channel.new()) end, "channel")
  local ch = channel.new()
  assert.raises(function() ch.receive({}) end, "channel expected")
  return true
end

return T
