-- process module: each test runs as its own process on app:processes.
local assert = require("assert")
local time = require("time")
local funcs = require("funcs")

local HOST = "app:processes"
local T = {}

-- Receive one event within `ms` (nil on timeout).
local function next_event(ms)
  local r = channel.select{process.events():case_receive(), time.after((ms or 2000) * time.MILLISECOND):case_receive()}
  if r.channel == process.events() then return r.value end
  return nil
end

local function next_message(ms)
  local inbox = process.inbox()
  local r = channel.select{inbox:case_receive(), time.after((ms or 2000) * time.MILLISECOND):case_receive()}
  if r.channel == inbox then return r.value end
  return nil
end

function T.pid_and_id()
  local pid = process.pid()
  -- {app:processes|0x...} on one node, {node@app:processes|0x...} on a pool's worker
  assert.match(pid, "^{[%w%-_]*@?app:processes|0x%x+}$", "pid format")
  assert.eq(process.pid(), pid, "stable pid")
  assert.eq(process.id(), "app.test.process:pid_and_id")
  return true
end

function T.send_to_self()
  local me = process.pid()
  assert.eq(process.send(me, "one", 1), true)
  process.send(me, "many", "a", 2, {x = 3})
  process.send(me, "none")
  local inbox = process.inbox()
  assert.eq(inbox, process.inbox(), "same inbox channel every call")
  local m1 = inbox:receive()
  assert.eq(m1:topic(), "one")
  assert.eq(m1:from(), me)
  assert.eq(m1:payload():data(), 1)
  local m2 = inbox:receive()
  assert.deep_eq(m2:payload():data(), {"a", 2, {x = 3}}, "several values arrive as an array")
  local m3 = inbox:receive()
  assert.is_nil(m3:payload():data())
  assert.eq(m3:payload():get_format(), "lua/any")
  return true
end

function T.send_errors()
  local ok, err = process.send(process.pid(), "@reserved", 1)
  assert.is_nil(ok)
  assert.is_error(err, errors.INVALID, "@ topics are reserved")
  local done = process.spawn_monitored("app.helpers:add", HOST, 1, 2)
  next_event()
  ok, err = process.send(done, "hello", 1)
  assert.is_nil(ok)
  assert.is_error(err, errors.NOT_FOUND, "sending to a dead process is an error")
  ok, err = process.send("no-such-name", "hello", 1)
  assert.is_error(err, errors.NOT_FOUND, "unknown name")
  assert.raises(function() process.send(nil, "x") end)
  return true
end

function T.exec_results()
  local v, err = process.exec("app.helpers:add", HOST, 20, 22)
  assert.no_error(err)
  assert.eq(v, 42)
  v, err = process.exec("app.helpers:crash", HOST, "nope")
  assert.is_nil(v)
  assert.is_error(err, errors.UNAVAILABLE)
  assert.eq(err:message(), "nope")
  assert.eq(err:retryable(), true)
  v, err = process.exec("app.helpers:does_not_exist", HOST)
  assert.is_error(err, errors.NOT_FOUND)
  return true
end

function T.return_conventions()
  local v, err = process.exec("app.helpers:fail_return", HOST, "bad input")
  assert.is_nil(v)
  assert.is_error(err)
  assert.eq(err:message(), "bad input", "return nil, 'msg' is an error exit")
  v, err = process.exec("app.helpers:value_false", HOST)
  assert.no_error(err)
  assert.eq(v, 42, "return 42, false is a success")
  v, err = process.exec("app.helpers:crash", HOST, "with stack")
  assert.match(err:stack(), "helpers.lua:%d+", "raised errors carry a Lua stack")
  return true
end

function T.spawn_monitored_exit()
  local pid, err = process.spawn_monitored("app.helpers:add", HOST, 40, 2)
  assert.no_error(err)
  local ev = next_event()
  assert.not_nil(ev, "EXIT arrives")
  assert.eq(ev.kind, process.event.EXIT)
  assert.eq(ev.from, pid)
  assert.eq(ev.result.value, 42)
  assert.is_nil(ev.result.error)
  pid = process.spawn_monitored("app.helpers:crash", HOST, "bad")
  ev = next_event()
  assert.eq(ev.from, pid)
  assert.is_error(ev.result.error, errors.UNAVAILABLE)
  assert.eq(ev.result.error:message(), "bad")
  return true
end

