"""A bare beamish node for the cross-node benchmarks: ``python -m benchmarks._cluster_node
URL CLUSTER NAME``. Registers the bodies below, joins the cluster, runs until SIGTERM."""

from __future__ import annotations

import signal
import sys
from typing import Any

import trio


async def echo(ctx: Any) -> None:
    while True:
        msg = await ctx.receive()
        if msg.topic == "stop":
            return
        ctx.send(msg.sender, "pong", *msg.payload)


async def sink(ctx: Any, n: int, reply_to: Any) -> None:
    for _ in range(n):
        await ctx.receive()
    ctx.send(reply_to, "done", n)


async def main(url: str, cluster: str, name: str) -> None:
    from beamish.actors import ClusterConfig, Node

    with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
        async with Node(name=name, cluster=ClusterConfig(url=url, cluster=cluster)) as node:
            node.register_process("bench:echo", echo)
            node.register_process("bench:sink", sink)
            node.cluster.announce()
            async for _ in signals:
                return


if __name__ == "__main__":
    trio.run(main, *sys.argv[1:4])
