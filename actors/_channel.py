"""Kernel channels: the mailbox queue every inbox, topic, events and timer channel uses.

Design (measured when the kernel was built): a ``collections.deque`` plus
``trio.lowlevel`` park/unpark. trio memory channels were 1.8× slower on a round trip and
2.2× slower to create, so they are not used.

* ``put_nowait`` never blocks (channels are unbounded, like an Erlang mailbox) and wakes
  at most one parked receiver.
* ``receive`` follows trio's *nowait + park* rule: it takes a queued item without
  parking, else parks with an abort function that unregisters the waiter, so a cancelled
  receive leaves the channel unchanged.
* **Drain on a budget.** A checkpoint per message costs 15× the queue itself, so the
  nowait path checkpoints only every :data:`BUDGET` items (like BEAM reductions). The
  budget is module-wide: cheap, and enough to guarantee that a process draining a
  flooded mailbox still sees cancellation and lets others run.
* A woken receiver re-checks the queue: a wake-up is a hint, not a hand-off, so two
  receivers racing for one item cannot lose or duplicate it.
* :func:`select` parks one task on several channels with one waiter object.

Closing: ``close()`` is idempotent; queued items stay receivable; once drained, receive
returns the :data:`CLOSED` sentinel (never raises), which is what ``select`` needs.

Mailbox accounting (``Limits.mailbox_messages`` / ``mailbox_bytes``): a process's
mailbox channels (inbox, topics, events) have an ``_owner``, the :class:`Process`; every
item taken from such a channel, by ``receive``, ``receive_nowait`` or ``select``,
gives one slot back to ``owner._room`` (and takes a :class:`SizedMessage`'s size off
``owner._qbytes``). The process takes a slot on delivery, so its counts are exact and
the send path checks them in O(1). Other channels (timers, futures, function frames)
have no owner and pay one ``is None`` test per item. Measured: ~+60 ns per receive and
~+40 ns per send on a ~1.2 µs send + receive.

Timer channels (:class:`TimerChannel`, what ``Process.after`` returns): closing one
cancels its timer, so a stopped timer frees its task at once.

Invariants: ``_task`` is set only while that task is parked in this channel's
``receive``; a waiter is in ``_waiters`` only while its task is parked in a ``select``
over this channel (or is a second concurrent receiver). A fired waiter is never woken
again.
"""

from __future__ import annotations

import itertools
import math
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any, Final, Protocol

import trio

from ._errors import Error, ErrorKind, Timeout
from ._limits import SizedMessage

__all__ = [
    "BUDGET",
    "CLOSED",
    "Channel",
    "ChannelLike",
    "TimerChannel",
    "WouldBlock",
    "select",
]

#: Items a task may take without a checkpoint before it yields to the scheduler. A
#: checkpoint costs a scheduler pass, so it is spread thin (BEAM gives a process a few
#: thousand reductions a slice); a task draining a flood still yields every BUDGET items.
BUDGET: Final = 1024

# trio's park/unpark primitives, bound once: they run on every message.
_reschedule = trio.lowlevel.reschedule
_current_task = trio.lowlevel.current_task
_wait_rescheduled = trio.lowlevel.wait_task_rescheduled
_SUCCEEDED = trio.lowlevel.Abort.SUCCEEDED


class ChannelLike(Protocol):
    """What every backend's channels offer (the kernel's :class:`Channel`, a workflow's
    ``WorkflowChannel``): the interface drivers and ``select`` callers rely on."""

    name: str

    def put_nowait(self, value: Any) -> None: ...
    def close(self) -> None: ...
    def receive_nowait(self) -> Any: ...
    async def receive(self, timeout: float | None = None) -> Any: ...
    async def receive_match(
        self, match: Callable[[Any], bool], timeout: float | None = None
    ) -> Any: ...

    @property
    def closed(self) -> bool: ...


class _Closed:
    __slots__ = ()

    def __repr__(self) -> str:
        return "CLOSED"

    def __bool__(self) -> bool:
        return False


#: Returned by receive/select on a channel that is closed and drained.
CLOSED: Final = _Closed()


class WouldBlock(Exception):
    """``receive_nowait`` found nothing to take."""


class _Waiter:
    __slots__ = ("fired", "task")

    def __init__(self, task: trio.lowlevel.Task) -> None:
        self.task = task
        self.fired = False


