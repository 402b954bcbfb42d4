"""Shared test doubles: puppet processes a test drives by message, and settling helpers.

A :class:`Board` records what its puppets do. ``board.child`` is a process body (pass
it as a ChildSpec ``start``; its first argument names the puppet). A puppet waits for
either a CANCEL (it returns, or ignores it when stubborn) or a ``cmd`` message telling
it how to exit: ``normal``, ``error``, ``canceled`` (an error of kind CANCELED),
``nonretryable``, ``crash`` (a plain Python exception). ``board.kill(node, id)``
terminates the current incarnation from outside.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import trio
import trio.testing

from beamish.actors import CLOSED, Error, ErrorKind, EventKind, Node, Pid

EXITS = ("normal", "error", "canceled", "killed")


class Board:
    def __init__(self) -> None:
        self.starts: dict[str, list[Pid]] = defaultdict(list)
        self.start_times: dict[str, list[float]] = defaultdict(list)
        self.log: list[tuple[Any, ...]] = []
        self.stubborn: set[str] = set()

    async def child(self, ctx: Any, cid: str, *rest: Any) -> Any:
        self.starts[cid].append(ctx.pid)
        self.start_times[cid].append(trio.current_time())
        self.log.append(("start", cid))
        inbox, events = ctx.inbox(), ctx.events()
        while True:
            got = await ctx.select([events, inbox])
            assert got is not None
            ch, item = got
            if item is CLOSED:
                return None
            if ch is events:
                if item.kind is EventKind.CANCEL:
                    self.log.append(("cancel", cid, item.reason))
                    if cid in self.stubborn:
                        continue
                    return "cancelled"
                continue
            cmd = item.payload[0]
            self.log.append(("exit", cid, cmd))
            if cmd == "normal":
                return "done"
            if cmd == "error":
                raise Error(f"{cid} failed", kind=ErrorKind.INTERNAL)
            if cmd == "canceled":
                raise Error(f"{cid} was cancelled", kind=ErrorKind.CANCELED)
            if cmd == "nonretryable":
                raise Error(f"{cid} cannot go on", kind=ErrorKind.INVALID, retryable=False)
            if cmd == "crash":
                raise RuntimeError(f"{cid} crashed")
            raise AssertionError(f"unknown command {cmd!r}")

    def pid(self, cid: str) -> Pid:
        return self.starts[cid][-1]

    def count(self, cid: str) -> int:
        return len(self.starts[cid])

    def cancels(self) -> list[str]:
        return [e[1] for e in self.log if e[0] == "cancel"]

    def make_exit(self, node: Node, cid: str, how: str) -> None:
        """Make the current incarnation of ``cid`` exit ``how`` (one of EXITS + extras)."""
        if how == "killed":
            node.terminate(self.pid(cid))
        else:
            node.send(self.pid(cid), "cmd", how)


async def settle() -> None:
    """Let every task run until all are blocked (no virtual time passes)."""
    await trio.testing.wait_all_tasks_blocked()


def alive(node: Node, pids: Any) -> list[bool]:
    return [node.is_alive(p) for p in pids]
