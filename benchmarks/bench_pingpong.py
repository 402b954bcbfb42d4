"""Ping-pong round trip: one process sends a message, another sends it back.

The figure: µs per round trip (two messages, two context switches), after a warm-up.
Every implementation uses its idiomatic "request, wait for the answer" path:

* beamish: two processes, ``ctx.send`` + ``ctx.receive`` on both sides;
* floor: two hand-written deque mailboxes (``_floor.Mailbox``), two trio tasks;
* trio memory channels, asyncio.Queue: the same shape with the library's queue;
* Pykka: ``ref.ask(msg)`` from the main thread to a ``ThreadingActor``;
* Thespian: ``ActorSystem().ask(addr, msg)`` (through the admin process for multiproc);
* triotp: two ``mailbox.open()`` mailboxes; its sends are unbuffered (a rendezvous).

Targets (issue 2): round trip <= 1.5x the floor, and >= 5x faster than Pykka's ask.
"""

from __future__ import annotations

from typing import Any

from ._common import WARMUP, clock, pykka_actors, thespian_system, triotp_run
from ._harness import Scenario, Target

try:  # Thespian actor classes must be importable by name (multiproc pickles them)
    from thespian.actors import Actor as _ThespianActor
except ImportError:  # pragma: no cover - the peer is optional
    _ThespianActor = object  # type: ignore[assignment,misc]


def beamish(n: int) -> float:
    import trio

    from beamish.actors import Node

    async def ponger(ctx: Any) -> None:
        while True:
            msg = await ctx.receive()
            if msg.topic == "stop":
                return
            ctx.send(msg.sender, "pong", msg.payload[0])

    async def pinger(ctx: Any, n: int) -> float:
        peer = ctx.spawn(ponger)
        for i in range(WARMUP):
            ctx.send(peer, "ping", i)
            await ctx.receive()
        start = clock()
        for i in range(n):
            ctx.send(peer, "ping", i)
            await ctx.receive()
        elapsed = clock() - start
        ctx.send(peer, "stop")
        return elapsed / n * 1e6

    async def main() -> float:
        async with Node() as node:
            return await node.exec(pinger, n)

    return trio.run(main)


def floor(n: int) -> float:
    import trio

    from ._floor import Mailbox

    async def main() -> float:
        mine, theirs = Mailbox(), Mailbox()

        async def ponger() -> None:
            while True:
                msg = await theirs.receive()
                if msg is None:
                    return
                mine.put(msg)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(ponger)
            for i in range(WARMUP):
                theirs.put(i)
                await mine.receive()
            start = clock()
            for i in range(n):
                theirs.put(i)
                await mine.receive()
            elapsed = clock() - start
            theirs.put(None)
        return elapsed / n * 1e6

    return trio.run(main)


def trio_channels(n: int) -> float:
    import math

    import trio

    async def main() -> float:
        to_me, from_peer = trio.open_memory_channel(math.inf)
        to_peer, from_me = trio.open_memory_channel(math.inf)

        async def ponger() -> None:
            async for msg in from_me:
                if msg is None:
                    return
                to_me.send_nowait(msg)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(ponger)
            for i in range(WARMUP):
                to_peer.send_nowait(i)
                await from_peer.receive()
            start = clock()
            for i in range(n):
                to_peer.send_nowait(i)
                await from_peer.receive()
            elapsed = clock() - start
            to_peer.send_nowait(None)
        return elapsed / n * 1e6

    return trio.run(main)


def asyncio_(n: int) -> float:
    import asyncio

    async def main() -> float:
        mine: asyncio.Queue[Any] = asyncio.Queue()
        theirs: asyncio.Queue[Any] = asyncio.Queue()

        async def ponger() -> None:
            while True:
                msg = await theirs.get()
                if msg is None:
                    return
                mine.put_nowait(msg)

        task = asyncio.create_task(ponger())
        for i in range(WARMUP):
            theirs.put_nowait(i)
            await mine.get()
        start = clock()
        for i in range(n):
            theirs.put_nowait(i)
            await mine.get()
        elapsed = clock() - start
        theirs.put_nowait(None)
        await task
        return elapsed / n * 1e6

    return asyncio.run(main())


def pykka(n: int) -> float:
    import pykka as _pykka

    class Echo(_pykka.ThreadingActor):
        def on_receive(self, message: Any) -> Any:
            return message

    with pykka_actors():
        ref = Echo.start()
        for i in range(WARMUP):
            ref.ask(i)
        start = clock()
        for i in range(n):
            ref.ask(i)
        elapsed = clock() - start
    return elapsed / n * 1e6


class ThespianEcho(_ThespianActor):
    def receiveMessage(self, message: Any, sender: Any) -> None:
        if isinstance(message, int):
            self.send(sender, message)


def _thespian(base: str, n: int) -> float:
    with thespian_system(base) as system:
        echo = system.createActor(ThespianEcho)
        for i in range(min(WARMUP, n)):
            system.ask(echo, i, 10)
        start = clock()
        for i in range(n):
            system.ask(echo, i, 10)
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
        async def ponger(reply_to: str, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
            async with mailbox.open() as mid:
                task_status.started(mid)
                while True:
                    msg = await mailbox.receive(mid)
                    if msg is None:
                        return
                    await mailbox.send(reply_to, msg)

        async with mailbox.open() as me, trio.open_nursery() as nursery:
            peer = await nursery.start(ponger, me)
            for i in range(WARMUP):
                await mailbox.send(peer, i)
                await mailbox.receive(me)
            start = clock()
            for i in range(n):
                await mailbox.send(peer, i)
                await mailbox.receive(me)
            elapsed = clock() - start
            await mailbox.send(peer, None)
        return elapsed / n * 1e6

    return triotp_run(main)


SCENARIOS = [
    Scenario(
        name="pingpong",
        title="ping-pong round trip",
        unit="µs/round trip",
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
        quick_params={"n": 3_000},
        overrides={"pykka": {"n": 3_000}, "thespian_mp": {"n": 300}},
        rep_caps={"thespian_mp": 3},  # slow peer: its figure is stable
        targets=(
            Target("issue 2: round trip <= 1.5x the raw trio floor", "max_ratio", 1.5, "floor"),
            Target("issue 2: >= 5x faster than Pykka's ask", "min_speedup", 5.0, "pykka"),
        ),
    )
]
