"""Calls: a function call by ID, and a gen_server-style request/reply with a timeout.

Two scenarios.

``call`` — what ``ctx.call("bench:add", 1, 2)`` costs over calling the function
directly. A function runs in the caller's task (no spawn, no message), so the overhead
is the registry lookup, argument/result isolation, the context switch-over and error
mapping. The figure: µs per call. Rows: beamish (sync function, and the same with a
``timeout=`` option, which adds a cancel scope), a direct Python call, and a direct
``await`` of an ``async def`` (the floor for an async function).

``request_reply`` — a client process asks a server process and waits for the answer
with a timeout (5 s, never reached): OTP's ``gen_server:call``. The figure: µs per
request.

* beamish: ``ctx.send(server, "req", x)`` then ``ctx.receive(timeout=5)`` — the
  hand-made request/reply;
* beamish_ask: ``ctx.ask(server, x, timeout=5)`` to a loop answering ``msg.reply`` —
  a real call: the server is watched, late replies are dropped;
* beamish_server: ``ctx.ask`` to a :class:`beamish.Server` (``handle_call``);
* floor: ``_floor.Mailbox`` with ``receive_timeout`` (a cancel scope per park);
* trio channels with ``trio.fail_after``; asyncio with ``asyncio.wait_for``;
* Pykka: ``ref.ask(x, timeout=5)``; Thespian: ``system.ask(addr, x, 5)``;
* triotp: ``gen_server.call(server, x, timeout=5)`` (a fresh channel pair per call).
"""

from __future__ import annotations

import math
import types
from typing import Any

from ._common import WARMUP, clock, pykka_actors, thespian_system, triotp_run
from ._harness import Scenario, Target

try:
    from thespian.actors import Actor as _ThespianActor
except ImportError:  # pragma: no cover
    _ThespianActor = object  # type: ignore[assignment,misc]

TIMEOUT = 5.0


def add(a: int, b: int) -> int:
    return a + b


async def add_async(a: int, b: int) -> int:
    return a + b


# -- call --------------------------------------------------------------------------------


def _beamish_call(n: int, timeout: float | None) -> float:
    import trio

    from beamish.actors import Node

    async def caller(ctx: Any, n: int) -> float:
        for _ in range(WARMUP):
            await ctx.call("bench:add", 1, 2, timeout=timeout)
        start = clock()
        for _ in range(n):
            await ctx.call("bench:add", 1, 2, timeout=timeout)
        return (clock() - start) / n * 1e6

    async def main() -> float:
        async with Node() as node:
            node.functions.register("bench:add", add)
            return await node.exec(caller, n)

    return trio.run(main)


def call_beamish(n: int) -> float:
    return _beamish_call(n, None)


def call_beamish_timeout(n: int) -> float:
    return _beamish_call(n, TIMEOUT)


def call_direct(n: int) -> float:
    f = add
    for _ in range(WARMUP):
        f(1, 2)
    start = clock()
    for _ in range(n):
        f(1, 2)
    return (clock() - start) / n * 1e6


def call_direct_async(n: int) -> float:
    import trio

    async def main() -> float:
        f = add_async
        for _ in range(WARMUP):
            await f(1, 2)
        start = clock()
        for _ in range(n):
            await f(1, 2)
        return (clock() - start) / n * 1e6

    return trio.run(main)


# -- request/reply with timeout --------------------------------------------------------


def rr_beamish(n: int) -> float:
    import trio

    from beamish.actors import Node

    async def server(ctx: Any) -> None:
        while True:
            msg = await ctx.receive()
            if msg.topic == "stop":
                return
            ctx.send(msg.sender, "reply", msg.payload[0] + 1)

    async def client(ctx: Any, n: int) -> float:
        srv = ctx.spawn(server)
        for i in range(WARMUP):
            ctx.send(srv, "req", i)
            await ctx.receive(timeout=TIMEOUT)
        start = clock()
        for i in range(n):
            ctx.send(srv, "req", i)
            await ctx.receive(timeout=TIMEOUT)
        elapsed = clock() - start
        ctx.send(srv, "stop")
        return elapsed / n * 1e6

    async def main() -> float:
        async with Node() as node:
            return await node.exec(client, n)

    return trio.run(main)


