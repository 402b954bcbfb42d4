"""The driver on the trio kernel: Lua processes and functions as kernel citizens."""

from __future__ import annotations

import functools

import lua_helpers
import pytest
import trio
import trio.testing

from beamish.actors import DEFAULT_HOST, Error, ErrorKind, EventKind, Node, Pid, ProcessExit
from beamish.luabridge import LuaScripts

#: This file's entries get only the modules a test names.
lua = functools.partial(lua_helpers.lua, modules=())


@pytest.fixture
def scripts() -> LuaScripts:
    return LuaScripts(instruction_budget=1_000_000, max_memory=64 * 1024 * 1024)


# -- exits ------------------------------------------------------------------------------------

async def test_return_conventions(scripts):
    async with Node() as node:
        lua(scripts, node, "t:ok", "return {main = function(a) return a * 2 end}")
        lua(scripts, node, "t:false", "return {main = function() return 42, false end}")
        lua(scripts, node, "t:table2", "return {main = function() return 1, {x = 1} end}")
        lua(scripts, node, "t:nilerr", "return {main = function() return nil, 'bad thing' end}")
        lua(scripts, node, "t:errobj", """
            return {main = function()
              return nil, errors.new{kind = errors.CONFLICT, message = "taken", retryable = false}
            end}""")
        assert await node.exec("t:ok", 21) == 42
        assert await node.exec("t:false") == 42
        assert await node.exec("t:table2") == 1
        with pytest.raises(ProcessExit, match="bad thing") as info:
            await node.exec("t:nilerr")
        assert info.value.kind is ErrorKind.UNKNOWN
        with pytest.raises(ProcessExit, match="taken") as info:
            await node.exec("t:errobj")
        assert (info.value.kind, info.value.retryable) == (ErrorKind.CONFLICT, False)


async def test_a_runaway_loop_ends_only_its_process(scripts):
    async with Node() as node:
        lua(scripts, node, "t:spin", "return {main = function() while true do end end}")
        lua(scripts, node, "t:count", """
            return {main = function(n)
              local inbox = process.inbox()
              local total = 0
              for i = 1, n do total = total + inbox:receive():payload():data() end
              return total
            end}""")
        counter = node.spawn("t:count", 3)
        with pytest.raises(ProcessExit, match="instruction budget exceeded") as info:
            await node.exec("t:spin")
        assert info.value.kind is ErrorKind.INTERNAL
        for i in (1, 2, 3):
            node.send(counter, "n", i)
        assert await node.wait(counter) == (6, None)


async def test_a_memory_bomb_ends_only_its_process():
    scripts = LuaScripts(max_memory=32 * 1024 * 1024)
    async with Node() as node:
        lua(scripts, node, "t:bomb", """
            return {main = function()
              local t = {}
              while true do t[#t + 1] = string.rep("x", 65536) .. #t end
            end}""")
        lua(scripts, node, "t:fine", "return {main = function() local t = {} "
                                    "for i = 1, 1000 do t[i] = i end return #t end}")
        with pytest.raises(ProcessExit, match="out of memory"):
            await node.exec("t:bomb")
        assert await node.exec("t:fine") == 1000


async def test_a_deadlock_is_an_error_exit(scripts):
    async with Node() as node:
        lua(scripts, node, "t:dead", "return {main = function() channel.new():receive() end}")
        with pytest.raises(ProcessExit, match="deadlock"):
            await node.exec("t:dead")


async def test_an_error_in_a_spawned_coroutine_fails_the_process(scripts):
    async with Node() as node:
        lua(scripts, node, "t:co", """
            return {main = function()
              coroutine.spawn(function() error("inner failure") end)
              channel.new():receive()
            end}""")
        with pytest.raises(ProcessExit, match="inner failure"):
            await node.exec("t:co")


async def test_terminating_a_blocked_lua_process(scripts):
    async def watcher(ctx, target):
        ctx.monitor(target)
        ctx.terminate(target)
        return await ctx.events().receive(timeout=5)

    async with Node() as node:
        lua(scripts, node, "t:wait", "return {main = function() process.inbox():receive() end}")
        pid = node.spawn("t:wait")
        await trio.testing.wait_all_tasks_blocked()
        ev = await node.exec(watcher, pid)
        assert ev.kind is EventKind.EXIT and ev.sender == pid
        assert ev.error is not None and ev.error.message == "process terminated"
        assert not node.is_alive(pid)


