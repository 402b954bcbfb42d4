"""Idle memory per process: start n processes that block in receive; RSS delta / n.

The figure: bytes of resident memory per idle process (psutil RSS after minus before,
after a ``gc.collect()``, divided by n), in a fresh interpreter each time. The sample
also records the spawn time per process at that scale (``extra.spawn_us``), the other
half of issue 2's "100k processes" bullet. In-process implementations end the sample
right after measuring (``finish_now``: tearing 100k processes down measures nothing
and takes longer than spawning them); Pykka and Thespian shut down as usual.

* beamish: ``node.spawn(body)`` n times, each body awaiting ``ctx.receive()``;
* floor: a trio task per process parked in ``_floor.Mailbox.receive``;
* trio channels: a task per process with its own memory channel pair;
* asyncio: a task per process awaiting its own Queue;
* Pykka: a ThreadingActor per process (a thread each: small n);
* Thespian simpleSystemBase: an actor object per process;
* Thespian multiprocQueueBase: an OS process per actor (tiny n; RSS of the whole
  process tree, shared pages counted in each process, as ``ps`` would);
* triotp: a task per process in ``mailbox.receive`` on its own mailbox.

Target (issue 2): <= 4 KB (4,096 B) per idle beamish process.
"""

from __future__ import annotations

import gc
import math
from collections.abc import Callable
from typing import Any

from ._common import (
    clock,
    finish_now,
    pykka_actors,
    rss_bytes,
    thespian_system,
    tree_rss_bytes,
    triotp_run,
)
from ._harness import Scenario, Target

try:
    from thespian.actors import Actor as _ThespianActor
except ImportError:  # pragma: no cover
    _ThespianActor = object  # type: ignore[assignment,misc]


def _result(before: int, after: int, n: int, spawn_s: float) -> dict[str, float]:
    return {"value": (after - before) / n, "spawn_us": spawn_s / n * 1e6, "n": n}


async def _trio_settle() -> None:
    import trio.testing

    await trio.testing.wait_all_tasks_blocked()


async def _idle_tasks(n: int, task: Callable[[], tuple[Any, ...]]) -> dict[str, float]:
    """RSS per task for ``n`` plain trio tasks, each ``start_soon(*task())``, parked."""
    import trio

    async with trio.open_nursery() as nursery:
        await _trio_settle()
        gc.collect()
        before = rss_bytes()
        start = clock()
        for _ in range(n):
            nursery.start_soon(*task())
        await _trio_settle()
        spawn_s = clock() - start
        gc.collect()
        after = rss_bytes()
        result = finish_now(_result(before, after, n, spawn_s))
        nursery.cancel_scope.cancel()
    return result


def beamish(n: int) -> dict[str, float]:
    import trio

    from beamish.actors import Node

    async def idle(ctx: Any) -> None:
        await ctx.receive()

    async def main() -> dict[str, float]:
        async with Node(shutdown_timeout=0) as node:
            await _trio_settle()
            gc.collect()
            before = rss_bytes()
            start = clock()
            for _ in range(n):
                node.spawn(idle)
            await _trio_settle()
            spawn_s = clock() - start
            gc.collect()
            after = rss_bytes()
            result = finish_now(_result(before, after, n, spawn_s))
            for pid in node.processes():
                node.terminate(pid)
        return result

    return trio.run(main)


def floor(n: int) -> dict[str, float]:
    import trio

    from ._floor import Mailbox

    async def idle(box: Mailbox) -> None:
        await box.receive()

    return trio.run(_idle_tasks, n, lambda: (idle, Mailbox()))


def trio_channels(n: int) -> dict[str, float]:
    import trio

    async def idle() -> None:
        _send, recv = trio.open_memory_channel(math.inf)
        await recv.receive()

    return trio.run(_idle_tasks, n, lambda: (idle,))


def asyncio_(n: int) -> dict[str, float]:
    import asyncio

    async def idle(queue: asyncio.Queue[Any]) -> None:
        await queue.get()

    async def main() -> dict[str, float]:
        gc.collect()
        before = rss_bytes()
        start = clock()
        tasks = [asyncio.create_task(idle(asyncio.Queue())) for _ in range(n)]
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        spawn_s = clock() - start
        gc.collect()
        after = rss_bytes()
        result = finish_now(_result(before, after, n, spawn_s))
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        return result

    return asyncio.run(main())


def pykka(n: int) -> dict[str, float]:
    import pykka as _pykka

    class Idle(_pykka.ThreadingActor):
        pass

    with pykka_actors():
        Idle.start().stop()
        gc.collect()
        before = rss_bytes()
        start = clock()
        refs = [Idle.start() for _ in range(n)]
        spawn_s = clock() - start
        gc.collect()
        after = rss_bytes()
        del refs
    return _result(before, after, n, spawn_s)


class ThespianIdle(_ThespianActor):
    def receiveMessage(self, message: Any, sender: Any) -> None:
        if message == "ping":
            self.send(sender, "pong")


def _thespian(base: str, n: int, rss: Any) -> dict[str, float]:
    with thespian_system(base) as system:
        probe = system.createActor(ThespianIdle)
        system.ask(probe, "ping", 60)
        gc.collect()
        before = rss()
        start = clock()
        actors = [system.createActor(ThespianIdle) for _ in range(n)]
        for actor in actors:
            system.ask(actor, "ping", 60)  # every actor is really up
        spawn_s = clock() - start
        gc.collect()
        after = rss()
    return _result(before, after, n, spawn_s)


def thespian_simple(n: int) -> dict[str, float]:
    return _thespian("simpleSystemBase", n, rss_bytes)


def thespian_mp(n: int) -> dict[str, float]:
    return _thespian("multiprocQueueBase", n, tree_rss_bytes)


def triotp(n: int) -> dict[str, float]:
    from triotp import mailbox

    async def idle() -> None:
        async with mailbox.open() as mid:
            await mailbox.receive(mid)

    return triotp_run(_idle_tasks, n, lambda: (idle,))


SCENARIOS = [
    Scenario(
        name="memory",
        title="idle memory per process (100k blocked in receive)",
        unit="B/process",
        implementations={
            "beamish": beamish,
            "floor": floor,
            "trio_channels": trio_channels,
            "asyncio": asyncio_,
            "pykka": pykka,
            "thespian_simple": thespian_simple,
            "thespian_mp": thespian_mp,
            "triotp": triotp,
        },
        params={"n": 100_000},
        quick_params={"n": 10_000},
        overrides={
            "pykka": {"n": 1_000},
            "thespian_simple": {"n": 20_000},
            "thespian_mp": {"n": 8},
            "triotp": {"n": 50_000},
            "trio_channels": {"n": 50_000},
            "asyncio": {"n": 50_000},
        },
        reps=2,  # RSS barely moves between samples (see min–max)
        quick_reps=1,
        targets=(Target("issue 2: <= 4 KB RSS per idle process", "max_value", 4096.0),),
        timeout=300.0,
    )
]
