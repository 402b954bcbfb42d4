"""Workflow channels: the mailbox queue of a workflow, on Temporal's deterministic loop.

What it is for
    A workflow body talks to :class:`~beamish.durable.WorkflowContext` exactly as a
    process body talks to the kernel, so its inbox, topic, events, timer and future
    channels must offer the kernel :class:`~beamish.actors.Channel` interface
    (``put_nowait``, ``close``, ``closed``, ``receive_nowait``, ``receive(timeout)``) and
    a ``select`` over several of them. Kernel channels park *trio* tasks; inside a
    workflow the running loop is temporalio's deterministic asyncio loop, so these park
    asyncio futures instead.

Design chosen
    * deque + a FIFO list of waiter futures, the kernel design transposed to asyncio. A
      wake-up is a hint: the woken receiver re-checks the queue, so two receivers racing
      for one item never lose or duplicate it.
    * A timeout is ``workflow.wait(..., timeout=)`` (the SDK's deterministic
      ``asyncio.wait``) on the workflow loop: temporalio turns
      ``call_later`` into a **durable timer**, recorded in history and replayed; when the
      item arrives first the timer is cancelled (also recorded). Timeouts raise the
      kernel's :class:`~beamish.actors.Timeout` and leave the channel unchanged.
    * Everything runs on one loop whose scheduling order Temporal fixes, so the order in
      which receivers wake is deterministic on replay.
    * Every queued item carries an *arrival stamp* (an :class:`ArrivedMessage`, a
      signal's, is stamped when it arrives, so its place survives a wait in the mailbox's
      backlog). ``workflow_select(..., by_arrival=True)`` takes the oldest item among
      the ready channels instead of the first ready channel: the Lua driver waits that
      way for all its parked coroutines, so a script's coroutines see the workflow's
      messages in the order they came (Wippy's order), whichever listened first. The
      stamps come from one counter; only their order within a workflow matters, and
      that order is the replayed order of deliveries.

Alternatives rejected
    * ``asyncio.Queue``: no close/drain semantics, no multi-channel select, and its
      ``get`` with ``wait_for`` leaves a cancelled getter's item in doubt.
    * ``workflow.wait_condition`` per receive: polls every predicate on every loop
      iteration; waiter futures wake exactly the task that can proceed.

Invariants
    * A waiter future is in ``_waiters`` only while its task is parked on this channel
      (a receive or a select); it is removed in ``finally`` whatever ends the wait.
    * After ``close()`` no item is accepted; queued ones stay receivable; once drained
      every receive returns :data:`~beamish.actors.CLOSED`.
    * Imports no trio itself: it runs inside workflows. (The ``beamish`` package, whose
      kernel does import trio, is passed through Temporal's sandbox, never re-imported.)
"""

from __future__ import annotations

import asyncio
import itertools
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

import temporalio.workflow as workflow

# The kernel's own CLOSED sentinel and WouldBlock, so drivers compare against one object
# whichever backend made the channel.
from beamish.actors import CLOSED, Error, ErrorKind, Message, Pid, Timeout, WouldBlock

__all__ = ["CLOSED", "ArrivedMessage", "WorkflowChannel", "WouldBlock", "workflow_select"]

#: Arrival stamps, increasing (see the module doc).
_arrival = itertools.count(1).__next__


class ArrivedMessage(Message):
    """A message stamped when it reached the workflow (see the module doc)."""

    __slots__ = ("arrived",)

    def __init__(self, topic: str, sender: Pid | None, payload: tuple[Any, ...]) -> None:
        super().__init__(topic, sender, payload)
        self.arrived = _arrival()


