"""Lua processes and functions (issue 3), measured in the same run as their Python twins.

Five scenarios; in the first four, the ``beamish`` row is the **Lua** implementation and
``python`` the same thing written as beamish Python processes/functions, so the ratio
``beamish ÷ python`` is the price of Lua (through the bridge's driver and lupa).

``lua_pingpong`` — two Lua processes, ``process.send`` + ``process.inbox():receive()``
on both sides; µs per round trip, timed inside the pinger (``time.now()``) after a
warm-up. Rows: Lua, beamish Python processes (``bench_pingpong.beamish``), the raw trio
floor. Target (issue 3): Lua <= 2x the Python process ping-pong.

``lua_spawn`` — spawn n Lua processes that block in ``inbox:receive()``; µs per spawn
until every one is parked (the sandbox exists already: it is created once per host).

``lua_memory`` — the same n idle processes: RSS delta / n, in bytes (with the Lua heap
share in ``extra``). Targets (issue 3): <= 4 KiB per idle Lua process, and (for
reference) below the ~13 KB per process that Wippy publishes.

``lua_call`` — ``funcs.call`` from a Lua process, µs per call: Lua -> Lua function
(``beamish``), Lua -> Python function, Python -> Python (``ctx.call``, the kernel's own
cost) and Python -> Lua.

``lua_dialect`` (issue 11) — ``Sandbox.compile`` of a ~1,000-line file written in Wippy's
typed dialect, µs per 1,000 lines: cold (``beamish``: the front-end erases the types,
then Lua compiles), ``cached`` (the same source again: the front-end's cache answers)
and ``lua_only`` (the erased text, plain Lua: Lua's own compile, the floor).
"""

from __future__ import annotations

import gc
from typing import Any

from ._common import WARMUP, clock, finish_now, rss_bytes
from ._harness import Scenario, Target

PONGER = """
return {main = function()
  local inbox = process.inbox()
  while true do
    local msg = inbox:receive()
    if msg:topic() == "stop" then return end
    process.send(msg:from(), "pong", msg:payload():data())
  end
end}
"""

PINGER = """
local time = require("time")
return {main = function(peer, n, warmup)
  local inbox = process.inbox()
  for i = 1, warmup do process.send(peer, "ping", i) inbox:receive() end
  local t = time.now()
  for i = 1, n do
    process.send(peer, "ping", i)
    inbox:receive()
  end
  local elapsed = time.now():sub(t):seconds()
  process.send(peer, "stop")
  return elapsed / n * 1e6
end}
"""

IDLE = "return {main = function() process.inbox():receive() end}"

CALLER = """
local funcs = require("funcs")
local time = require("time")
return {main = function(target, n, warmup)
  for i = 1, warmup do funcs.call(target, 1, 2) end
  local t = time.now()
  for i = 1, n do funcs.call(target, 1, 2) end
  return time.now():sub(t):seconds() / n * 1e6
end}
"""

ADD_LUA = "return {add = function(a, b) return a + b end}"


def _node_with(*entries: tuple[str, str, str, str, tuple[str, ...]]) -> Any:
    """(entry_id, kind, source, method, modules) -> a function installing them on a node."""
    from beamish.luabridge import LuaEntrySpec, LuaScripts

    scripts = LuaScripts()

    def install(node: Any) -> Any:
        for entry_id, kind, source, method, modules in entries:
            scripts.add(LuaEntrySpec(id=entry_id, kind=kind, source=source,
                                     chunkname=entry_id.split(":")[1] + ".lua",
                                     method=method, modules=modules))
            if kind == "process.lua":
                node.register_process(entry_id, scripts.process_body(entry_id))
            else:
                node.functions.register(entry_id, scripts.function(entry_id))
        return scripts

    return install


def add(a: int, b: int) -> int:
    return a + b


# -- ping-pong ---------------------------------------------------------------------------------

def pingpong_lua(n: int) -> float:
    import trio

    from beamish.actors import Node

    install = _node_with(
        ("bench:ponger", "process.lua", PONGER, "main", ()),
        ("bench:pinger", "process.lua", PINGER, "main", ("time",)),
    )

    async def main() -> float:
        async with Node() as node:
            install(node)
            peer = node.spawn("bench:ponger")
            return await node.exec("bench:pinger", str(peer), n, WARMUP)

    return trio.run(main)


def pingpong_python(n: int) -> float:
    from .bench_pingpong import beamish

    return beamish(n)


def pingpong_floor(n: int) -> float:
    from .bench_pingpong import floor

    return floor(n)


# -- spawn and memory ---------------------------------------------------------------------------

