"""Process bodies of the cluster test app: each runs on whichever node spawns it."""

from __future__ import annotations

import os
from typing import Any

from beamish import Context, Error, current_context


async def echo(ctx: Context) -> str:
    """Echo every message to its sender, until "stop"; "crash" fails."""
    while True:
        msg = await ctx.receive()
        if msg.topic == "stop":
            return "stopped"
        if msg.topic == "crash":
            raise Error("crashed on request")
        ctx.send(msg.sender, msg.topic, *msg.payload)


async def member(ctx: Context, group: str, name: str) -> str:
    """Join ``group`` of scope app:pg, hold ``name``, tell the spawner, echo."""
    ctx.pg("app:pg").join(group)
    ctx.register(name)
    return await echo(ctx)


async def claim(ctx: Context, name: str) -> str:
    """Race for ``name`` across the cluster; "won" or the error kind."""
    try:
        await ctx.register_global(name)
    except Error as exc:
        return str(exc.kind)
    await ctx.receive()  # hold it until told
    return "won"


def where() -> dict[str, Any]:
    ctx = current_context()
    return {"node": ctx.pid.node, "os_pid": os.getpid()}


async def burn(ctx: Context, rounds: int) -> int:
    """CPU-bound work in small steps (a partitioned workload for the pool benchmark)."""
    total = 0
    for i in range(rounds):
        for j in range(2000):
            total += (i * j) % 7
        if i % 10 == 0:
            await ctx.sleep(0)
    return total