def _rr_ask(n: int, server: Any) -> float:
    import trio

    from beamish.actors import Node

    async def client(ctx: Any, n: int) -> float:
        srv = ctx.spawn(server)
        ask = ctx.ask
        for i in range(WARMUP):
            await ask(srv, i, timeout=TIMEOUT)
        start = clock()
        for i in range(n):
            await ask(srv, i, timeout=TIMEOUT)
        elapsed = clock() - start
        ctx.cancel(srv)
        return elapsed / n * 1e6

    async def main() -> float:
        async with Node() as node:
            return await node.exec(client, n)

    return trio.run(main)


def rr_beamish_ask(n: int) -> float:
    async def server(ctx: Any) -> None:
        inbox, events = ctx.inbox(), ctx.events()
        while True:
            ch, msg = await ctx.select([inbox, events])
            if ch is events:
                return
            msg.reply(msg.payload[0] + 1)

    return _rr_ask(n, server)


def rr_beamish_server(n: int) -> float:
    from beamish import Server

    class Adder(Server):
        async def handle_call(self, request: Any, call: Any, state: Any) -> Any:
            return request + 1, state

    return _rr_ask(n, Adder)


def rr_floor(n: int) -> float:
    import trio

    from ._floor import Mailbox

    async def main() -> float:
        mine, theirs = Mailbox(), Mailbox()

        async def server() -> None:
            while True:
                msg = await theirs.receive()
                if msg is None:
                    return
                mine.put(msg + 1)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(server)
            for i in range(WARMUP):
                theirs.put(i)
                await mine.receive_timeout(TIMEOUT)
            start = clock()
            for i in range(n):
                theirs.put(i)
                await mine.receive_timeout(TIMEOUT)
            elapsed = clock() - start
            theirs.put(None)
        return elapsed / n * 1e6

    return trio.run(main)


def rr_trio_channels(n: int) -> float:
    import trio

    async def main() -> float:
        to_me, from_srv = trio.open_memory_channel(math.inf)
        to_srv, from_me = trio.open_memory_channel(math.inf)

        async def server() -> None:
            async for msg in from_me:
                if msg is None:
                    return
                to_me.send_nowait(msg + 1)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(server)
            for i in range(WARMUP):
                to_srv.send_nowait(i)
                with trio.fail_after(TIMEOUT):
                    await from_srv.receive()
            start = clock()
            for i in range(n):
                to_srv.send_nowait(i)
                with trio.fail_after(TIMEOUT):
                    await from_srv.receive()
            elapsed = clock() - start
            to_srv.send_nowait(None)
        return elapsed / n * 1e6

    return trio.run(main)


def rr_asyncio(n: int) -> float:
    import asyncio

    async def main() -> float:
        mine: asyncio.Queue[Any] = asyncio.Queue()
        theirs: asyncio.Queue[Any] = asyncio.Queue()

        async def server() -> None:
            while True:
                msg = await theirs.get()
                if msg is None:
                    return
                mine.put_nowait(msg + 1)

        task = asyncio.create_task(server())
        for i in range(WARMUP):
            theirs.put_nowait(i)
            await asyncio.wait_for(mine.get(), TIMEOUT)
        start = clock()
        for i in range(n):
            theirs.put_nowait(i)
            await asyncio.wait_for(mine.get(), TIMEOUT)
        elapsed = clock() - start
        theirs.put_nowait(None)
        await task
        return elapsed / n * 1e6

    return asyncio.run(main())


def rr_pykka(n: int) -> float:
    import pykka as _pykka

    class Server(_pykka.ThreadingActor):
        def on_receive(self, message: Any) -> Any:
            return message + 1

    with pykka_actors():
        ref = Server.start()
        for i in range(WARMUP):
            ref.ask(i, timeout=TIMEOUT)
        start = clock()
        for i in range(n):
            ref.ask(i, timeout=TIMEOUT)
        elapsed = clock() - start
    return elapsed / n * 1e6