def _idle(n: int, lua: bool, shape: Any) -> dict[str, float]:
    """Spawn n idle processes; ``shape`` turns the raw figures into the sample's result,
    which ends the sample before the n processes are torn down (``finish_now``)."""
    import trio
    import trio.testing

    from beamish.actors import Node

    install = _node_with(("bench:idle", "process.lua", IDLE, "main", ()))

    async def idle_py(ctx: Any) -> None:
        await ctx.receive()

    async def main() -> dict[str, float]:
        async with Node(shutdown_timeout=0) as node:
            scripts = install(node)
            target = "bench:idle" if lua else idle_py
            node.spawn(target)  # creates the host's sandbox and warms the caches
            await trio.testing.wait_all_tasks_blocked()
            sb = scripts.sandbox("node:local") if lua else None
            gc.collect()
            before, lua_before = rss_bytes(), (sb.memory_used() if sb else 0)
            start = clock()
            for _ in range(n):
                node.spawn(target)
            await trio.testing.wait_all_tasks_blocked()
            spawn_s = clock() - start
            gc.collect()
            after, lua_after = rss_bytes(), (sb.memory_used() if sb else 0)
            result = finish_now(shape({
                "bytes": (after - before) / n,
                "spawn_us": spawn_s / n * 1e6,
                "lua_heap_bytes": (lua_after - lua_before) / n,
                "n": n,
            }))
            for pid in node.processes():
                node.terminate(pid)
        return result

    return trio.run(main)


def _as_spawn(r: dict[str, float]) -> dict[str, float]:
    return {"value": r["spawn_us"], "bytes": r["bytes"], "n": r["n"]}


def _as_memory_lua(r: dict[str, float]) -> dict[str, float]:
    return {"value": r["bytes"], "spawn_us": r["spawn_us"],
            "lua_heap_bytes": r["lua_heap_bytes"], "n": r["n"]}


def _as_memory_python(r: dict[str, float]) -> dict[str, float]:
    return {"value": r["bytes"], "spawn_us": r["spawn_us"], "n": r["n"]}


def spawn_lua(n: int) -> dict[str, float]:
    return _idle(n, True, _as_spawn)


def spawn_python(n: int) -> dict[str, float]:
    return _idle(n, False, _as_spawn)


def memory_lua(n: int) -> dict[str, float]:
    return _idle(n, True, _as_memory_lua)


def memory_python(n: int) -> dict[str, float]:
    return _idle(n, False, _as_memory_python)


# -- calls ----------------------------------------------------------------------------------------

def _call_from_lua(n: int, target: str) -> float:
    import trio

    from beamish.actors import Node

    install = _node_with(
        ("bench:caller", "process.lua", CALLER, "main", ("funcs", "time")),
        ("bench:add_lua", "function.lua", ADD_LUA, "add", ()),
    )

    async def main() -> float:
        async with Node() as node:
            install(node)
            node.functions.register("bench:add_py", add)
            return await node.exec("bench:caller", target, n, WARMUP)

    return trio.run(main)


def call_lua_to_lua(n: int) -> float:
    return _call_from_lua(n, "bench:add_lua")


def call_lua_to_python(n: int) -> float:
    return _call_from_lua(n, "bench:add_py")


def _call_from_python(n: int, target: str) -> float:
    import trio

    from beamish.actors import Node

    install = _node_with(("bench:add_lua", "function.lua", ADD_LUA, "add", ()))

    async def caller(ctx: Any) -> float:
        for _ in range(WARMUP):
            await ctx.call(target, 1, 2)
        start = clock()
        for _ in range(n):
            await ctx.call(target, 1, 2)
        return (clock() - start) / n * 1e6

    async def main() -> float:
        async with Node() as node:
            install(node)
            node.functions.register("bench:add_py", add)
            return await node.exec(caller)

    return trio.run(main)


def call_python_to_python(n: int) -> float:
    return _call_from_python(n, "bench:add_py")


def call_python_to_lua(n: int) -> float:
    return _call_from_python(n, "bench:add_lua")


# -- the typed-dialect front-end ---------------------------------------------------------------