# -- waits never block the trio thread ------------------------------------------------------

async def test_lua_sleep_yields_to_other_processes(scripts):
    ticks = []

    async def ticker(ctx):
        for i in range(5):
            ticks.append(i)
            await ctx.sleep(0.002)

    async with Node() as node:
        lua(scripts, node, "t:sleepy", """
            local time = require("time")
            return {main = function() time.sleep("40ms") return "woke" end}""",
            modules=("time",))
        node.spawn(ticker)
        assert await node.exec("t:sleepy") == "woke"
        assert ticks == [0, 1, 2, 3, 4]


async def test_blocking_calls_with_several_coroutines_use_channels(scripts):
    async with Node() as node:
        node.functions.register("py:slow_double", _slow_double)
        lua(scripts, node, "t:multi", """
            local funcs = require("funcs")
            local time = require("time")
            return {main = function()
              local results = channel.new(3)
              coroutine.spawn(function() results:send(funcs.call("py:slow_double", 21)) end)
              coroutine.spawn(function() time.sleep("5ms") results:send("slept") end)
              coroutine.spawn(function()
                results:send(process.inbox():receive():payload():data())
              end)
              process.send(process.pid(), "x", "inbox")
              local got = {}
              for i = 1, 3 do got[#got + 1] = tostring(results:receive()) end
              table.sort(got)
              return table.concat(got, ",")
            end}""", modules=("funcs", "time"))
        assert await node.exec("t:multi") == "42,inbox,slept"


async def _slow_double(x):
    await trio.sleep(0.01)
    return x * 2


# -- Python <-> Lua ----------------------------------------------------------------------------

async def test_python_and_lua_processes_exchange_messages(scripts):
    async def python_side(ctx, peer):
        ctx.send(peer, "greet", {"from": "python", "n": [1, 2]})
        msg = await ctx.receive(timeout=5)
        return msg.topic, msg.payload, str(msg.sender) == str(peer)

    async with Node() as node:
        lua(scripts, node, "t:reply", """
            return {main = function()
              local m = process.inbox():receive()
              local d = m:payload():data()
              process.send(m:from(), "reply", d.from, d.n[2] + 1, {ok = true})
            end}""")
        peer = node.spawn("t:reply")
        topic, payload, same = await node.exec(python_side, peer)
        assert (topic, payload, same) == ("reply", ("python", 3, {"ok": True}), True)


async def test_python_calls_lua_functions_with_converted_values(scripts):
    async with Node() as node:
        lua(scripts, node, "t:fn", """
            return {main = function(t, x)
              if x == "fail" then
                return nil, errors.new{kind = errors.INVALID, message = "bad x", details = {x = x}}
              end
              return {sum = t.a + t.b, list = {x, x}, empty = {}}
            end}""", kind="function.lua")
        assert await node.call("t:fn", {"a": 1, "b": 2.5}, "y") == {
            "sum": 3.5, "list": ["y", "y"], "empty": []}
        with pytest.raises(Error, match="bad x") as info:
            await node.call("t:fn", {"a": 1, "b": 1}, "fail")
        assert info.value.kind is ErrorKind.INVALID
        assert info.value.details == {"x": "fail"}


async def test_lua_functions_run_in_the_callers_context(scripts):
    async def caller(ctx):
        return await ctx.call("t:whoami")

    async with Node() as node:
        lua(scripts, node, "t:whoami", "return {main = function() return process.pid() end}",
            kind="function.lua")
        pid = node.spawn(caller)
        value, error = await node.wait(pid)
        assert error is None and value == str(pid)


async def test_a_function_worker_that_ran_out_of_budget_is_not_reused(scripts):
    async with Node() as node:
        lua(scripts, node, "t:maybe_spin", """
            n = (n or 0) + 1
            return {main = function(spin)
              if spin then while true do end end
              return n
            end}""", kind="function.lua")
        assert await node.call("t:maybe_spin", False) == 1
        assert await node.call("t:maybe_spin", False) == 1  # same worker, module ran once
        with pytest.raises(Error, match="instruction budget"):
            await node.call("t:maybe_spin", True)
        assert await node.call("t:maybe_spin", False) == 1


async def test_processes_of_a_host_share_one_sandbox(scripts):
    async with Node() as node:
        node.add_host("other")
        lua(scripts, node, "t:mem", "return {main = function() return process.pid() end}")
        await node.exec("t:mem")
        await node.exec("t:mem")
        await node.exec("t:mem", host="other")
        assert set(scripts.sandboxes) == {"node:local", "other"}


