"""Spawn + exit rate: start n processes that return at once, wait for every exit.

The figure: µs per process, from the first spawn until the parent knows that all n have
exited (what a supervisor or a pool needs to know). Each child gets what the runtime
gives every process (a mailbox); the parent learns of each exit through a message.

* beamish: a parent process ``spawn(body, monitor=True)`` n times and receives n EXIT
  events from ``ctx.events()``;
* floor: a trio task per child, each with its own ``_floor.Mailbox``, that puts an exit
  note into the parent's mailbox;
* trio channels: a task per child with its own memory channel pair;
* asyncio: a task per child with its own Queue, ``gather`` at the end;
* Pykka: ``Actor.start()`` then ``ref.stop()`` (blocks until the thread is gone);
* Thespian: a spawner actor creates n children, sends each ``ActorExitRequest`` and
  answers when it has n ``ChildActorExited`` notices;
* triotp: a task per child that opens (and so destroys) its own mailbox.
"""

from __future__ import annotations

import math
from typing import Any

from ._common import clock, pykka_actors, thespian_system, triotp_run
from ._harness import Scenario

try:
    from thespian.actors import Actor as _ThespianActor
    from thespian.actors import ActorExitRequest, ChildActorExited
except ImportError:  # pragma: no cover
    _ThespianActor = object  # type: ignore[assignment,misc]


def beamish(n: int) -> float:
    import trio

    from beamish.actors import Node

    async def child(ctx: Any) -> None:
        return None

    async def parent(ctx: Any, n: int) -> float:
        events = ctx.events()
        start = clock()
        for _ in range(n):
            ctx.spawn(child, monitor=True)
        for _ in range(n):
            await events.receive()
        return (clock() - start) / n * 1e6

    async def main() -> float:
        async with Node() as node:
            return await node.exec(parent, n)

    return trio.run(main)


def floor(n: int) -> float:
    import trio

    from ._floor import Mailbox

    async def main() -> float:
        parent = Mailbox()

        async def child(i: int) -> None:
            Mailbox()
            parent.put(i)

        async with trio.open_nursery() as nursery:
            start = clock()
            for i in range(n):
                nursery.start_soon(child, i)
            for _ in range(n):
                await parent.receive()
            elapsed = clock() - start
        return elapsed / n * 1e6

    return trio.run(main)


def trio_channels(n: int) -> float:
    import trio

    async def main() -> float:
        to_parent, parent = trio.open_memory_channel(math.inf)

        async def child(i: int) -> None:
            trio.open_memory_channel(math.inf)
            to_parent.send_nowait(i)

        async with trio.open_nursery() as nursery:
            start = clock()
            for i in range(n):
                nursery.start_soon(child, i)
            for _ in range(n):
                await parent.receive()
            elapsed = clock() - start
        return elapsed / n * 1e6

    return trio.run(main)


def asyncio_(n: int) -> float:
    import asyncio

    async def main() -> float:
        parent: asyncio.Queue[Any] = asyncio.Queue()

        async def child(i: int) -> None:
            asyncio.Queue()
            parent.put_nowait(i)

        start = clock()
        tasks = [asyncio.create_task(child(i)) for i in range(n)]
        for _ in range(n):
            await parent.get()
        elapsed = clock() - start
        await asyncio.gather(*tasks)
        return elapsed / n * 1e6

    return asyncio.run(main())


def pykka(n: int) -> float:
    import pykka as _pykka

    class Child(_pykka.ThreadingActor):
        pass

    with pykka_actors():
        Child.start().stop()
        start = clock()
        for _ in range(n):
            Child.start().stop()
        elapsed = clock() - start
    return elapsed / n * 1e6


class ThespianChild(_ThespianActor):
    def receiveMessage(self, message: Any, sender: Any) -> None:
        pass


class ThespianSpawner(_ThespianActor):
    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.pending = 0
        self.requester: Any = None

    def receiveMessage(self, message: Any, sender: Any) -> None:
        if isinstance(message, int):
            self.requester, self.pending = sender, message
            for _ in range(message):
                self.send(self.createActor(ThespianChild), ActorExitRequest())
        elif isinstance(message, ChildActorExited):
            self.pending -= 1
            if self.pending == 0:
                self.send(self.requester, "done")


def _thespian(base: str, n: int) -> float:
    with thespian_system(base) as system:
        spawner = system.createActor(ThespianSpawner)
        assert system.ask(spawner, 1, 60) == "done"
        start = clock()
        assert system.ask(spawner, n, 300) == "done"
        elapsed = clock() - start
    return elapsed / n * 1e6


def thespian_simple(n: int) -> float:
    return _thespian("simpleSystemBase", n)


def thespian_mp(n: int) -> float:
    return _thespian("multiprocQueueBase", n)


def triotp(n: int) -> float:
    import trio
    from triotp import mailbox

    async def main() -> float:
        done = trio.Event()
        left = n

        async def child() -> None:
            nonlocal left
            async with mailbox.open():
                pass
            left -= 1
            if left == 0:
                done.set()

        async with trio.open_nursery() as nursery:
            start = clock()
            for _ in range(n):
                nursery.start_soon(child)
            await done.wait()
            elapsed = clock() - start
        return elapsed / n * 1e6

    return triotp_run(main)


SCENARIOS = [
    Scenario(
        name="spawn",
        title="spawn + exit (parent notified of each exit)",
        unit="µs/process",
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
        params={"n": 20_000},
        quick_params={"n": 5_000},
        overrides={
            "pykka": {"n": 500},
            "thespian_simple": {"n": 5_000},
            "thespian_mp": {"n": 10},
            "triotp": {"n": 10_000},
        },
        rep_caps={"thespian_mp": 3, "pykka": 3},  # slow peers: their figure is stable
    )
]
