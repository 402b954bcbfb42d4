"""The floor: the fastest mailbox pure Python on trio can have, written by hand.

A ``collections.deque`` plus one parked task, woken with ``trio.lowlevel.reschedule``
(the design measured when the kernel was built: 7.4 µs ping-pong round
trip, 0.2 µs per message one-way, 2.6 KB per blocked task). Every ``floor``
implementation of the suite uses this class, so "beamish / floor" reads as "what the
kernel's features cost over the bare mechanism".

Deliberately missing: topics, selective receive, events, isolation, a checkpoint budget
(``receive`` takes a queued item without any checkpoint), several receivers. One task
receives from a mailbox; any task may ``put``.
"""

from __future__ import annotations

from collections import deque
from typing import Any

import trio

_reschedule = trio.lowlevel.reschedule
_current_task = trio.lowlevel.current_task
_wait = trio.lowlevel.wait_task_rescheduled
_SUCCEEDED = trio.lowlevel.Abort.SUCCEEDED


class Mailbox:
    """An unbounded single-receiver mailbox: ``put`` never blocks."""

    __slots__ = ("_queue", "_waiter")

    def __init__(self) -> None:
        self._queue: deque[Any] = deque()
        self._waiter: trio.lowlevel.Task | None = None

    def put(self, message: Any) -> None:
        self._queue.append(message)
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            _reschedule(waiter)

    def _abort(self, _raise_cancel: Any) -> trio.lowlevel.Abort:
        self._waiter = None
        return _SUCCEEDED

    async def receive(self) -> Any:
        queue = self._queue
        while not queue:
            self._waiter = _current_task()
            await _wait(self._abort)
        return queue.popleft()

    async def receive_timeout(self, timeout: float) -> Any:
        """Receive with a timeout; a cancel scope only when it has to park."""
        queue = self._queue
        if queue:
            return queue.popleft()
        with trio.fail_after(timeout):
            while not queue:
                self._waiter = _current_task()
                await _wait(self._abort)
        return queue.popleft()