async def test_events_reach_lua_as_tables(scripts):
    async with Node() as node:
        lua(scripts, node, "t:watch", """
            return {main = function()
              local pid = process.spawn_monitored("t:boom", nil)
              local ev = process.events():receive()
              return {kind = ev.kind, from_ok = ev.from == pid,
                      kind_of_error = ev.result.error:kind()}
            end}""")
        lua(scripts, node, "t:boom", "return {main = function() "
                                    "error(errors.new{kind = errors.TIMEOUT, message = 'x'}) end}")
        assert await node.exec("t:watch") == {
            "kind": EventKind.EXIT.value, "from_ok": True, "kind_of_error": "Timeout"}


async def test_a_cancelled_function_call_does_not_poison_its_worker(scripts):
    async with Node() as node:
        lua(scripts, node, "t:slow", """
            local time = require("time")
            calls = (calls or 0) + 1
            return {main = function(ms) time.sleep(ms * time.MILLISECOND) return calls end}""",
            kind="function.lua", modules=("time",))
        with pytest.raises(Error) as info:
            await node.call("t:slow", 5000, timeout=0.02)
        assert info.value.kind is ErrorKind.TIMEOUT
        assert await node.call("t:slow", 1) == 1  # a fresh worker, not the interrupted one
        assert await node.call("t:slow", 1) == 1  # ...which is then reused


async def test_a_lua_function_that_waits_beside_a_coroutine_still_answers(scripts):
    # Most calls return at their first resume (Driver.call_nowait); this one waits.
    async with Node() as node:
        lua(scripts, node, "t:waits", """
            local time = require("time")
            return {main = function(n)
              local ch = channel.new(1)
              coroutine.spawn(function() time.sleep("1ms") ch:send(n * 2) end)
              return ch:receive()
            end}""", kind="function.lua", modules=("time",))
        assert await node.call("t:waits", 21) == 42
        assert await node.call("t:waits", 2) == 4  # the pooled worker again


async def test_function_ids_follow_the_kernels_rule(scripts):
    async with Node() as node:
        lua(scripts, node, "t:ids", """
            local funcs = require("funcs")
            return {main = function()
              local out = {}
              for _, id in ipairs({"a:b:c", "nocolon", ":x", "x:", ""}) do
                local v, err = funcs.call(id)
                local f, ferr = funcs.async(id)
                out[#out + 1] = (v == nil and f == nil and err:kind() == errors.INVALID
                                 and ferr:kind() == errors.INVALID) and "INVALID" or "?"
              end
              return table.concat(out, ",")
            end}""", modules=("funcs",))
        assert await node.exec("t:ids") == ",".join(["INVALID"] * 5)


async def test_a_spawn_without_a_host_goes_to_the_spawners_home_host(scripts):
    # A process spawns on its own host; a function called from outside any process has
    # no host of its own (ctx.home_host is None): its spawns go to the node's default.
    async with Node() as node:
        node.add_host("other")
        lua(scripts, node, "t:where", "return {main = function() return 1 end}")
        lua(scripts, node, "t:spawner", """
            return {main = function()
              local pid = process.spawn_monitored("t:where", nil)
              return process.events():receive().from == pid and pid
            end}""")
        lua(scripts, node, "t:spawn_fn", """
            return {main = function() return process.spawn("t:where", nil) end}""",
            kind="function.lua")
        assert Pid.parse(await node.exec("t:spawner", host="other")).host == "other"
        assert Pid.parse(await node.call("t:spawn_fn")).host == DEFAULT_HOST


async def test_select_over_inbox_events_and_timers_with_several_coroutines(scripts):
    async with Node() as node:
        lua(scripts, node, "t:sel", """
            local time = require("time")
            return {main = function()
              local inbox, events = process.inbox(), process.events()
              local side = channel.new(1)
              coroutine.spawn(function() time.sleep("5ms") side:send("side") end)
              local seen = {}
              process.send(process.pid(), "m", 1)
              for i = 1, 3 do
                local r = channel.select{events:case_receive(), inbox:case_receive(),
                                         side:case_receive(), time.after("1s"):case_receive()}
                if r.channel == inbox then seen[#seen + 1] = "inbox"
                elseif r.channel == side then seen[#seen + 1] = r.value
                elseif r.channel == events then seen[#seen + 1] = r.value.kind
                  process.send(process.pid(), "m", 2)
                else seen[#seen + 1] = "timeout" end
                if i == 1 then process.cancel(process.pid(), "x") end
              end
              return table.concat(seen, ",")
            end}""", modules=("time",))
        assert await node.exec("t:sel") == "inbox,pid.cancel,inbox"


