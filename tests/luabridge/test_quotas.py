"""What a Lua process makes its host hold is bounded by its host's ``limits``: queued
messages and bytes (``process.send``), live children (``process.spawn*``), live timers
(``time.after/timer/ticker/sleep``) and a spawn's start-up messages (``with_message``).

Each flood runs beside a heartbeat sibling on the same host: the flood is refused with
the documented error in the flooding script, and the sibling still answers afterwards.
Then the slot comes back when its cause goes away (a message is received, a child
exits, a timer is stopped, received or dropped). Times are generous ``trio.fail_after``
bounds that only catch a hang; no test asserts how fast anything is.
"""

from __future__ import annotations

import trio
from lua_helpers import HEARTBEAT, lua, ping

from beamish.actors import Limits, LocalHost, Node
from beamish.luabridge import LuaScripts

HOST = "t:h"
BOUND = 60

#: The bomb's return when refused: where it stopped and the error, as plain values.
REFUSED = """
local function refused(i, err)
  return {i = i, message = tostring(err), kind = err:kind(), retryable = err:retryable()}
end
"""

IDLE = "return {main = function() process.inbox():receive() end}"


async def flood(source: str, *args, **limits) -> dict:
    """Run ``source`` on a host with ``limits`` beside a heartbeat; return its result
    after checking that the heartbeat answered before and after."""
    scripts = LuaScripts()
    async with Node(shutdown_timeout=0.05) as node:
        node.add_host(LocalHost(HOST, limits=Limits().with_(**limits)))
        lua(scripts, node, "t:heartbeat", HEARTBEAT)
        lua(scripts, node, "t:idle", IDLE)
        lua(scripts, node, "t:bomb", REFUSED + source)
        heart = node.spawn("t:heartbeat", host=HOST)

        async def client(ctx):
            before = await ping(ctx, heart)
            result = await ctx.exec("t:bomb", *args, host=HOST)
            after = await ping(ctx, heart)
            assert after == before + 1  # the sibling lived through it, state intact
            return result

        with trio.fail_after(BOUND):
            return await node.exec(client)


def assert_refused(result: dict, setting: str, limit: int, *, kind: str = "RateLimited",
                   retryable: bool = True) -> None:
    assert f"limits.{setting} of host {HOST!r} is {limit}" in result["message"], result
    assert result["kind"] == kind
    assert result["retryable"] is retryable


# -- mailbox ----------------------------------------------------------------------------------

async def test_a_self_send_flood_is_refused_at_the_limit():
    result = await flood("""
        return {main = function()
          local me = process.pid()
          for i = 1, 1e7 do
            local ok, err = process.send(me, "t", i)
            if not ok then return refused(i, err) end
          end
        end}""", mailbox_messages=500)
    assert result["i"] == 501
    assert_refused(result, "mailbox_messages", 500)
    assert "its mailbox is full, 500 messages not yet received" in result["message"]


async def test_a_flood_of_strings_is_refused_by_its_bytes():
    result = await flood("""
        return {main = function()
          local me = process.pid()
          local s = string.rep("x", 1000)
          for i = 1, 1e7 do
            local ok, err = process.send(me, "t", s)
            if not ok then return refused(i, err) end
          end
        end}""", mailbox_bytes=10_000)
    assert result["i"] == 11
    assert_refused(result, "mailbox_bytes", 10_000)
    assert "cannot send 1000 payload bytes" in result["message"]


async def test_a_flood_of_tables_counts_their_string_bytes():
    result = await flood("""
        return {main = function()
          local me = process.pid()
          local t = {a = string.rep("x", 1000), list = {string.rep("y", 1000), 42}}
          for i = 1, 1e7 do
            local ok, err = process.send(me, "t", t, "tail")
            if not ok then return refused(i, err) end
          end
        end}""", mailbox_bytes=100_000, mailbox_messages=10_000)
    # each send carries a bit over 2000 bytes of strings (keys included), so about 50 fit
    assert 30 <= result["i"] <= 51, result
    assert_refused(result, "mailbox_bytes", 100_000)


async def test_a_full_mailbox_takes_messages_again_once_drained():
    result = await flood("""
        return {main = function()
          local me, inbox = process.pid(), process.inbox()
          for i = 1, 3 do assert(process.send(me, "t", string.rep("z", 10))) end
          local ok1, err1 = process.send(me, "t", 4)
          local got = inbox:receive():payload():data()
          local ok2 = process.send(me, "t", 5)
          local ok3, err3 = process.send(me, "t", 6)
          return {full = err1:kind(), got = got, again = ok2, full_again = err3 ~= nil}
        end}""", mailbox_messages=3)
    assert result == {"full": "RateLimited", "got": "z" * 10, "again": True,
                      "full_again": True}


