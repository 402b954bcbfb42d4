"""Past one process: cross-node messaging over NATS, and worker pools.

Scenarios (issue 14):

* ``cluster_pingpong`` — µs per round trip between a process on this node and one on
  a node in another OS process, through the embedded NATS server. Peers: Thespian's
  multiprocess bases (an OS process per actor; ``ask`` from outside goes through its
  admin process, as a message between two beamish nodes goes through NATS).
* ``cluster_oneway`` — µs per message sent one way to a process on the other node
  (the sink answers once, when it has them all); batching happens in the cluster
  layer: one NATS publish per scheduler pass, not per message.
* ``pool_throughput`` — a partitioned CPU-bound workload (16 independent processes,
  each a loop of small steps) spawned on a host with ``workers: 2`` against the same
  host with ``workers: 1`` (one process, today's runtime); µs of wall time per process.

Targets: workers:2 at least 1.7x the throughput of workers:1; cross-node ping-pong
faster than Thespian multiproc; one-way at least 200k messages/s (<= 5 µs each).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ._common import WARMUP, clock
from ._harness import Scenario, Skip, Target
from .bench_pingpong import _thespian

_CLUSTER = "bench"


@contextlib.contextmanager
def _two_nodes() -> Iterator[tuple[Any, str]]:
    """The embedded NATS server and node ``b`` in a child process; yields the server
    and its URL. Everything is stopped on the way out."""
    from beamish.actors import NatsServer

    with NatsServer() as server:
        child = subprocess.Popen(
            [sys.executable, "-m", "benchmarks._cluster_node", server.url, _CLUSTER, "b"],
            cwd=Path(__file__).resolve().parents[1], stdout=subprocess.DEVNULL)
        try:
            yield server, server.url
        finally:
            child.terminate()
            try:
                child.wait(10)
            except subprocess.TimeoutExpired:  # pragma: no cover
                child.kill()
                child.wait()


def _with_node_a(url: str, body: Any, *args: Any) -> Any:
    import trio

    from beamish.actors import ClusterConfig, Node

    async def main() -> Any:
        async with Node(name="a", cluster=ClusterConfig(url=url, cluster=_CLUSTER)) as a:
            with trio.fail_after(30):
                while "bench:echo" not in str(a.cluster.peers.get("b")) and not (
                    "b" in a.cluster.peers and "node:local" in a.cluster.peers["b"].hosts
                ):
                    await trio.sleep(0.02)
            await trio.sleep(0.3)  # b announced its bodies with its hosts
            return await a.exec(body, *args)

    return trio.run(main)


def beamish_pingpong(n: int) -> float:
    async def pinger(ctx: Any, n: int) -> float:
        peer = ctx.spawn("bench:echo", host="b@node:local")
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

    with _two_nodes() as (_, url):
        return float(_with_node_a(url, pinger, n))


def beamish_oneway(n: int) -> dict[str, float]:
    async def sender(ctx: Any, n: int) -> float:
        import trio

        warm = ctx.spawn("bench:sink", WARMUP, ctx.pid, host="b@node:local")
        for i in range(WARMUP):
            ctx.send(warm, "m", i)
        await ctx.receive()
        sink = ctx.spawn("bench:sink", n, ctx.pid, host="b@node:local")
        start = clock()
        for i in range(n):
            ctx.send(sink, "m", i)
            if i % 2000 == 1999:
                await trio.lowlevel.checkpoint()  # a producer that yields now and then
        msg = await ctx.receive()
        elapsed = clock() - start
        assert msg.payload == (n,)
        return elapsed / n * 1e6

    with _two_nodes() as (_, url):
        us = float(_with_node_a(url, sender, n))
    return {"value": us, "msgs_per_s": 1e6 / us}


def thespian_mp(n: int) -> float:
    return _thespian("multiprocQueueBase", n)


def thespian_tcp(n: int) -> float:
    return _thespian("multiprocTCPBase", n)


_POOL_APP = """\
version: "1.0"
namespace: bench
entries:
  - name: processes
    kind: process.host
    host:
      workers: {workers}
  - name: burn
    kind: process.py
    handler: pool_bodies:burn
"""

_POOL_BODY = '''\
async def burn(ctx, rounds):
    total = 0
    for i in range(rounds):
        for j in range(1000):
            total += (i * j) % 7
        if i % 20 == 0:
            await ctx.sleep(0)
    return total
'''


def _pool(workers: int, procs: int, rounds: int) -> float:
    import trio

    from beamish import App

    if workers > 1 and len(os.sched_getaffinity(0)) < workers:
        raise Skip(f"workers: {workers} needs {workers} cores")
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "app.yaml").write_text(_POOL_APP.format(workers=workers))
        (Path(tmp) / "pool_bodies.py").write_text(_POOL_BODY)

        async def main() -> float:
            async with App(tmp) as app:
                node = app.node

                async def run_all(n: int) -> None:
                    async def body(ctx: Any) -> None:
                        for _ in range(n):
                            ctx.spawn_monitored("bench:burn", rounds, host="bench:processes")
                        for _ in range(n):
                            await ctx.events().receive()

                    await node.exec(body)

                await run_all(workers)  # warm-up: every worker imports and compiles
                start = clock()
                await run_all(procs)
                return (clock() - start) / procs * 1e6

        return trio.run(main)


def workers_1(procs: int, rounds: int) -> float:
    return _pool(1, procs, rounds)


def workers_2(procs: int, rounds: int) -> float:
    return _pool(2, procs, rounds)


SCENARIOS = [
    Scenario(
        name="cluster_pingpong",
        title="ping-pong between two nodes (OS processes)",
        unit="µs/round trip",
        implementations={"beamish": beamish_pingpong, "thespian_mp": thespian_mp,
                         "thespian_tcp": thespian_tcp},
        params={"n": 3000},
        quick_params={"n": 500},
        overrides={"thespian_mp": {"n": 300}, "thespian_tcp": {"n": 300}},
        reps=3,
        rep_caps={"thespian_mp": 3, "thespian_tcp": 3},
        targets=(
            Target("issue 14: cross-node ping-pong faster than Thespian multiproc (queue)",
                   "min_speedup", 1.0, "thespian_mp"),
            Target("issue 14: cross-node ping-pong faster than Thespian multiproc (TCP)",
                   "min_speedup", 1.0, "thespian_tcp"),
        ),
        timeout=180.0,
    ),
    Scenario(
        name="cluster_oneway",
        title="one-way messages to another node, batched",
        unit="µs/message",
        implementations={"beamish": beamish_oneway},
        # below the default mailbox limit (250k), which a lagging sink could reach
        params={"n": 200_000},
        quick_params={"n": 50_000},
        reps=3,
        targets=(Target("issue 14: >= 200k messages/s one way (<= 5 µs each)",
                        "max_value", 5.0),),
        timeout=180.0,
    ),
    Scenario(
        name="pool_throughput",
        title="partitioned workload on a host with workers: 2 vs workers: 1",
        unit="µs/process (wall)",
        # the beamish row is the host with workers: 2
        implementations={"beamish": workers_2, "workers_1": workers_1},
        params={"procs": 16, "rounds": 400},
        quick_params={"procs": 8, "rounds": 100},
        reps=3,
        targets=(Target("issue 14: workers: 2 >= 1.7x the throughput of workers: 1",
                        "min_speedup", 1.7, "workers_1"),),
        timeout=240.0,
    ),
]