async def test_a_process_that_keeps_yielding_starves_nobody(scripts):
    async def ticker(ctx, target):
        for _ in range(3):
            await ctx.sleep(0)  # needs the trio loop: a starving spinner would hang here
        ctx.send(target, "hello", "delivered")

    async with Node() as node:
        lua(scripts, node, "t:spinner", """
            return {main = function()
              local got = nil
              coroutine.spawn(function() got = process.inbox():receive():payload():data() end)
              while got == nil do coroutine.yield() end
              return got
            end}""")
        pid = node.spawn("t:spinner")
        node.spawn(ticker, pid)
        with trio.fail_after(10):
            assert await node.wait(pid) == ("delivered", None)


async def test_a_busy_channel_loop_is_checkpointed(scripts):
    async def poke(ctx, target):
        await ctx.sleep(0)
        ctx.send(target, "stop")

    async with Node() as node:
        lua(scripts, node, "t:busy", """
            return {main = function()
              local ch = channel.new(1)
              local stop = false
              coroutine.spawn(function() process.inbox():receive() stop = true end)
              local n = 0
              while not stop do ch:send(n) n = n + ch:receive() + 1 end
              return n > 0
            end}""")
        pid = node.spawn("t:busy")
        node.spawn(poke, pid)
        with trio.fail_after(10):
            assert await node.wait(pid) == (True, None)


# -- process.exec beside sibling coroutines ---------------------------------------------------

_GATE = """
return {main = function(parent, how)
  process.send(parent, "child", process.pid())
  local m = process.inbox():receive()
  if how == "crash" then error(errors.new{kind = errors.CONFLICT, message = "gate broke"}) end
  if how == "nilerr" then return nil, "gate refused" end
  return "passed:" .. m:payload():data()
end}"""


async def test_exec_does_not_block_sibling_coroutines(scripts):
    # The child finishes only when the parent's *sibling* coroutine lets it through: a
    # blocking exec would hang here.
    async with Node() as node:
        lua(scripts, node, "t:gate", _GATE)
        lua(scripts, node, "t:parent", """
            return {main = function()
              local ran = 0
              coroutine.spawn(function()
                local m = process.inbox():receive()
                ran = ran + 1
                process.send(m:payload():data(), "go", "sibling")
              end)
              local v, err = process.exec("t:gate", nil, process.pid())
              return {v = v, err = err, ran = ran}
            end}""")
        with trio.fail_after(10):
            assert await node.exec("t:parent") == {"v": "passed:sibling", "ran": 1}


async def test_exec_errors_with_and_without_siblings(scripts):
    async with Node() as node:
        lua(scripts, node, "t:gate", _GATE)
        lua(scripts, node, "t:parent", """
            return {main = function(how, siblings)
              if siblings then
                coroutine.spawn(function()
                  local m = process.inbox():receive()
                  process.send(m:payload():data(), "go", "x")
                end)
              else  -- alone: the gate is opened from the child's own hello, after exec
                process.send(process.pid(), "noop", 0)
              end
              local v, err = process.exec("t:gate", nil, process.pid(), how)
              return {v = v, kind = err and err:kind(), msg = err and err:message()}
            end}""")
        lua(scripts, node, "t:alone", """
            return {main = function(how)
              local v, err = process.exec("t:crash_now", nil, how)
              return {v = v, kind = err and err:kind(), msg = err and err:message()}
            end}""")
        lua(scripts, node, "t:crash_now", """
            return {main = function(how)
              if how == "crash" then error(errors.new{kind = errors.CONFLICT, message = "boom"}) end
              if how == "nilerr" then return nil, "refused" end
              return how .. "!"
            end}""")
        with trio.fail_after(10):
            assert await node.exec("t:parent", "crash", True) == {
                "kind": "Conflict", "msg": "gate broke"}
            # an unknown kind reads as "" in Lua (Wippy's errors.UNKNOWN)
            assert await node.exec("t:parent", "nilerr", True) == {
                "kind": "", "msg": "gate refused"}
            assert await node.exec("t:alone", "ok") == {"v": "ok!"}
            assert await node.exec("t:alone", "crash") == {"kind": "Conflict", "msg": "boom"}
            assert await node.exec("t:alone", "nilerr") == {"kind": "", "msg": "refused"}