#: One block of typed Lua (every construct the front-end erases, ~40 lines); the file
#: measured is this block repeated with fresh names up to ~1,000 lines.
TYPED_BLOCK = """\
type Point{i} = {{x: number, y: number, label?: string}}
export type Pair{i}<K, V> = {{key: K, value: V}}
type Handler{i} = (msg: any, n: number) -> (boolean, string?)

local function norm{i}(p: Point{i}): number
  local s: number = p.x * p.x + p.y * p.y
  return s
end

local function first{i}<T>(xs: {{T}}): T?
  return xs[1]
end

local function describe{i}(v: number | string | nil, ...: any): (string, number)
  local n: integer = select("#", ...)
  if v == nil then return "none", n end
  return tostring(v) :: string, n
end

local handlers{i}: {{[string]: Handler{i}}} = {{}}
handlers{i}.ping = function(msg: any, n: number): (boolean, string?)
  local data = (msg :: {{payload: any}}).payload
  local text: string = string(data) or ""
  return #text > n, nil
end

local function run{i}(items: readonly {{Point{i}}}): {{total: number, names: {{string}}}}
  local out: {{total: number, names: {{string}}}} = {{total = 0, names = {{}}}}
  for idx: integer, p: Point{i} in ipairs(items) do
    out.total = out.total + norm{i}(p)
    out.names[idx] = (p.label or "?") as string
  end
  local f: number? = first{i}({{1, 2, 3}})
  out.total = out.total + (f or 0)
  return out
end

"""


def _typed_source(lines: int = 1_000) -> str:
    parts: list[str] = []
    i = 0
    while sum(p.count("\n") for p in parts) < lines:
        parts.append(TYPED_BLOCK.format(i=i))
        i += 1
    return "".join(parts) + "return {run = run0}\n"


def _compile_per_kline(n: int, variant: str) -> float:
    """µs to compile the ~1,000-line typed file once, per 1,000 lines (median of n)."""
    import statistics

    from beamish.luabridge import Sandbox

    sb = Sandbox()
    typed = _typed_source()
    klines = typed.count("\n") / 1_000
    if variant == "plain":  # what lupa alone costs: the already-erased text
        sb.compile(typed, "warm.lua")
        from beamish.luabridge._dialect import erase_types

        typed = erase_types(typed)
    times = []
    for k in range(n):
        # cold: a unique first line makes every source new to the front-end's cache
        src = f"-- run {k}\n" + typed if variant == "cold" else typed
        t = clock()
        sb.compile(src, "typed.lua")
        times.append(clock() - t)
    return statistics.median(times) / klines * 1e6


def dialect_cold(n: int) -> float:
    return _compile_per_kline(n, "cold")


def dialect_cached(n: int) -> float:
    return _compile_per_kline(n, "cached")


def dialect_plain(n: int) -> float:
    return _compile_per_kline(n, "plain")


SCENARIOS = [
    Scenario(
        name="lua_pingpong",
        title="Lua ping-pong round trip (beamish row = Lua processes)",
        unit="µs/round trip",
        implementations={"beamish": pingpong_lua, "python": pingpong_python,
                         "floor": pingpong_floor},
        params={"n": 20_000},
        quick_params={"n": 3_000},
        targets=(
            Target("issue 3: Lua ping-pong <= 2x the Python process ping-pong", "max_ratio",
                   2.0, "python"),
        ),
    ),
    Scenario(
        name="lua_spawn",
        title="spawn an idle Lua process (10k; beamish row = Lua)",
        unit="µs/process",
        implementations={"beamish": spawn_lua, "python": spawn_python},
        params={"n": 10_000},
        quick_params={"n": 2_000},
        reps=3,
        quick_reps=1,
        timeout=300.0,
    ),
    Scenario(
        name="lua_memory",
        title="idle memory per Lua process (10k blocked in receive; beamish row = Lua)",
        unit="B/process",
        implementations={"beamish": memory_lua, "python": memory_python},
        params={"n": 10_000},
        quick_params={"n": 2_000},
        reps=2,
        quick_reps=1,
        targets=(
            Target("issue 3: <= 4 KiB RSS per idle Lua process", "max_value", 4096.0),
            Target("issue 3: below Wippy's published ~13 KB per process", "max_value", 13_000.0),
        ),
        timeout=300.0,
    ),
    Scenario(
        name="lua_call",
        title="funcs.call from a process (beamish row = Lua -> Lua)",
        unit="µs/call",
        implementations={"beamish": call_lua_to_lua, "lua_to_python": call_lua_to_python,
                         "python": call_python_to_python, "python_to_lua": call_python_to_lua},
        params={"n": 20_000},
        quick_params={"n": 3_000},
    ),
    Scenario(
        name="lua_dialect",
        title="compile a ~1,000-line typed Lua file (beamish row = front-end cold + Lua)",
        unit="µs/1,000 lines",
        implementations={"beamish": dialect_cold, "cached": dialect_cached,
                         "lua_only": dialect_plain},
        params={"n": 200},
        quick_params={"n": 30},
        note="cold: types erased then compiled; cached: the front-end's LRU answers, "
             "Lua still compiles; lua_only: the erased text compiled (the floor).",
    ),
]