class ThespianServer(_ThespianActor):
    def receiveMessage(self, message: Any, sender: Any) -> None:
        if isinstance(message, int):
            self.send(sender, message + 1)


def _rr_thespian(base: str, n: int) -> float:
    with thespian_system(base) as system:
        srv = system.createActor(ThespianServer)
        for i in range(min(WARMUP, n)):
            system.ask(srv, i, TIMEOUT)
        start = clock()
        for i in range(n):
            system.ask(srv, i, TIMEOUT)
        elapsed = clock() - start
    return elapsed / n * 1e6


def rr_thespian_simple(n: int) -> float:
    return _rr_thespian("simpleSystemBase", n)


def rr_thespian_mp(n: int) -> float:
    return _rr_thespian("multiprocQueueBase", n)


def rr_triotp(n: int) -> float:
    import trio
    from triotp import gen_server

    async def init(_arg: Any) -> None:
        return None

    async def handle_call(message: Any, _caller: Any, state: Any) -> Any:
        return gen_server.Reply(message + 1), state

    async def handle_cast(message: Any, state: Any) -> Any:
        return gen_server.Stop(), state

    callbacks = types.ModuleType("bench_server")
    callbacks.init = init  # type: ignore[attr-defined]
    callbacks.handle_call = handle_call  # type: ignore[attr-defined]
    callbacks.handle_cast = handle_cast  # type: ignore[attr-defined]

    async def main() -> float:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(gen_server.start, callbacks, None, "bench-server")
            await trio.testing.wait_all_tasks_blocked()
            for i in range(WARMUP):
                await gen_server.call("bench-server", i, timeout=TIMEOUT)
            start = clock()
            for i in range(n):
                await gen_server.call("bench-server", i, timeout=TIMEOUT)
            elapsed = clock() - start
            await gen_server.cast("bench-server", "stop")
        return elapsed / n * 1e6

    import trio.testing

    return triotp_run(main)


SCENARIOS = [
    Scenario(
        name="call",
        title="function call by ID vs a direct Python call",
        unit="µs/call",
        implementations={
            "beamish": call_beamish,
            "beamish_timeout": call_beamish_timeout,
            "direct": call_direct,
            "direct_async": call_direct_async,
        },
        params={"n": 100_000},
        quick_params={"n": 20_000},
        note="beamish_timeout: the same call with timeout=5 (adds a cancel scope)",
    ),
    Scenario(
        name="request_reply",
        title="request/reply with timeout (gen_server call)",
        unit="µs/request",
        implementations={
            "beamish": rr_beamish,
            "beamish_ask": rr_beamish_ask,
            "beamish_server": rr_beamish_server,
            "floor": rr_floor,
            "trio_channels": rr_trio_channels,
            "asyncio": rr_asyncio,
            "pykka": rr_pykka,
            "thespian_simple": rr_thespian_simple,
            "thespian_mp": rr_thespian_mp,
            "triotp": rr_triotp,
        },
        params={"n": 10_000},
        quick_params={"n": 3_000},
        overrides={"pykka": {"n": 3_000}, "thespian_mp": {"n": 300}, "triotp": {"n": 5_000}},
        rep_caps={"thespian_mp": 3},  # slow peer: its figure is stable
        targets=(
            Target(
                "issue 13: ask round trip <= 1.3x the hand-made request/reply",
                "max_ratio",
                1.3,
                "beamish",
                subject="beamish_ask",
            ),
            Target(
                "issue 13: a Server call <= 1.3x the hand-made request/reply",
                "max_ratio",
                1.3,
                "beamish",
                subject="beamish_server",
            ),
            Target(
                "issue 13: a Server call ahead of Pykka's ask",
                "max_ratio",
                1.0,
                "pykka",
                subject="beamish_server",
            ),
        ),
    ),
]