async def test_exec_of_an_unknown_entry_beside_siblings_returns_an_error(scripts):
    async with Node() as node:
        lua(scripts, node, "t:parent", """
            return {main = function()
              coroutine.spawn(function() process.inbox():receive() end)
              local v, err = process.exec("t:nothing_here", nil)
              return {v = v, bad = err ~= nil}
            end}""")
        with trio.fail_after(10):
            assert await node.exec("t:parent") == {"bad": True}


async def test_exec_exit_goes_to_the_waiter_and_other_events_to_the_script(scripts):
    # While the exec waits, another monitored child exits (its EXIT is kept for the
    # script, in order) and a sibling is parked on process.events(); the exec'd child's
    # own EXIT never shows up on the script's events channel.
    async with Node() as node:
        lua(scripts, node, "t:gate", _GATE)
        lua(scripts, node, "t:quick", "return {main = function(x) return x end}")
        lua(scripts, node, "t:parent", """
            local time = require("time")
            return {main = function()
              local events = process.events()
              local seen = {}
              local q1 = process.spawn_monitored("t:quick", nil, "one")
              coroutine.spawn(function()
                -- parked on events while the exec waits
                local e = events:receive()
                seen[#seen + 1] = (e.from == q1) and ("q1=" .. e.result.value) or "other"
                local m = process.inbox():receive()
                local q2 = process.spawn_monitored("t:quick", nil, "two")
                -- the child exits after q2 (it waits for "go"): q2's EXIT arrives first
                process.send(m:payload():data(), "go", "z")
              end)
              local v = process.exec("t:gate", nil, process.pid())
              seen[#seen + 1] = v
              -- q2's EXIT was set aside for the script; nothing else may follow
              local e = events:receive()
              seen[#seen + 1] = e.kind .. ":" .. tostring(e.result.value)
              local r = channel.select{events:case_receive(), time.after("50ms"):case_receive()}
              seen[#seen + 1] = (r.channel == events) and "leaked" or "quiet"
              return table.concat(seen, ",")
            end}""", modules=("time",))
        with trio.fail_after(10):
            assert await node.exec("t:parent") == "q1=one,passed:z,pid.exit:two,quiet"


async def test_exec_of_a_named_running_process_waits_for_it(scripts):
    async with Node() as node:
        lua(scripts, node, "t:gate", _GATE)
        lua(scripts, node, "t:parent", """
            return {main = function()
              local first = process.with_options({}):with_name("gate1")
              local pid = first:spawn("t:gate", nil, process.pid())
              process.inbox():receive()  -- its hello
              coroutine.spawn(function() process.send(pid, "go", "named") end)
              -- spawn-or-signal finds the running gate: exec waits for that one
              local v, err = first:exec("t:gate", nil, process.pid())
              return {v = v, same = err == nil}
            end}""")
        with trio.fail_after(10):
            assert await node.exec("t:parent") == {"v": "passed:named", "same": True}


async def test_exec_completes_while_a_sibling_keeps_yielding(scripts):
    # The sibling never parks, so the wait loop never runs: the checkpoint must route
    # the child's EXIT to the waiting task.
    async with Node() as node:
        lua(scripts, node, "t:quick", "return {main = function(x) return x end}")
        lua(scripts, node, "t:parent", """
            return {main = function()
              local done, spins = false, 0
              coroutine.spawn(function()
                while not done do spins = spins + 1 coroutine.yield() end
              end)
              local v = process.exec("t:quick", nil, "fast")
              done = true
              return {v = v, spun = spins > 0}
            end}""")
        with trio.fail_after(10):
            assert await node.exec("t:parent") == {"v": "fast", "spun": True}


# -- the inbox ------------------------------------------------------------------------------

async def test_the_inbox_keeps_order_between_a_lone_task_and_later_siblings(scripts):
    # The first receive happens alone (the driver waits on the kernel inbox itself); the
    # later ones go through the inbox channel with a sibling parked on it too.
    async with Node() as node:
        lua(scripts, node, "t:order", """
            return {main = function()
              local inbox = process.inbox()
              local got = {inbox:receive():payload():data()}
              local done = channel.new(1)
              coroutine.spawn(function()
                got[#got + 1] = "s" .. process.inbox():receive():payload():data()
                done:send(true)
              end)
              coroutine.yield()  -- let the sibling park first
              local r = channel.select{inbox:case_receive(), done:case_receive()}
              got[#got + 1] = (r.channel == inbox) and ("m" .. r.value:payload():data()) or "?"
              done:receive()
              return table.concat(got, ",")
            end}""")
        pid = node.spawn("t:order")
        for i in (1, 2, 3):
            node.send(pid, "n", i)
        with trio.fail_after(10):
            assert await node.wait(pid) == ("1,s2,m3", None)


