"""Fan-out / fan-in, 1 -> W -> 1: a coordinator messages W workers, each replies once.

The figure: µs per worker per round (the time of one full round divided by W), so a
peer run with fewer workers stays comparable. Workers are started before the clock;
``rounds`` rounds are timed after one warm-up round.

* beamish: a coordinator process ``send``s to W worker processes and ``receive``s W
  replies;
* floor: the same with ``_floor.Mailbox`` and trio tasks;
* trio channels, asyncio.Queue: the same shape;
* Pykka: ``ref.ask(msg, block=False)`` to every worker, then ``pykka.get_all``;
* Thespian: a coordinator actor (asked from outside once per round) sends to W worker
  actors and answers when it has W replies;
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


def beamish(workers: int, rounds: int) -> float:
    import trio

    from beamish.actors import Node

    async def worker(ctx: Any) -> None:
        while True:
            msg = await ctx.receive()
            if msg.topic == "stop":
                return
            ctx.send(msg.sender, "reply", msg.payload[0])

    async def coordinator(ctx: Any, workers: int, rounds: int) -> float:
        pids = [ctx.spawn(worker) for _ in range(workers)]
        start = 0.0
        for r in range(rounds + 1):
            if r == 1:
                start = clock()
            for pid in pids:
                ctx.send(pid, "work", r)
            for _ in pids:
                await ctx.receive()
        elapsed = clock() - start
        for pid in pids:
            ctx.send(pid, "stop")
        return elapsed / rounds / workers * 1e6

    async def main() -> float:
        async with Node() as node:
            return await node.exec(coordinator, workers, rounds)

    return trio.run(main)


def floor(workers: int, rounds: int) -> float:
    import trio

    from ._floor import Mailbox

    async def main() -> float:
        inbox = Mailbox()
        boxes = [Mailbox() for _ in range(workers)]

        async def worker(box: Mailbox) -> None:
            while True:
                msg = await box.receive()
                if msg is None:
                    return
                inbox.put(msg)

        async with trio.open_nursery() as nursery:
            for box in boxes:
                nursery.start_soon(worker, box)
            start = 0.0
            for r in range(rounds + 1):
                if r == 1:
                    start = clock()
                for box in boxes:
                    box.put(r)
                for _ in boxes:
                    await inbox.receive()
            elapsed = clock() - start
            for box in boxes:
                box.put(None)
        return elapsed / rounds / workers * 1e6

    return trio.run(main)


def trio_channels(workers: int, rounds: int) -> float:
    import trio

    async def main() -> float:
        to_me, inbox = trio.open_memory_channel(math.inf)
        chans = [trio.open_memory_channel(math.inf) for _ in range(workers)]

        async def worker(recv: Any) -> None:
            async for msg in recv:
                if msg is None:
                    return
                to_me.send_nowait(msg)

        async with trio.open_nursery() as nursery:
            for _, recv in chans:
                nursery.start_soon(worker, recv)
            start = 0.0
            for r in range(rounds + 1):
                if r == 1:
                    start = clock()
                for send, _ in chans:
                    send.send_nowait(r)
                for _ in chans:
                    await inbox.receive()
            elapsed = clock() - start
            for send, _ in chans:
                send.send_nowait(None)
        return elapsed / rounds / workers * 1e6

    return trio.run(main)


def asyncio_(workers: int, rounds: int) -> float:
    import asyncio

    async def main() -> float:
        inbox: asyncio.Queue[Any] = asyncio.Queue()
        queues: list[asyncio.Queue[Any]] = [asyncio.Queue() for _ in range(workers)]

        async def worker(queue: asyncio.Queue[Any]) -> None:
            while True:
                msg = await queue.get()
                if msg is None:
                    return
                inbox.put_nowait(msg)

        tasks = [asyncio.create_task(worker(q)) for q in queues]
        start = 0.0
        for r in range(rounds + 1):
            if r == 1:
                start = clock()
            for q in queues:
                q.put_nowait(r)
            for _ in queues:
                await inbox.get()
        elapsed = clock() - start
        for q in queues:
            q.put_nowait(None)
        await asyncio.gather(*tasks)
        return elapsed / rounds / workers * 1e6

    return asyncio.run(main())


def pykka(workers: int, rounds: int) -> float:
    import pykka as _pykka

    class Echo(_pykka.ThreadingActor):
        def on_receive(self, message: Any) -> Any:
            return message

    with pykka_actors():
        refs = [Echo.start() for _ in range(workers)]
        start = 0.0
        for r in range(rounds + 1):
            if r == 1:
                start = clock()
            _pykka.get_all([ref.ask(r, block=False) for ref in refs])
        elapsed = clock() - start
    return elapsed / rounds / workers * 1e6


class ThespianFanWorker(_ThespianActor):
    def receiveMessage(self, message: Any, sender: Any) -> None:
        if isinstance(message, int):
            self.send(sender, message)


class ThespianCoordinator(_ThespianActor):
    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.workers: list[Any] = []
        self.pending = 0
        self.requester: Any = None

    def receiveMessage(self, message: Any, sender: Any) -> None:
        if isinstance(message, tuple) and message[0] == "setup":
            self.workers = [self.createActor(ThespianFanWorker) for _ in range(message[1])]
            self.send(sender, "ready")
        elif isinstance(message, tuple) and message[0] == "round":
            self.requester, self.pending = sender, len(self.workers)
            for w in self.workers:
                self.send(w, message[1])
        elif isinstance(message, int):
            self.pending -= 1
            if self.pending == 0:
                self.send(self.requester, "done")


def _thespian(base: str, workers: int, rounds: int) -> float:
    with thespian_system(base) as system:
        coord = system.createActor(ThespianCoordinator)
        assert system.ask(coord, ("setup", workers), 60) == "ready"
        start = 0.0
        for r in range(rounds + 1):
            if r == 1:
                start = clock()
            assert system.ask(coord, ("round", r), 60) == "done"
        elapsed = clock() - start
    return elapsed / rounds / workers * 1e6


def thespian_simple(workers: int, rounds: int) -> float:
    return _thespian("simpleSystemBase", workers, rounds)


def thespian_mp(workers: int, rounds: int) -> float:
    return _thespian("multiprocQueueBase", workers, rounds)


def triotp(workers: int, rounds: int) -> float:
    import trio
    from triotp import mailbox

    async def main() -> float:
        async with mailbox.open() as me, trio.open_nursery() as nursery:

            async def worker(task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
                async with mailbox.open() as mid:
                    task_status.started(mid)
                    while True:
                        msg = await mailbox.receive(mid)
                        if msg is None:
                            return
                        await mailbox.send(me, msg)

            mids = [await nursery.start(worker) for _ in range(workers)]
            start = 0.0
            for r in range(rounds + 1):
                if r == 1:
                    start = clock()
                for mid in mids:
                    await mailbox.send(mid, r)
                for _ in mids:
                    await mailbox.receive(me)
            elapsed = clock() - start
            for mid in mids:
                await mailbox.send(mid, None)
        return elapsed / rounds / workers * 1e6

    return triotp_run(main)


SCENARIOS = [
    Scenario(
        name="fanout",
        title="fan-out/fan-in 1→1,000→1",
        unit="µs/worker·round",
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
        params={"workers": 1_000, "rounds": 20},
        quick_params={"workers": 1_000, "rounds": 5},
        overrides={
            "pykka": {"rounds": 5},
            "triotp": {"rounds": 10},
            "thespian_mp": {"workers": 8, "rounds": 10},
        },
        rep_caps={"thespian_mp": 3, "pykka": 3},  # slow peers: their figure is stable
        note="per worker message pair: one round's time / workers",
    )
]