function T.monitor_unmonitor()
  local echo = process.spawn("app.helpers:echo", HOST)
  assert.eq(process.monitor(echo), true)
  process.send(echo, "stop")
  local ev = next_event()
  assert.eq(ev.kind, process.event.EXIT)
  assert.eq(ev.result.value, "stopped")
  local echo2 = process.spawn("app.helpers:echo", HOST)
  process.monitor(echo2)
  assert.eq(process.unmonitor(echo2), true)
  process.send(echo2, "stop")
  assert.is_nil(next_event(200), "no EXIT after unmonitor")
  local ok, err = process.monitor(echo2)
  assert.is_error(err, errors.NOT_FOUND, "monitoring a dead process")
  return true
end

function T.link_trapped()
  assert.eq(process.get_options().trap_links, false)
  assert.eq(process.set_options({trap_links = true}), true)
  assert.eq(process.get_options().trap_links, true)
  local pid = process.spawn_linked("app.helpers:crash", HOST, "linked boom")
  local ev = next_event()
  assert.eq(ev.kind, process.event.LINK_DOWN)
  assert.eq(ev.from, pid)
  assert.is_error(ev.result.error, errors.UNAVAILABLE)
  -- a normal exit of a linked process sends nothing
  process.spawn_linked("app.helpers:add", HOST, 1, 1)
  assert.is_nil(next_event(200), "no LINK_DOWN on a normal exit")
  -- link / unlink after spawn
  local echo = process.spawn("app.helpers:echo", HOST)
  assert.eq(process.link(echo), true)
  assert.eq(process.unlink(echo), true)
  process.send(echo, "stop")
  return true
end

function T.link_untrapped_cascades()
  local middle = process.spawn_monitored("app.helpers:linker", HOST, process.pid())
  local ev = next_event(5000)
  assert.not_nil(ev, "the linked process died")
  assert.eq(ev.from, middle)
  assert.is_error(ev.result.error)
  assert.match(ev.result.error:message(), "linked process failed")
  return true
end

function T.cancel_event()
  local pid = process.spawn_monitored("app.helpers:wait_cancel", HOST, process.pid())
  assert.eq(next_message():topic(), "ready")
  assert.eq(process.cancel(pid, "please stop"), true)
  local ev = next_event()
  assert.eq(ev.kind, process.event.EXIT)
  assert.eq(ev.result.value, "cancelled: please stop")
  return true
end

function T.terminate()
  local pid = process.spawn_monitored("app.helpers:sleeper", HOST)
  assert.eq(process.terminate(pid), true)
  local ev = next_event()
  assert.eq(ev.from, pid)
  assert.is_error(ev.result.error, errors.INTERNAL)
  assert.match(ev.result.error:message(), "terminated")
  local ok, err = process.terminate(pid)
  assert.is_error(err, errors.NOT_FOUND)
  return true
end

function T.names()
  local name = "lua-test-" .. process.pid()
  name = name:gsub("[{}|]", "_")
  assert.eq(process.registry.register(name), true)
  assert.eq(process.registry.lookup(name), process.pid())
  assert.eq(process.send(name, "by-name", 7), true)
  assert.eq(process.inbox():receive():payload():data(), 7)
  local echo = process.spawn("app.helpers:echo", HOST)
  local ok, err = process.registry.register(name, echo)
  assert.is_error(err, errors.ALREADY_EXISTS)
  assert.eq(process.registry.unregister(name), true)
  assert.eq(process.registry.unregister(name), false)
  local pid
  pid, err = process.registry.lookup(name)
  assert.is_nil(pid)
  assert.is_error(err, errors.NOT_FOUND)
  process.send(echo, "stop")
  return true
end

function T.listen_unlisten()
  local me = process.pid()
  local ch = process.listen("prices")
  assert.eq(process.listen("prices"), ch, "same channel for the same topic")
  process.send(me, "prices", 10)
  process.send(me, "prices", 1, 2)
  assert.eq(ch:receive(), 10, "raw payload value")
  assert.deep_eq(ch:receive(), {1, 2})
  local mch = process.listen("orders", {message = true})
  process.send(me, "orders", "o1")
  local m = mch:receive()
  assert.eq(m:topic(), "orders")
  assert.eq(m:payload():data(), "o1")
  process.unlisten(ch)
  local v, ok = ch:receive()
  assert.eq(ok, false, "unlisten closes the channel")
  process.send(me, "prices", 99)
  local msg = process.inbox():receive()
  assert.eq(msg:topic(), "prices", "later messages go to the inbox")
  assert.raises(function() process.listen("@events") end)
  return true