async def test_the_inbox_is_receive_only_and_can_be_closed(scripts):
    async with Node() as node:
        lua(scripts, node, "t:close", """
            return {main = function()
              local inbox = process.inbox()
              local ok, err = pcall(inbox.send, inbox, 1)
              inbox:close()
              local v, more = inbox:receive()
              return {sent = ok, err = tostring(err):find("receive%-only") ~= nil,
                      v = v, more = more, same = inbox == process.inbox()}
            end}""")
        with trio.fail_after(10):
            assert await node.exec("t:close") == {
                "sent": False, "err": True, "more": False, "same": True}


async def test_an_idle_lua_process_costs_under_1800_bytes_of_lua_heap(scripts):
    # Guard for the per-process Lua state (measured 1,664 B: the coroutine ~1.2 KB, its
    # P table, environment, module table and main closure; no channel object).
    import trio.testing

    async with Node() as node:
        lua(scripts, node, "t:idle", "return {main = function() process.inbox():receive() end}")
        node.spawn("t:idle")
        await trio.testing.wait_all_tasks_blocked()
        sb = scripts.sandbox("node:local")

        def heap() -> int:
            sb.eval_privileged("collectgarbage() collectgarbage()", name="gc")
            return sb.memory_used()

        before = heap()
        n = 1000
        for _ in range(n):
            node.spawn("t:idle")
        await trio.testing.wait_all_tasks_blocked()
        per_process = (heap() - before) / n
        assert per_process < 1800, per_process
        for pid in node.processes():
            node.terminate(pid)


# -- hibernation ------------------------------------------------------------------------------

@pytest.fixture
def always_hibernate(monkeypatch):
    """No warm spells: every idle wait on mailbox channels hibernates (deterministic)."""
    from beamish.luabridge import _driver

    monkeypatch.setattr(_driver, "HIBERNATE_IDLE", 0.0)


def hibernating(node: Node, pid) -> bool:
    return node.process(pid).statistics()["hibernating"]


_COUNTER = """
    local n = 0
    return {main = function()
      local inbox = process.inbox()
      while true do
        local m = inbox:receive()
        if m:topic() == "stop" then return n end
        n = n + m:payload():data()
      end
    end}"""


