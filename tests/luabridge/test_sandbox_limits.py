"""Resource bombs beside a heartbeat sibling: the bomb's process is stopped, within a
bounded time, with a reason naming the limit, and the sibling on the same host keeps
answering.

Times here are generous upper bounds (``trio.fail_after``) that only catch a hang;
no test asserts how fast anything is.
"""

from __future__ import annotations

import pytest
import trio
from lua_helpers import HEARTBEAT, lua, ping

from beamish.actors import Limits, Node, ProcessExit
from beamish.luabridge import LuaScripts

MiB = 1024 * 1024
LIMITS = Limits(memory=256 * MiB, process_memory=32 * MiB, step_timeout=0.5)


async def run_bomb(source: str, limits: Limits = LIMITS) -> ProcessExit:
    """Run ``source`` as a process beside a heartbeat; return how the bomb ended."""
    scripts = LuaScripts(limits=limits)
    async with Node() as node:
        lua(scripts, node, "t:heartbeat", HEARTBEAT)
        lua(scripts, node, "t:bomb", source)
        heart = node.spawn("t:heartbeat")

        async def client(ctx):
            before = await ping(ctx, heart)
            with pytest.raises(ProcessExit) as info:
                await ctx.exec("t:bomb")
            after = await ping(ctx, heart)
            assert after == before + 1  # the sibling lived through it, state intact
            return info.value

        with trio.fail_after(120):
            exit = await node.exec(client)
        node.terminate(heart)  # it ignores CANCEL, as a plain Lua loop does
        return exit


async def run_alone(source: str) -> object:
    """Run ``source`` as a process under :data:`LIMITS`; its result (it must succeed)."""
    scripts = LuaScripts(limits=LIMITS)
    async with Node() as node:
        lua(scripts, node, "t:alone", source)
        with trio.fail_after(120):
            return await node.exec("t:alone")


def reason(exit: ProcessExit) -> str:
    return (exit.error.details or {}).get("reason", "")


# -- 3. whatever a step calls, it is stopped in bounded time ------------------------------------

CPU_BOMBS = {
    "table.move over a huge range": "table.move({}, 1, 2^50, 2)",
    "repeating an empty string 2^62 times": "string.rep('', 2^62)",
    "repeating with an empty separator, as a method": "local e = '' e:rep(2^60, '')",
    "plain find on a MiB string, in a loop":
        "local s = string.rep('x', 4 * 2^20) while true do s:find('y', 1, true) end",
    "upper on a MiB string, in a loop":
        "local s = string.rep('x', 4 * 2^20) while true do local _ = s:upper() end",
    "concatenating a MiB string, in a loop":
        "local s = string.rep('x', 8 * 2^20) while true do local _ = s .. 'y' end",
    "comparing two long strings, in a loop":
        "local a = string.rep('x', 8 * 2^20) .. 'a' local b = string.rep('x', 8 * 2^20) .. 'b' "
        "local n = 0 while true do if a == b then n = n + 1 end end",
    "a huge format layout, in a loop":
        "local ones = {} for i = 1, 200 do ones[i] = 1 end "
        "local fmt = string.rep('%99d', 200) "
        "while true do local _ = string.format(fmt, table.unpack(ones)) end",
    "sorting a big table, in a loop":
        "local t = {} for i = 1, 200000 do t[i] = (i * 7919) % 200000 end "
        "while true do table.sort(t) end",
    "inserting at the front of a big table, in a loop":
        "local t = {} for i = 1, 200000 do t[i] = i end "
        "while true do table.insert(t, 1, 0) table.remove(t, 1) end",
    "utf8.len of a MiB string, in a loop":
        "local s = string.rep('x', 4 * 2^20) while true do utf8.len(s) end",
    "tonumber of a huge digit string, in a loop":
        "local s = '1' .. string.rep('0', 2^20) while true do tonumber(s) end",
    "table.concat of a big table, in a loop":
        "local t = {} for i = 1, 100000 do t[i] = '' end while true do table.concat(t) end",
    "unpacking a big table, in a loop":
        "local t = {} for i = 1, 100000 do t[i] = i end "
        "while true do select('#', table.unpack(t)) end",
    "a pcall loop swallowing the stop":
        "while true do pcall(function() while true do end end) end",
}


@pytest.mark.parametrize("name", sorted(CPU_BOMBS))
async def test_a_runaway_step_is_stopped_and_siblings_keep_answering(name):
    exit = await run_bomb(f"return {{main = function() {CPU_BOMBS[name]} end}}")
    assert reason(exit) in ("step_timeout", "instruction_budget"), exit


