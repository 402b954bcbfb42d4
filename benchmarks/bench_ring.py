"""Ring: N processes in a circle pass one token around R times (N x R hops).

The figure: µs per hop (one message plus one context switch), timed from the first send
until the token is back for the R-th time; building the ring is not timed. The full
run is the classic 10,000 processes x 100 laps = 1,000,000 hops; slow peers run a
smaller ring (per-hop figures stay comparable; the table shows the size used).

* beamish: N-1 relay processes, each ``receive``s and ``send``s to the next PID; the
  starter process closes the ring and counts laps;
* floor: the same with ``_floor.Mailbox`` and trio tasks;
* trio channels, asyncio.Queue: the same shape;
* Pykka: ``tell`` from actor to actor; the last hop sets a ``threading.Event``;
* Thespian: ``ask`` the first actor once; the token carries its hop count and the last
  actor answers the asker;
* triotp: mailboxes; every send is a rendezvous.
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


def beamish(size: int, laps: int) -> float:
    import trio

    from beamish.actors import Node

    async def relay(ctx: Any, nxt: Any) -> None:
        while True:
            msg = await ctx.receive()
            ctx.send(nxt, "token", msg.payload[0])
            if msg.payload[0] <= 0:
                return

    async def starter(ctx: Any, size: int, laps: int) -> float:
        nxt = ctx.pid
        for _ in range(size - 1):
            nxt = ctx.spawn(relay, nxt)
        await ctx.sleep(0)
        start = clock()
        for lap in range(laps, 0, -1):
            ctx.send(nxt, "token", lap - 1)
            await ctx.receive()
        elapsed = clock() - start
        return elapsed / (size * laps) * 1e6

    async def main() -> float:
        async with Node() as node:
            return await node.exec(starter, size, laps)

    return trio.run(main)


def floor(size: int, laps: int) -> float:
    import trio

    from ._floor import Mailbox

    async def main() -> float:
        first = Mailbox()

        async def relay(box: Mailbox, nxt: Mailbox) -> None:
            while True:
                token = await box.receive()
                nxt.put(token)
                if token <= 0:
                    return

        async with trio.open_nursery() as nursery:
            nxt = first
            for _ in range(size - 1):
                box = Mailbox()
                nursery.start_soon(relay, box, nxt)
                nxt = box
            await trio.sleep(0)
            start = clock()
            for lap in range(laps, 0, -1):
                nxt.put(lap - 1)
                await first.receive()
            elapsed = clock() - start
        return elapsed / (size * laps) * 1e6

    return trio.run(main)


def trio_channels(size: int, laps: int) -> float:
    import trio

    async def main() -> float:
        first_send, first_recv = trio.open_memory_channel(math.inf)

        async def relay(recv: Any, nxt: Any) -> None:
            while True:
                token = await recv.receive()
                nxt.send_nowait(token)
                if token <= 0:
                    return

        async with trio.open_nursery() as nursery:
            nxt = first_send
            for _ in range(size - 1):
                send, recv = trio.open_memory_channel(math.inf)
                nursery.start_soon(relay, recv, nxt)
                nxt = send
            await trio.sleep(0)
            start = clock()
            for lap in range(laps, 0, -1):
                nxt.send_nowait(lap - 1)
                await first_recv.receive()
            elapsed = clock() - start
        return elapsed / (size * laps) * 1e6

    return trio.run(main)


def asyncio_(size: int, laps: int) -> float:
    import asyncio

    async def main() -> float:
        first: asyncio.Queue[Any] = asyncio.Queue()

        async def relay(queue: asyncio.Queue[Any], nxt: asyncio.Queue[Any]) -> None:
            while True:
                token = await queue.get()
                nxt.put_nowait(token)
                if token <= 0:
                    return

        tasks, nxt = [], first
        for _ in range(size - 1):
            queue: asyncio.Queue[Any] = asyncio.Queue()
            tasks.append(asyncio.create_task(relay(queue, nxt)))
            nxt = queue
        await asyncio.sleep(0)
        start = clock()
        for lap in range(laps, 0, -1):
            nxt.put_nowait(lap - 1)
            await first.get()
        elapsed = clock() - start
        await asyncio.gather(*tasks)
        return elapsed / (size * laps) * 1e6

    return asyncio.run(main())


def pykka(size: int, laps: int) -> float:
    import threading

    import pykka as _pykka

    done = threading.Event()

    class Relay(_pykka.ThreadingActor):
        def __init__(self, nxt: Any) -> None:
            super().__init__()
            self.nxt = nxt

        def on_receive(self, hops: Any) -> None:
            if hops <= 0:
                done.set()
            else:
                self.nxt.tell(hops - 1)

    class Closer(_pykka.ThreadingActor):
        def __init__(self) -> None:
            super().__init__()
            self.nxt: Any = None

        def on_receive(self, message: Any) -> None:
            if isinstance(message, tuple):
                self.nxt = message[1]
            elif message <= 0:
                done.set()
            else:
                self.nxt.tell(message - 1)

    with pykka_actors():
        closer = Closer.start()
        nxt = closer
        for _ in range(size - 1):
            nxt = Relay.start(nxt)
        closer.ask(("next", nxt))
        start = clock()
        closer.tell(size * laps)
        done.wait()
        elapsed = clock() - start
    return elapsed / (size * laps) * 1e6


class ThespianRelay(_ThespianActor):
    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.nxt: Any = None

    def receiveMessage(self, message: Any, sender: Any) -> None:
        if isinstance(message, tuple):
            if message[0] == "next":
                self.nxt = message[1]
                self.send(sender, "ok")
            else:  # ("token", hops, asker)
                _, hops, asker = message
                if asker is None:  # the first hop: the sender is the outside asker
                    asker = sender
                if hops <= 0:
                    self.send(asker, "done")
                else:
                    self.send(self.nxt, ("token", hops - 1, asker))


def _thespian(base: str, size: int, laps: int) -> float:
    with thespian_system(base) as system:
        actors = [system.createActor(ThespianRelay) for _ in range(size)]
        for i, actor in enumerate(actors):
            system.ask(actor, ("next", actors[(i + 1) % size]), 60)
        start = clock()
        assert system.ask(actors[0], ("token", size * laps, None), 600) == "done"
        elapsed = clock() - start
    return elapsed / (size * laps) * 1e6


def thespian_simple(size: int, laps: int) -> float:
    return _thespian("simpleSystemBase", size, laps)


def thespian_mp(size: int, laps: int) -> float:
    return _thespian("multiprocQueueBase", size, laps)


def triotp(size: int, laps: int) -> float:
    import trio
    from triotp import mailbox

    async def main() -> float:
        async def relay(nxt: str, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
            async with mailbox.open() as mid:
                task_status.started(mid)
                while True:
                    token = await mailbox.receive(mid)
                    await mailbox.send(nxt, token)
                    if token <= 0:
                        return

        async with mailbox.open() as me, trio.open_nursery() as nursery:
            nxt = me
            for _ in range(size - 1):
                nxt = await nursery.start(relay, nxt)
            start = clock()
            for lap in range(laps, 0, -1):
                await mailbox.send(nxt, lap - 1)
                await mailbox.receive(me)
            elapsed = clock() - start
        return elapsed / (size * laps) * 1e6

    return triotp_run(main)


SCENARIOS = [
    Scenario(
        name="ring",
        title="ring of 10,000 processes, token passed 100 laps",
        unit="µs/hop",
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
        params={"size": 10_000, "laps": 100},
        quick_params={"size": 1_000, "laps": 10},
        overrides={
            "pykka": {"size": 1_000, "laps": 10},
            "thespian_simple": {"laps": 10},
            "thespian_mp": {"size": 8, "laps": 20},
            "floor": {"laps": 30},  # per-hop figures: laps only repeat the same hops
            "triotp": {"laps": 10},
            "trio_channels": {"laps": 20},
            "asyncio": {"laps": 20},
        },
        reps=3,
        timeout=300.0,
    )
]