async def test_a_hibernating_lua_process_keeps_its_state(scripts, always_hibernate):
    async with Node() as node:
        lua(scripts, node, "t:count", _COUNTER)
        pid = node.spawn("t:count")
        await trio.testing.wait_all_tasks_blocked()
        assert hibernating(node, pid)
        for i in range(1, 51):
            node.send(pid, "add", i)
            await trio.testing.wait_all_tasks_blocked()
            assert hibernating(node, pid)
        node.send(pid, "stop")
        assert await node.wait(pid) == (50 * 51 // 2, None)


async def test_messages_sent_before_the_first_wait_are_not_lost(scripts, always_hibernate):
    async with Node() as node:
        lua(scripts, node, "t:count", _COUNTER)
        pid = node.spawn("t:count", messages=[("add", (2,)), ("add", (3,)), ("stop", ())])
        assert await node.wait(pid) == (5, None)


_SELECTOR = """
    return {main = function()
      process.set_options({trap_links = true})
      local inbox, events = process.inbox(), process.events()
      local seen = {}
      while true do
        local r = channel.select{inbox:case_receive(), events:case_receive()}
        if r.channel == inbox then
          local m = r.value
          if m:topic() == "spawn" then
            process.spawn_linked_monitored("t:fail", nil)
          else
            seen[#seen + 1] = m:topic()
          end
        else
          local ev = r.value
          seen[#seen + 1] = ev.kind
          if ev.kind == process.event.CANCEL then
            return table.concat(seen, ",") .. ":" .. ev.reason
          end
        end
      end
    end}"""


async def test_a_hibernating_lua_process_answers_events(scripts, always_hibernate):
    # One task in a select over the inbox and the events: it hibernates between
    # deliveries, gets LINK_DOWN and EXIT of a failed linked child, ends on CANCEL.
    async with Node() as node:
        lua(scripts, node, "t:sel", _SELECTOR)
        lua(scripts, node, "t:fail", """
            return {main = function()
              process.inbox():receive()
              error("child failed")
            end}""")
        pid = node.spawn("t:sel")
        await trio.testing.wait_all_tasks_blocked()
        assert hibernating(node, pid)
        node.send(pid, "a")
        node.send(pid, "spawn")
        await trio.testing.wait_all_tasks_blocked()
        assert hibernating(node, pid)
        child = next(p for p in node.processes() if p not in (pid,)
                     and node.process(p).entry_id == "t:fail")
        node.send(child, "go")
        await trio.testing.wait_all_tasks_blocked()
        assert hibernating(node, pid)
        node.cancel(pid, "bye")
        value, error = await node.wait(pid)
        assert error is None
        kinds, reason = value.split(":")
        assert reason == "bye"
        parts = kinds.split(",")
        assert parts[0] == "a" and parts[-1] == EventKind.CANCEL.value
        assert sorted(parts[1:3]) == sorted([EventKind.EXIT.value, EventKind.LINK_DOWN.value])


async def test_an_untrapped_link_failure_kills_a_hibernating_lua_process(scripts,
                                                                         always_hibernate):
    async with Node() as node:
        lua(scripts, node, "t:wait", "return {main = function() process.inbox():receive() end}")

        async def failing(ctx):
            await ctx.receive()
            raise Error("boom", kind=ErrorKind.INTERNAL)

        pid = node.spawn("t:wait")
        other = node.spawn(failing)
        node.process(pid).link(other)
        await trio.testing.wait_all_tasks_blocked()
        assert hibernating(node, pid)
        node.send(other, "go")
        _value, error = await node.wait(pid)
        assert error is not None and error.message == "linked process failed"


async def test_an_event_nobody_reads_wakes_it_without_a_busy_loop(scripts, always_hibernate):
    # The CANCEL stays unread in the events channel: the woken process waits in its task
    # (hibernating again would be woken at once by that item) and still works.
    async with Node() as node:
        lua(scripts, node, "t:count", _COUNTER)
        pid = node.spawn("t:count")
        await trio.testing.wait_all_tasks_blocked()
        assert hibernating(node, pid)
        node.cancel(pid, "ignored")
        await trio.testing.wait_all_tasks_blocked()
        assert node.is_alive(pid) and not hibernating(node, pid)
        node.send(pid, "add", 7)
        await trio.testing.wait_all_tasks_blocked()
        node.send(pid, "stop")
        assert await node.wait(pid) == (7, None)


async def test_a_select_with_a_timeout_does_not_hibernate(scripts, always_hibernate):
    async with Node() as node:
        lua(scripts, node, "t:sel", """
            local time = require("time")
            return {main = function()
              local r = channel.select{process.inbox():case_receive(),
                                       time.after("10s"):case_receive()}
              return r.value:topic()
            end}""", modules=("time",))
        pid = node.spawn("t:sel")
        await trio.testing.wait_all_tasks_blocked()
        assert not hibernating(node, pid)
        node.send(pid, "hello")
        assert await node.wait(pid) == ("hello", None)


async def test_siblings_on_internal_channels_prevent_hibernation(scripts, always_hibernate):
    async with Node() as node:
        lua(scripts, node, "t:sib", """
            return {main = function()
              local ch = channel.new()
              local got = channel.new(1)
              coroutine.spawn(function() got:send(ch:receive() .. "!") end)
              local m = process.inbox():receive()
              ch:send(m:topic())
              return got:receive()
            end}""")
        pid = node.spawn("t:sib")
        await trio.testing.wait_all_tasks_blocked()
        assert not hibernating(node, pid)
        node.send(pid, "hi")
        assert await node.wait(pid) == ("hi!", None)


async def test_siblings_all_on_mailbox_channels_hibernate(scripts, always_hibernate):
    async with Node() as node:
        lua(scripts, node, "t:two", """
            return {main = function()
              local done = channel.new(1)
              coroutine.spawn(function()
                local ev = process.events():receive()
                done:send(ev.reason)
              end)
              local m = process.inbox():receive()
              return m:topic() .. "+" .. done:receive()
            end}""")
        pid = node.spawn("t:two")
        await trio.testing.wait_all_tasks_blocked()
        assert hibernating(node, pid)
        node.cancel(pid, "why")
        await trio.testing.wait_all_tasks_blocked()
        assert hibernating(node, pid)  # the main task still waits on the inbox
        node.send(pid, "m")
        assert await node.wait(pid) == ("m+why", None)


async def test_terminating_a_hibernating_lua_process(scripts, always_hibernate):
    async def watcher(ctx, target):
        ctx.monitor(target)
        ctx.terminate(target)
        return await ctx.events().receive(timeout=5)

    async with Node() as node:
        lua(scripts, node, "t:wait", "return {main = function() process.inbox():receive() end}")
        pid = node.spawn("t:wait")
        await trio.testing.wait_all_tasks_blocked()
        assert hibernating(node, pid)
        ev = await node.exec(watcher, pid)
        assert ev.kind is EventKind.EXIT and ev.sender == pid
        assert ev.error is not None and ev.error.message == "process terminated"
        assert not node.is_alive(pid)


async def test_a_busy_lua_process_stays_warm(scripts, monkeypatch):
    # Woken sooner than HIBERNATE_IDLE after hibernating: it waits in its task from then
    # on (a ping-pong partner would otherwise start a task per message).
    from beamish.luabridge import _driver

    monkeypatch.setattr(_driver, "HIBERNATE_IDLE", 1e9)
    async with Node() as node:
        lua(scripts, node, "t:count", _COUNTER)
        pid = node.spawn("t:count")
        await trio.testing.wait_all_tasks_blocked()
        assert hibernating(node, pid)  # a fresh process starts cold
        for _ in range(3):
            node.send(pid, "add", 1)
            await trio.testing.wait_all_tasks_blocked()
            assert not hibernating(node, pid)
        node.send(pid, "stop")
        assert await node.wait(pid) == (3, None)


async def test_lua_functions_and_plain_drivers_never_hibernate(scripts, always_hibernate):
    # Only process bodies from LuaScripts.process_body may hibernate; run_lua_process
    # (used by workflows with their own context) waits in its task.
    from beamish.luabridge import run_lua_process

    async with Node() as node:
        lua(scripts, node, "t:count", _COUNTER)

        async def body(ctx):
            sb = scripts.sandbox("node:local")
            return await run_lua_process(ctx, sb, scripts.prepare(sb, "t:count"), "main")

        pid = node.spawn(body)
        await trio.testing.wait_all_tasks_blocked()
        assert not hibernating(node, pid)
        node.send(pid, "add", 4)
        node.send(pid, "stop")
        assert await node.wait(pid) == (4, None)


async def test_terminated_hibernating_processes_are_swept(scripts, always_hibernate):
    # Killed while hibernating, a process runs no code: its Lua state is freed by the
    # sandbox's sweep once enough processes hibernated since (cycles through Lua).
    async with Node() as node:
        lua(scripts, node, "t:sel", """
            return {main = function()
              local i, e = process.inbox(), process.events()
              local r = channel.select{i:case_receive(), e:case_receive()}
              return r.channel == i
            end}""")
        first = [node.spawn("t:sel") for _ in range(100)]
        await trio.testing.wait_all_tasks_blocked()
        sleepers = scripts.sandbox("node:local").sleepers
        assert len(sleepers.drivers) == 100
        for pid in first:
            node.terminate(pid)
        second = [node.spawn("t:sel") for _ in range(100)]
        await trio.testing.wait_all_tasks_blocked()
        assert len(sleepers.drivers) == 100
        assert all(d.ctx.is_alive() for d in sleepers.drivers)
        node.send(second[0], "m")
        assert await node.wait(second[0]) == (True, None)


async def test_a_failed_async_call_delivers_the_error_itself_on_its_response_channel(scripts):
    # Wippy's future channel carries the error value (with its kind), not a payload.
    async with Node() as node:
        node.functions.register("t:fails", _raises_invalid)
        lua(scripts, node, "t:awaits", """
            local funcs = require("funcs")
            return {main = function()
              local value, ok = funcs.async("t:fails"):response():receive()
              return {ok = ok, kind = value:kind(), message = value:message()}
            end}""", modules=("funcs",))
        got = await node.exec("t:awaits")
        assert got["ok"] is True and got["kind"] == "Invalid"
        assert "bad input" in got["message"]


def _raises_invalid() -> None:
    raise Error("bad input", kind=ErrorKind.INVALID)