async def test_a_python_receiver_is_protected_from_a_lua_sender_too():
    scripts = LuaScripts()
    async with Node(shutdown_timeout=0.05) as node:
        node.add_host(LocalHost(HOST, limits=Limits(mailbox_bytes=5_000)))
        lua(scripts, node, "t:sender", """
            return {main = function(dest)
              local s = string.rep("q", 1000)
              for i = 1, 100 do
                local ok, err = process.send(dest, "t", s)
                if not ok then return {i, err:kind()} end
              end
            end}""")

        async def receiver(ctx):
            await ctx.listen("never").receive()

        sink = node.spawn(receiver, host=HOST)
        with trio.fail_after(BOUND):
            assert await node.exec("t:sender", str(sink), host=HOST) == [6, "RateLimited"]
        assert node.process(sink).statistics()["queued_bytes"] == 5_000


# -- children -----------------------------------------------------------------------------------

async def test_a_spawn_loop_is_refused_at_the_children_limit():
    result = await flood("""
        return {main = function()
          for i = 1, 1e7 do
            local pid, err = process.spawn("t:idle", nil)
            if not pid then return refused(i, err) end
          end
        end}""", children=200)
    assert result["i"] == 201
    assert_refused(result, "children", 200)
    assert "already has 200 live children" in result["message"]


async def test_children_that_exit_give_their_slots_back():
    result = await flood("""
        return {main = function()
          local events = process.events()
          local kids = {}
          for i = 1, 3 do kids[i] = assert(process.spawn_monitored("t:idle", nil)) end
          local none, err = process.spawn("t:idle", nil)
          process.send(kids[1], "go")
          local ev = events:receive()
          local again = process.spawn("t:idle", nil)
          local over = process.spawn("t:idle", nil)
          return {refused = err:kind(), exited = ev.from == kids[1], again = again ~= nil,
                  over = over == nil}
        end}""", children=3)
    assert result == {"refused": "RateLimited", "exited": True, "again": True, "over": True}


# -- timers -------------------------------------------------------------------------------------

TIMER_BOMBS = {
    "after": "local ok, ch = pcall(time.after, '1h') if not ok then return refused(i, ch) end "
             "keep[i] = ch",
    "timer": "local t, err = time.timer('1h') if not t then return refused(i, err) end "
             "keep[i] = t",
    "ticker": "local t, err = time.ticker('1h') if not t then return refused(i, err) end "
              "keep[i] = t",
}


async def test_a_timer_bomb_of_each_kind_is_refused_at_the_limit():
    for name, body in TIMER_BOMBS.items():
        result = await flood(f"""
            return {{main = function()
              local keep = {{}}
              for i = 1, 1e7 do {body} end
            end}}""", timers=100)
        assert result["i"] == 101, name
        assert_refused(result, "timers", 100)
        assert "already has 100 live timers" in result["message"]


async def test_sleeps_beside_other_tasks_take_slots_and_give_them_back():
    result = await flood("""
        return {main = function()
          local done = channel.new(10)
          local keep = {time.after("1h"), time.after("1h")}   -- two slots of three
          for i = 1, 3 do
            coroutine.spawn(function()
              local ok, err = pcall(time.sleep, "20ms")
              done:send(ok and "slept" or err:kind())
            end)
          end
          local out = {}
          for i = 1, 3 do out[#out + 1] = done:receive() end
          table.sort(out)
          -- afterwards the sleeper's slot is free again
          local again = time.after("1h")
          return {out = out, again = again ~= nil}
        end}""", timers=3)
    # one slot was left: the first sleeper takes it, the other two are refused
    assert result == {"out": ["RateLimited", "RateLimited", "slept"], "again": True}


async def test_stopped_received_and_dropped_timers_free_their_slots():
    result = await flood("""
        return {main = function()
          local t1 = assert(time.timer("1h"))
          local t2 = assert(time.ticker("1h"))
          local a = time.after("1ms")
          local no_timer, err = time.timer("1h")
          assert(no_timer == nil and err:kind() == errors.RATE_LIMITED)
          t1:stop()                            -- stopped: free
          local t3 = assert(time.timer("1h"))
          a:receive()                          -- received: free
          local t4 = assert(time.ticker("1h"))
          t2:stop() t3:stop()
          local ok_reset = pcall(t1.reset, t1, "1h")   -- a stopped timer re-armed: one slot
          t4:stop()
          -- dropped: 50x the limit of unreferenced after channels, the collector frees them
          for i = 1, 150 do local _ = time.after("1h") end
          local ok, e = pcall(time.after, "1h")
          return {reset = ok_reset, dropped = ok or tostring(e)}
        end}""", timers=3)
    assert result == {"reset": True, "dropped": True}


async def test_a_select_loop_with_a_fresh_timeout_each_turn_never_runs_out():
    scripts = LuaScripts()
    async with Node(shutdown_timeout=0.05) as node:
        node.add_host(LocalHost(HOST, limits=Limits(timers=20)))
        lua(scripts, node, "t:loop", """
            return {main = function(n)
              local inbox, got = process.inbox(), 0
              while got < n do
                local r = channel.select{inbox:case_receive(), time.after("5s"):case_receive()}
                if r.channel == inbox then got = got + 1 end
              end
              return got
            end}""")

        async def client(ctx):
            pid = ctx.spawn("t:loop", 2000, host=HOST, monitor=True)
            for i in range(2000):
                ctx.send(pid, "m", i)
                if i % 10 == 0:
                    await ctx.sleep(0)
            return await ctx.events().receive()

        with trio.fail_after(BOUND):
            ev = await node.exec(client)
        assert ev.error is None and ev.value == 2000


