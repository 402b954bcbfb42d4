"""One-way throughput: a producer sends n small messages to a consumer that counts them.

The figure: µs per message (1 / rate), from the first send until the consumer has
received the last one. The producer sends in bursts of ``burst`` messages and yields
to the scheduler between bursts (what a real producer that also receives would do), so
the consumer's mailbox holds at most one burst: this measures the mailbox's nowait
path and its drain-on-a-budget, not an ever-growing queue.

* beamish: ``ctx.send`` in a loop, ``ctx.sleep(0)`` between bursts; the consumer calls
  ``ctx.receive()`` n times and then messages the producer;
* floor: ``Mailbox.put`` / ``Mailbox.receive`` (no checkpoint while items are queued);
* trio channels (unbounded buffer, ``send_nowait``), asyncio.Queue (``put_nowait``);
* Pykka: ``ref.tell`` n times, then one ``ask`` that returns the count;
* Thespian: ``system.tell`` n times, then one ``ask``;
* triotp: ``await mailbox.send`` (unbuffered: every message is a rendezvous).
"""

from __future__ import annotations

import math
from typing import Any

from ._common import clock, pykka_actors, thespian_system, triotp_run
from ._harness import Scenario

try:
    from thespian.actors import Actor as _ThespianActor
except ImportError:  # pragma: no cover
    _ThespianActor = object  # type: ignore[assignment,misc]


def beamish(n: int, burst: int) -> float:
    import trio

    from beamish.actors import Node

    async def consumer(ctx: Any, n: int, producer: Any) -> None:
        for _ in range(n):
            await ctx.receive()
        ctx.send(producer, "done")

    async def producer(ctx: Any, n: int, burst: int) -> float:
        peer = ctx.spawn(consumer, n, ctx.pid)
        await ctx.sleep(0)
        start = clock()
        for i in range(n):
            ctx.send(peer, "msg", i)
            if i % burst == burst - 1:
                await ctx.sleep(0)
        await ctx.receive()
        return (clock() - start) / n * 1e6

    async def main() -> float:
        async with Node() as node:
            return await node.exec(producer, n, burst)

    return trio.run(main)


def floor(n: int, burst: int) -> float:
    import trio

    from ._floor import Mailbox

    async def main() -> float:
        box, done = Mailbox(), Mailbox()

        async def consumer() -> None:
            for _ in range(n):
                await box.receive()
            done.put(True)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(consumer)
            await trio.sleep(0)
            start = clock()
            for i in range(n):
                box.put(i)
                if i % burst == burst - 1:
                    await trio.sleep(0)
            await done.receive()
            return (clock() - start) / n * 1e6

    return trio.run(main)


def trio_channels(n: int, burst: int) -> float:
    import trio

    async def main() -> float:
        send, recv = trio.open_memory_channel(math.inf)
        done = trio.Event()

        async def consumer() -> None:
            for _ in range(n):
                await recv.receive()
            done.set()

        async with trio.open_nursery() as nursery:
            nursery.start_soon(consumer)
            await trio.sleep(0)
            start = clock()
            for i in range(n):
                send.send_nowait(i)
                if i % burst == burst - 1:
                    await trio.sleep(0)
            await done.wait()
            return (clock() - start) / n * 1e6

    return trio.run(main)


def asyncio_(n: int, burst: int) -> float:
    import asyncio

    async def main() -> float:
        queue: asyncio.Queue[Any] = asyncio.Queue()
        done = asyncio.Event()

        async def consumer() -> None:
            for _ in range(n):
                await queue.get()
            done.set()

        task = asyncio.create_task(consumer())
        await asyncio.sleep(0)
        start = clock()
        for i in range(n):
            queue.put_nowait(i)
            if i % burst == burst - 1:
                await asyncio.sleep(0)
        await done.wait()
        elapsed = clock() - start
        await task
        return elapsed / n * 1e6

    return asyncio.run(main())


def pykka(n: int, burst: int) -> float:
    import pykka as _pykka

    class Counter(_pykka.ThreadingActor):
        def __init__(self) -> None:
            super().__init__()
            self.count = 0

        def on_receive(self, message: Any) -> Any:
            if message == "count?":
                return self.count
            self.count += 1
            return None

    with pykka_actors():
        ref = Counter.start()
        ref.ask("count?")
        start = clock()
        for i in range(n):
            ref.tell(i)
        got = ref.ask("count?")
        elapsed = clock() - start
    assert got == n, got
    return elapsed / n * 1e6


class ThespianCounter(_ThespianActor):
    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.count = 0

    def receiveMessage(self, message: Any, sender: Any) -> None:
        if message == "count?":
            self.send(sender, self.count)
        elif isinstance(message, int):
            self.count += 1


def _thespian(base: str, n: int) -> float:
    with thespian_system(base) as system:
        counter = system.createActor(ThespianCounter)
        system.ask(counter, "count?", 10)
        start = clock()
        for i in range(n):
            system.tell(counter, i)
        got = system.ask(counter, "count?", 60)
        elapsed = clock() - start
    assert got == n, got
    return elapsed / n * 1e6


def thespian_simple(n: int, burst: int) -> float:
    return _thespian("simpleSystemBase", n)


def thespian_mp(n: int, burst: int) -> float:
    return _thespian("multiprocQueueBase", n)


def triotp(n: int, burst: int) -> float:
    import trio
    from triotp import mailbox

    async def main() -> float:
        done = trio.Event()

        async def consumer(task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
            async with mailbox.open() as mid:
                task_status.started(mid)
                for _ in range(n):
                    await mailbox.receive(mid)
                done.set()

        async with trio.open_nursery() as nursery:
            peer = await nursery.start(consumer)
            start = clock()
            for i in range(n):
                await mailbox.send(peer, i)
            await done.wait()
            return (clock() - start) / n * 1e6

    return triotp_run(main)


SCENARIOS = [
    Scenario(
        name="throughput",
        title="one-way throughput",
        unit="µs/message",
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
        params={"n": 200_000, "burst": 1_000},
        quick_params={"n": 20_000, "burst": 1_000},
        overrides={
            "pykka": {"n": 20_000},
            "thespian_simple": {"n": 50_000},
            "thespian_mp": {"n": 2_000},
            "triotp": {"n": 50_000},
            "trio_channels": {"n": 50_000},
        },
        rep_caps={"thespian_mp": 3, "pykka": 3},  # slow peers: their figure is stable
    )
]
