"""A user's program, checked with ``mypy --strict`` by ``.ci/run``: the public API is
typed as users see it (``py.typed`` ships; no ``Any`` where a type is known)."""

from __future__ import annotations

from typing import assert_type

import trio

from beamish import Call, Context, Error, ErrorKind, Event, EventKind, Message, Node, Pid, Server


class Counter(Server[int]):
    async def init(self, *args: object) -> int:
        return 0

    async def handle_call(self, request: object, call: Call, state: int) -> tuple[int, int]:
        return state + 1, state + 1


async def failing(ctx: Context) -> None:
    raise Error("boom", kind=ErrorKind.INTERNAL)


async def worker(ctx: Context, n: int) -> int:
    msg = await ctx.receive(timeout=1.0, match=lambda m: m.topic != "noise")
    assert_type(msg, Message)
    sender: Pid | None = msg.sender
    ctx.spawn(failing, monitor=True)
    event: Event = await ctx.events().receive()
    if event.kind is EventKind.EXIT and event.error is not None:
        kind: ErrorKind = event.error.kind
        print(f"child failed: {kind}")
    return n + len(msg.payload) + (0 if sender is None else 1)


async def main() -> None:
    async with Node() as node:
        pid: Pid = node.spawn(Counter)

        async def client(ctx: Context) -> object:
            return await ctx.ask(pid, "incr", timeout=1.0)

        print(await node.exec(client))
        total = await node.exec(worker, 1, messages=[("noise", ()), ("job", (2,))])
        assert_type(total, int)  # typed as the body's result, not Any


if __name__ == "__main__":
    trio.run(main)