end

function T.spawn_builders()
  local base = process.with_context({tenant = "acme"})
  local b2 = base:with_message("hello", "world")
  assert.neq(b2, base, "builders are immutable")
  local pid = b2:spawn_monitored("app.helpers:ctx_echo", HOST)
  process.send(pid, "later", 2)
  local ev = next_event()
  assert.deep_eq(ev.result.value, {tenant = "acme", topic = "hello", data = "world"},
    "context values reach the child and startup messages come first")
  local v, err = process.with_options({}):exec("app.helpers:add", HOST, 1, 2)
  assert.eq(v, 3)
  return true
end

function T.with_name_spawn_or_signal()
  local name = ("named-" .. process.pid()):gsub("[{}|]", "_")
  local me = process.pid()
  local b = process.with_options({}):with_name(name)
  local p1 = b:spawn("app.helpers:relay", HOST, me)
  local p2 = b:with_message("ping", 5):spawn("app.helpers:relay", HOST, me)
  assert.eq(p2, p1, "a taken name returns the existing process")
  local m = next_message()
  assert.not_nil(m)
  assert.eq(m:topic(), "ping", "its startup message is still delivered")
  assert.eq(m:payload():data(), 5)
  assert.eq(process.registry.lookup(name), p1, "the name is registered")
  process.send(p1, "stop")
  return true
end

function T.event_constants()
  assert.eq(process.event.EXIT, "pid.exit")
  assert.eq(process.event.CANCEL, "pid.cancel")
  assert.eq(process.event.LINK_DOWN, "pid.link.down")
  assert.raises(function() process.event.EXIT = "x" end, "read%-only")
  return true
end

function T.deep_copies()
  local pid = process.spawn("app.helpers:mutate_echo", HOST)
  local original = {list = {"a", "b"}, n = 1}
  process.send(pid, "data", original)
  local back = process.inbox():receive():payload():data()
  assert.eq(back.changed, true)
  assert.eq(back.list[1], "mutated")
  assert.is_nil(original.changed, "the sender's table is untouched")
  assert.eq(original.list[1], "a")
  return true
end

function T.coroutine_spawn()
  local results = channel.new(10)
  local gate = channel.new()
  for i = 1, 3 do
    coroutine.spawn(function()
      local v = gate:receive()
      results:send(v * i)
    end)
  end
  for i = 1, 3 do gate:send(10) end
  local sum = 0
  for i = 1, 3 do sum = sum + results:receive() end
  assert.eq(sum, 60)
  -- a spawned coroutine can wait on the inbox while the main one sleeps
  local got = channel.new(1)
  coroutine.spawn(function() got:send(process.inbox():receive():payload():data()) end)
  process.send(process.pid(), "x", "from inbox")
  time.sleep("10ms")
  assert.eq(got:receive(), "from inbox")
  return true
end

function T.python_process_messages()
  local py = process.spawn_monitored("app.py:echo", HOST)
  local payload = {name = "lua", list = {1, 2.5, "three"}, nested = {ok = true}, empty = {}}
  process.send(py, "echo", payload)
  local m = next_message()
  assert.not_nil(m, "the Python process answered")
  assert.eq(m:topic(), "echo")
  assert.eq(m:from(), py)
  assert.deep_eq(m:payload():data(), payload)
  process.send(py, "pair", 1, "two")
  assert.deep_eq(next_message():payload():data(), {1, "two"})
  process.send(py, "stop")
  assert.eq(next_event().result.value, "stopped")
  return true
end

function T.python_calls()
  assert.eq(funcs.call("app.py:double", 21), 42)
  local v, err = funcs.call("app.py:fail", "python said no")
  assert.is_nil(v)
  assert.is_error(err, errors.CONFLICT)
  assert.eq(err:message(), "python said no")
  assert.eq(err:retryable(), true)
  assert.eq(err:details().from, "python")
  v, err = process.exec("app.py:call_lua_from_process", HOST, 2, 3)
  assert.no_error(err)
  assert.eq(v, 5, "a Python process calls a Lua function")
  return true
end

function T.set_options()
  local ok, err = process.set_options({upgradable = true})
  assert.eq(ok, false)
  assert.is_error(err, errors.INVALID)
  assert.match(err:message(), "not supported")
  ok, err = process.set_options({trap_links = "yes"})
  assert.eq(ok, false)
  return true
end

return T