class WorkflowChannel:
    """An unbounded FIFO channel on the workflow loop (kernel ``Channel`` interface)."""

    __slots__ = ("_closed", "_items", "_stamps", "_waiters", "name")

    def __init__(self, name: str = "") -> None:
        self.name = name
        self._items: deque[Any] = deque()
        self._stamps: deque[int] = deque()  # arrival stamp of each item, in step
        self._waiters: list[asyncio.Future[None]] = []
        self._closed = False

    # -- producer side ------------------------------------------------------------------

    def put_nowait(self, value: Any) -> None:
        if self._closed:
            raise Error(
                f"send on closed channel {self.name or '(anonymous)'}",
                kind=ErrorKind.INVALID,
                retryable=False,
            )
        self._items.append(value)
        self._stamps.append(getattr(value, "arrived", None) or _arrival())
        self._wake_one()

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            for w in self._waiters:
                if not w.done():
                    w.set_result(None)

    def _wake_one(self) -> None:
        for w in self._waiters:
            if not w.done():
                w.set_result(None)
                return

    # -- consumer side ------------------------------------------------------------------

    def _take(self) -> Any:
        self._stamps.popleft()
        return self._items.popleft()

    @property
    def closed(self) -> bool:
        return self._closed

    def __len__(self) -> int:
        return len(self._items)

    def receive_nowait(self) -> Any:
        if self._items:
            return self._take()
        if self._closed:
            return CLOSED
        raise WouldBlock

    async def receive(self, timeout: float | None = None) -> Any:
        """The oldest item (or CLOSED); :class:`Timeout` after ``timeout`` (durable timer)."""
        got = await workflow_select((self,), timeout)
        if got is None:
            raise Timeout(f"receive timed out after {timeout:g}s on channel {self.name or '?'}")
        return got[1]

    async def receive_match(
        self, match: Callable[[Any], bool], timeout: float | None = None
    ) -> Any:
        """Selective receive (the kernel ``Channel.receive_match`` contract); the timeout
        is a durable timer."""
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        scanned = 0
        while True:
            items = self._items
            if scanned > len(items):
                scanned = 0
            for i, item in enumerate(itertools.islice(items, scanned, None), scanned):
                if match(item):
                    del items[i]
                    del self._stamps[i]
                    return item
            scanned = len(items)
            if self._closed:
                return CLOSED
            remaining = None if deadline is None else deadline - loop.time()
            if remaining is not None and remaining <= 0:
                break
            await _park((self,), remaining)
        raise Timeout(
            f"receive timed out after {timeout:g}s on channel {self.name or '?'}: no "
            "message matched (the ones that did not stay queued)"
        )

    def statistics(self) -> dict[str, Any]:
        return {"queued": len(self._items), "waiters": len(self._waiters), "closed": self._closed}

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"<WorkflowChannel {self.name!r} {state} queued={len(self._items)}>"


def _ready(
    channels: Sequence[WorkflowChannel], by_arrival: bool
) -> tuple[WorkflowChannel, Any] | None:
    oldest: WorkflowChannel | None = None
    for ch in channels:
        if ch._items:
            if not by_arrival:
                return ch, ch._take()
            if oldest is None or ch._stamps[0] < oldest._stamps[0]:
                oldest = ch
        elif ch._closed and oldest is None:
            return ch, CLOSED
    return None if oldest is None else (oldest, oldest._take())


async def _park(channels: Sequence[WorkflowChannel], remaining: float | None) -> bool:
    """Wait until a put or close on one of ``channels`` wakes this task, or ``remaining``
    seconds of workflow time pass (a durable timer; ``None``: no limit, ``<= 0``: no
    wait). Returns whether it was woken. The waiter is in the channels' lists only
    while it waits (the module's invariant)."""
    waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    for ch in channels:
        ch._waiters.append(waiter)
    try:
        if remaining is None:
            await waiter
        elif remaining > 0:
            await workflow.wait([waiter], timeout=remaining)
    finally:
        for ch in channels:
            try:
                ch._waiters.remove(waiter)
            except ValueError:
                pass
        woken = waiter.done()
        if not woken:
            waiter.cancel()
    return woken


async def workflow_select(
    channels: Sequence[WorkflowChannel], timeout: float | None = None, *, by_arrival: bool = False
) -> tuple[WorkflowChannel, Any] | None:
    """``(channel, item)`` for the first ready channel (earlier ones win ties; with
    ``by_arrival``, the channel whose next item arrived first), or ``None`` when
    ``timeout`` seconds of workflow time pass first."""
    for ch in channels:
        if not isinstance(ch, WorkflowChannel):
            raise Error(
                f"cannot select on {ch!r} inside a workflow: only channels made by the "
                "workflow context (inbox, events, listen, after, futures) can be awaited here",
                kind=ErrorKind.INVALID,
                retryable=False,
            )
    got = _ready(channels, by_arrival)
    if got is not None:
        return got
    if timeout is not None and timeout <= 0:
        return None
    loop = asyncio.get_running_loop()
    deadline = None if timeout is None else loop.time() + timeout
    while True:
        woken = await _park(channels, None if deadline is None else deadline - loop.time())
        got = _ready(channels, by_arrival)
        if got is not None:
            return got
        if not woken:
            return None  # the durable timer fired first