class _Budget:
    """Items left before the next checkpoint, module-wide. A field of one object, not
    a module global: storing to a global would invalidate this module's global caches
    on every receive."""

    __slots__ = ("left",)

    def __init__(self) -> None:
        self.left = BUDGET


_budget = _Budget()


async def _spend() -> None:
    budget = _budget
    if budget.left > 0:
        budget.left -= 1
    else:
        budget.left = BUDGET
        await trio.lowlevel.checkpoint()


class Channel:
    """An unbounded FIFO channel owned by one process (or one function frame)."""

    __slots__ = ("__weakref__", "_closed", "_items", "_owner", "_task", "_waiters", "name")

    def __init__(self, name: str = "", owner: Any = None) -> None:
        self.name = name
        #: The process whose mailbox counts this channel's items (see the module doc).
        self._owner = owner
        # Created on the first put: an empty deque costs 760 bytes per idle process.
        self._items: deque[Any] | None = None
        # Fast path: the one task parked in receive() (the usual case: the owner).
        self._task: trio.lowlevel.Task | None = None
        # General path: select() waiters and any second concurrent receiver.
        self._waiters: list[_Waiter] | None = None
        self._closed = False

    # -- producer side -------------------------------------------------------------

    def put_nowait(self, value: Any) -> None:
        """Queue ``value`` and wake one parked receiver. Raises on a closed channel."""
        if self._closed:
            raise Error(
                f"send on closed channel {self.name or '(anonymous)'}",
                kind=ErrorKind.INVALID,
                retryable=False,
            )
        items = self._items
        if items is None:
            items = self._items = deque()
        items.append(value)
        task = self._task
        if task is not None:
            self._task = None
            _reschedule(task)
        elif self._waiters:
            self._wake()

    def close(self) -> None:
        """Close the channel (idempotent). Queued items stay receivable."""
        if not self._closed:
            self._closed = True
            task = self._task
            if task is not None:
                self._task = None
                _reschedule(task)
            while self._waiters:
                self._wake()

    def _abort_receive(self, _: Any) -> trio.lowlevel.Abort:
        self._task = None
        return _SUCCEEDED

    async def _park_receive(self) -> None:
        if self._task is None:
            self._task = _current_task()
            await _wait_rescheduled(self._abort_receive)
        else:
            await _park((self,))

    async def wait_readable(self) -> None:
        """Park until an item arrives or the channel closes (takes nothing)."""
        while not self._items and not self._closed:
            await self._park_receive()

    def _wake(self) -> None:
        waiters = self._waiters
        assert waiters is not None
        while waiters:
            w = waiters.pop(0)
            if not w.fired:
                w.fired = True
                _reschedule(w.task)
                return

    # -- consumer side -------------------------------------------------------------

    @property
    def closed(self) -> bool:
        return self._closed

    def __len__(self) -> int:
        return len(self._items) if self._items else 0

    def receive_nowait(self) -> Any:
        """Take the oldest item; :data:`CLOSED` if closed and drained; else WouldBlock."""
        if self._items:
            item = self._items.popleft()
            if self._owner is not None:
                _taken(self._owner, item)
            return item
        if self._closed:
            return CLOSED
        raise WouldBlock

    async def receive(self, timeout: float | None = None) -> Any:
        """Wait for the oldest item (or :data:`CLOSED`).

        With ``timeout`` (seconds) raise :class:`Timeout` when nothing arrives in time;
        the channel is unchanged then. Every call is a checkpoint on the park path and
        a budgeted checkpoint on the nowait path.
        """
        # One loop for the nowait and the park paths, inlined (no helper call): the
        # receive of every message runs it, and an idle process parks in it.
        budget = _budget
        while True:
            items = self._items
            if items:
                if budget.left > 0:
                    budget.left -= 1
                else:
                    budget.left = BUDGET
                    await trio.lowlevel.checkpoint()
                    if not items:  # another receiver took it meanwhile
                        continue
                item = items.popleft()
                owner = self._owner
                if owner is not None:
                    owner._room += 1
                    if owner._qbytes and type(item) is SizedMessage:
                        owner._qbytes -= item.size
                return item
            if self._closed:
                return CLOSED
            if timeout is not None:
                return await self._receive_within(timeout)
            if self._task is None:
                self._task = _current_task()
                await _wait_rescheduled(self._abort_receive)
            else:
                await _park((self,))

    async def _receive_within(self, timeout: float) -> Any:
        """The park path of ``receive(timeout)``: the cancel scope only when it parks."""
        with trio.move_on_after(timeout):
            while True:
                await self._park_receive()
                if self._items or self._closed:
                    return self.receive_nowait()
        raise Timeout(f"receive timed out after {timeout:g}s on channel {self.name or '?'}")

    async def receive_match(
        self, match: Callable[[Any], bool], timeout: float | None = None
    ) -> Any:
        """Selective receive: wait for the oldest item for which ``match(item)`` is true.

        Items before it stay queued, in order (Erlang's ``receive`` with patterns). Each
        item is tested once per call, as it arrives: a long backlog of non-matching items
        is not rescanned on every wake-up. Returns :data:`CLOSED` once the channel is
        closed and no queued item matches. With ``timeout`` raises :class:`Timeout` when
        no match arrives in time; nothing is taken then. An exception raised by
        ``match`` propagates to the caller; nothing is taken then either.
        """
        scanned = 0
        with trio.move_on_after(math.inf if timeout is None else timeout):
            while True:
                items = self._items
                if items:
                    if scanned > len(items):  # another receiver took some: rescan
                        scanned = 0
                    for i, item in enumerate(itertools.islice(items, scanned, None), scanned):
                        if match(item):
                            del items[i]
                            if self._owner is not None:
                                _taken(self._owner, item)
                            await trio.lowlevel.cancel_shielded_checkpoint()
                            return item
                    scanned = len(items)
                if self._closed:
                    return CLOSED
                await self._park_receive()
        raise Timeout(
            f"receive timed out after {timeout:g}s on channel {self.name or '?'}: no "
            "message matched (the ones that did not stay queued)"
        )

    def statistics(self) -> dict[str, Any]:
        return {
            "queued": len(self),
            "waiters": len(self._waiters or ()) + (self._task is not None),
            "closed": self._closed,
        }

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"<Channel {self.name!r} {state} queued={len(self)}>"