# -- start-up messages ----------------------------------------------------------------------------

async def test_a_builder_refuses_messages_past_the_limit():
    result = await flood("""
        return {main = function()
          local b = process.with_options({})
          for i = 1, 1e7 do
            local ok, nb = pcall(b.with_message, b, "t", i)
            if not ok then
              return {i = i, message = tostring(nb), kind = nb:kind(), retryable = nb:retryable()}
            end
            b = nb
          end
        end}""", spawn_messages=20)
    assert result["i"] == 21
    assert_refused(result, "spawn_messages", 20, kind="Invalid", retryable=False)
    assert "cannot spawn with 21 start-up messages" in result["message"]


async def test_a_hand_made_builder_with_too_many_messages_is_refused_at_the_spawn():
    result = await flood("""
        return {main = function()
          local spawn = process.with_options({}).spawn
          local msgs = {}
          for i = 1, 50 do msgs[i] = {"t", table.pack(i)} end
          local pid, err = spawn({messages = msgs}, "t:idle", nil)
          local ok_pid = spawn({messages = {{"t", table.pack(1)}}}, "t:idle", nil)
          return {i = pid, message = tostring(err), kind = err:kind(),
                  retryable = err:retryable(), ok = ok_pid ~= nil}
        end}""", spawn_messages=20)
    assert result["ok"] is True
    assert_refused(result, "spawn_messages", 20, kind="Invalid", retryable=False)
    assert "cannot spawn with 50 start-up messages" in result["message"]



async def test_a_spawn_tree_stops_at_the_hosts_process_limit():
    scripts = LuaScripts()
    async with Node() as node:
        node.add_host(LocalHost("t:host", limits=Limits(processes=300, children=50)))
        lua(scripts, node, "t:fork", """
            return {main = function(report)
              for i = 1, 50 do
                local pid, err = process.spawn("t:fork", "t:host", report)
                if not pid then process.send(report, "refused", tostring(err)) break end
              end
              process.inbox():receive()
            end}""")

        async def collector(ctx):
            ctx.spawn("t:fork", str(ctx.pid), host="t:host")
            msg = await ctx.receive(timeout=30)
            return msg.topic, msg.data

        with trio.fail_after(60):
            topic, text = await node.exec(collector)
        assert topic == "refused"
        assert "limits.processes" in text
        assert node.host("t:host").statistics()["live"] <= 300


async def test_async_calls_in_flight_are_bounded():
    scripts = LuaScripts(limits=Limits(calls=20))
    async with Node() as node:
        lua(scripts, node, "t:slow", """
            return {main = function() time.sleep("50ms") return 1 end}""",
            kind="function.lua")
        lua(scripts, node, "t:flood", """
            return {main = function()
              local futures, refused = {}, nil
              for i = 1, 100 do
                local f, err = funcs.async("t:slow")
                if not f then refused = err break end
                futures[#futures + 1] = f
              end
              for _, f in ipairs(futures) do f:channel():receive() end
              local again = funcs.async("t:slow")   -- the slots are free again
              return {#futures, refused and refused:kind(), tostring(refused), again ~= nil}
            end}""")
        with trio.fail_after(60):
            started, kind, text, again = await node.exec("t:flood")
        assert started == 20
        assert kind == "RATE_LIMITED" or kind == "RateLimited"
        assert "limits.calls" in text
        assert again is True


async def test_listens_and_names_per_process_are_bounded():
    scripts = LuaScripts()
    async with Node() as node:
        node.add_host(LocalHost("t:host", limits=Limits(listens=5, names=3)))
        lua(scripts, node, "t:grab", """
            return {main = function()
              local listens, names = 0, 0
              local lerr, nerr
              for i = 1, 10 do
                local ok, e = pcall(process.listen, "topic" .. i)
                if not ok then lerr = tostring(e) break end
                listens = listens + 1
              end
              for i = 1, 10 do
                local ok, e = process.registry.register("name" .. i)
                if not ok then nerr = tostring(e) break end
                names = names + 1
              end
              process.unlisten(process.listen("topic1"))
              local again = pcall(process.listen, "fresh")
              return {listens, names, lerr, nerr, again}
            end}""")
        listens, names, lerr, nerr, again = await node.exec("t:grab", host="t:host")
        assert (listens, names) == (5, 3)
        assert "limits.listens" in lerr and "limits.names" in nerr
        assert again is True


async def test_unlisten_after_a_timer_was_made():
    # timer slots share the process's cache with listen channels; unlisten must skip them
    scripts = LuaScripts()
    async with Node() as node:
        lua(scripts, node, "t:un", """
            return {main = function()
              local topic = process.listen("t")
              local timeout = time.after("1h")
              process.unlisten(topic)
              local r = channel.select{timeout:case_receive(), default = true}
              return r.default == true
            end}""")
        assert await node.exec("t:un") is True