BACKTRACKING = {
    "nested repetitions": 'string.find(string.rep("a", 5000), string.rep("a*", 12) .. "b")',
    "lazy repetitions": 'string.find(string.rep("a", 100000), ".-.-.-.-b")',
    "optional items":
        'string.match(string.rep("a", 40), string.rep("a?", 40) .. string.rep("a", 40) .. "b")',
    "back-references": 'string.find(string.rep("a", 20000), "(.-)%1b")',
    "gsub with a costly pattern": 'string.gsub(string.rep("a", 20000), "a*a*a*b", "x")',
    "gmatch with a costly pattern":
        'for _ in string.gmatch(string.rep("a", 50000), "a-a-a-b") do end',
    "as a method": 'local s = string.rep("a", 50000) s:match("^(.-)(.-)(.-)b")',
}


@pytest.mark.parametrize("name", sorted(BACKTRACKING))
async def test_a_backtracking_pattern_is_stopped_and_siblings_keep_answering(name):
    exit = await run_bomb(f"return {{main = function() {BACKTRACKING[name]} end}}")
    assert reason(exit) in ("step_timeout", "instruction_budget"), exit


async def test_a_cheap_pattern_still_runs_in_full():
    assert await run_alone("""return {main = function()
        local s = string.rep("alpha beta  gamma ", 2000)
        local n = 0
        for w in s:gmatch("%a+") do n = n + 1 end
        local trimmed = ("   padded   "):match("^%s*(.-)%s*$")
        local replaced, count = s:gsub("beta", "B")
        return {n, trimmed, count, #replaced}
    end}""") == [6000, "padded", 2000, 2000 * 15]


async def test_the_step_timeout_is_configurable():
    exit = await run_bomb("return {main = function() local n = 0 while true do n = n + 1 end end}",
                          limits=LIMITS.with_(step_timeout=0.05, instruction_budget=10**12))
    assert reason(exit) == "step_timeout"
    assert "0.05 s" in exit.error.message


# -- 7. the process holding the memory is the one stopped -----------------------------------

async def test_memory_kept_in_pcall_pieces_stops_its_holder_not_a_sibling():
    exit = await run_bomb("""return {main = function()
        local keep = {}
        while true do   -- grab memory until the host refuses, keep every piece
          local ok = pcall(function() keep[#keep + 1] = string.rep("m", 2^20) .. #keep end)
          if not ok then break end
        end
        time.sleep("10ms")   -- yield, holding it all
        return #keep
    end}""")
    assert reason(exit) in ("process_memory", "max_memory"), exit


async def test_memory_grown_slowly_across_steps_stops_its_holder():
    exit = await run_bomb("""return {main = function()
        local keep = {}
        for i = 1, 10000 do   -- 1 MiB per step, never much in one step
          keep[i] = string.rep("s", 2^20) .. i
          time.sleep("1ms")
        end
        return #keep
    end}""")
    assert reason(exit) == "process_memory", exit
    assert "limits.process_memory" in exit.error.message


async def test_garbage_is_not_held_memory():
    assert await run_alone("""return {main = function()
        local total = 0
        for i = 1, 300 do   -- 300 MiB of garbage in all, little of it live at once
          local s = string.rep("g", 2^20) .. i
          total = total + #s
          time.sleep("0ms")
        end
        return total
    end}""") > 300 * MiB


async def test_a_process_under_its_quota_keeps_its_memory():
    assert await run_alone("""return {main = function()
        local keep = {}
        for i = 1, 20 do keep[i] = string.rep("k", 2^20) .. i; time.sleep("1ms") end
        return #keep
    end}""") == 20


async def test_strings_buffered_in_a_channel_count_against_the_quota():
    exit = await run_bomb("""return {main = function()
        local ch = channel.new(1000000)
        for i = 1, 1000000 do ch:send(string.rep("c", 2^20) .. i) end
    end}""")
    assert reason(exit) == "process_memory", exit
    assert "channel buffers" in exit.error.message


async def test_a_drained_channel_frees_its_quota():
    assert await run_alone("""return {main = function()
        local ch = channel.new(64)
        local n = 0
        for round = 1, 20 do   -- 20 x 16 MiB through a 32 MiB quota
          for i = 1, 16 do ch:send(string.rep("d", 2^20)) end
          for i = 1, 16 do n = n + #ch:receive() end
        end
        return n
    end}""") == 20 * 16 * MiB


async def test_costly_host_calls_in_a_loop_are_stopped():
    exit = await run_bomb("""return {main = function()
        local doc = "[" .. string.rep("1,", 200000) .. "1]"
        while true do pcall(json.decode, doc) end
    end}""")
    assert reason(exit) in ("step_timeout", "instruction_budget"), exit


async def test_big_sends_in_a_loop_are_stopped():
    exit = await run_bomb("""return {main = function()
        local t = {} for i = 1, 100000 do t[i] = i end
        while true do pcall(process.send, "{node:local|0x99999}", "x", t) end
    end}""", limits=LIMITS.with_(step_timeout=0.2))
    assert reason(exit) in ("step_timeout", "instruction_budget"), exit