def _taken(owner: Any, item: Any) -> None:
    """``item`` left a mailbox channel of ``owner``: give back its slot (and bytes)."""
    owner._room += 1
    if owner._qbytes and type(item) is SizedMessage:
        owner._qbytes -= item.size


class TimerChannel(Channel):
    """The channel of one ``Process.after`` timer: ``close()`` also cancels the timer.

    Invariant: ``_scope`` is the timer's cancel scope until the timer fires or is
    cancelled, then None.
    """

    __slots__ = ("_scope",)

    def __init__(self, name: str = "after") -> None:
        super().__init__(name)
        self._scope: trio.CancelScope | None = None

    def close(self) -> None:
        scope = self._scope
        if scope is not None:
            self._scope = None
            scope.cancel()
        super().close()


async def _park(channels: Sequence[Channel]) -> None:
    w = _Waiter(trio.lowlevel.current_task())
    for ch in channels:
        if ch._waiters is None:
            ch._waiters = [w]
        else:
            ch._waiters.append(w)

    def abort(_: Any) -> trio.lowlevel.Abort:
        w.fired = True
        return trio.lowlevel.Abort.SUCCEEDED

    try:
        await trio.lowlevel.wait_task_rescheduled(abort)
    finally:
        for ch in channels:
            ws = ch._waiters
            if ws:
                try:
                    ws.remove(w)
                except ValueError:
                    pass


async def select(
    channels: Sequence[Channel], timeout: float | None = None
) -> tuple[Channel, Any] | None:
    """Wait for the first of ``channels`` to have an item (or be closed and drained).

    Returns ``(channel, item)``, with ``item`` :data:`CLOSED` for a closed channel, or
    ``None`` when ``timeout`` seconds pass first. Earlier channels win ties, so list
    the most urgent one first (e.g. events before the inbox).
    """
    for ch in channels:
        if ch._items:
            await _spend()
            if ch._items:
                item = ch._items.popleft()
                if ch._owner is not None:
                    _taken(ch._owner, item)
                return ch, item
        elif ch._closed:
            return ch, CLOSED
    if timeout is not None and timeout <= 0:
        await trio.lowlevel.checkpoint()
        return None
    if timeout is None:
        return await _select_parked(channels)
    with trio.move_on_after(timeout):
        return await _select_parked(channels)
    return None


async def _select_parked(channels: Sequence[Channel]) -> tuple[Channel, Any]:
    while True:
        await _park(channels)
        for ch in channels:
            if ch._items:
                item = ch._items.popleft()
                if ch._owner is not None:
                    _taken(ch._owner, item)
                return ch, item
            if ch._closed:
                return ch, CLOSED
