"""Go-style channels inside one Lua process, and the bridge to the context's channels.

What it is for: Wippy's ``channel`` module gives Lua code Go channels (buffered or
rendezvous, close, ``select`` with ``default``), and every blocking Lua API is a channel
underneath: the inbox, the events, ``listen`` topics, ``time.after``, timers, tickers
and ``funcs.async`` futures. Channel operations never leave the process: a task that
cannot proceed is parked on the channel, and whichever task (or external delivery)
completes the operation wakes it. Only when *every* task of the process is parked does
the driver wait on the outside world, through ``ctx.select`` over the context channels
that parked tasks are waiting for.

Design chosen:

* :class:`LChannel` holds Lua values as they are (no conversion: tasks of one process
  share one Lua heap, so a channel hands over references, as Go does).
* A channel may have a **source**: a context channel (``ChannelLike``) it pulls from
  *only when a task waits on it*. So an inbox nobody reads keeps its messages in the
  kernel mailbox (Wippy's rendezvous inbox and retention), and a ``select`` over the
  inbox and a timer consumes exactly the item it returns. ``adapt`` turns a source item
  (a ``Message``, an ``Event``, a time) into the Lua values a receiver gets; ``on_item``
  lets tickers re-arm.
* A :class:`Waiter` is one parked task; a ``select`` registers one waiter on several
  channels. A fired waiter is skipped lazily by every other channel.
* ``select`` picks the *first* ready case in the order given, never at random
  (Wippy's engine does the same, and workflows need it for replay).

Outcomes (Go's): send on a closed channel raises; receive from a closed, drained channel
returns ``(nil, false)``; ``close`` is idempotent, wakes every receiver with
``(nil, false)`` and fails every blocked sender.

What a channel needs from the process whose tasks use it is the small
:class:`TaskOwner` protocol (wake a task, the send-on-closed error, the buffer quota),
and from its source the :class:`Source` protocol: this module imports neither the
driver nor the context, so the driver builds on it and nothing here builds on the
driver.

Invariants: ``buf`` is never longer than ``cap`` (except for source channels, which
never buffer); a waiter appears in ``recvq``/``sendq`` only while its task is parked;
``fired`` goes False -> True once.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any, Protocol

from beamish.actors import CLOSED, WouldBlock

__all__ = [
    "INBOX",
    "InboxHandle",
    "LChannel",
    "Receivable",
    "SendOnClosed",
    "Source",
    "TaskOwner",
    "Waiter",
]


class SendOnClosed(Exception):
    """Raised into a sender whose channel was closed."""


class TaskOwner(Protocol):
    """The process whose tasks park on channels (the driver), as channels see it."""

    def wake(self, tid: int, resume: tuple[Any, ...]) -> None:
        """Queue task ``tid`` to resume with ``resume``."""

    def send_on_closed_error(self) -> Any:
        """The Lua error value raised into a sender whose channel was closed."""

    def hold(self, value: Any, *, force: bool = False) -> None:
        """Count a buffered string against the process's quota (raise when over)."""

    def release(self, value: Any) -> None:
        """Stop counting a string that left a buffer."""


class Source(Protocol):
    """What a channel pulls from: a context channel, or the driver's events router."""

    def receive_nowait(self) -> Any: ...
    async def receive(self, timeout: float | None = None) -> Any: ...


class InboxHandle:
    """What Lua holds for ``process.inbox()``: one handle for every process of every
    sandbox, resolved to the *running* process's inbox when used.

    An idle process parked in ``process.inbox():receive()`` then costs no channel object
    at all (neither a Lua table nor an :class:`LChannel`): alone in its process, the task
    waits on the context's inbox itself (``Driver.run``). Scripts cannot tell: no Lua
    value crosses between processes, so equality of two processes' inboxes is
    unobservable. The per-process :class:`LChannel` is made only when needed (several
    tasks, ``select``, ``close``): ``Driver.inbox_channel``.
    """

    __slots__ = ()

    #: As :attr:`LChannel.kind`: the inbox is a kernel mailbox channel.
    kind = "inbox"

    def __repr__(self) -> str:
        return "INBOX"


#: The inbox handle (see :class:`InboxHandle`).
INBOX = InboxHandle()


class Waiter:
    """One parked task: where to resume it, and (for select) which case fired."""

    __slots__ = ("driver", "fired", "is_select", "tid")

    def __init__(self, driver: TaskOwner, tid: int, is_select: bool = False) -> None:
        self.driver = driver
        self.tid = tid
        self.fired = False
        self.is_select = is_select

    def wake(self, resume: tuple[Any, ...]) -> None:
        assert not self.fired
        self.fired = True
        self.driver.wake(self.tid, resume)


class LChannel:
    """A channel of one Lua process (see the module docstring)."""

    __slots__ = (
        "__weakref__",
        "adapt",
        "buf",
        "cap",
        "closed",
        "kind",
        "on_item",
        "owner",
        "recvq",
        "resume_adapt",
        "sendq",
        "source",
    )

    def __init__(
        self,
        cap: int = 0,
        *,
        source: Source | None = None,
        adapt: Callable[[Any], tuple[Any, ...]] | None = None,
        kind: str = "channel",
    ) -> None:
        self.cap = cap
        self.buf: deque[Any] | None = None
        self.closed = False
        self.recvq: deque[tuple[Waiter, int]] | None = None
        self.sendq: deque[tuple[Waiter, int, Any]] | None = None
        self.source = source
        self.adapt = adapt
        self.on_item: Callable[[LChannel], None] | None = None
        #: Optional fast form of ``adapt`` giving the whole resume tuple (``(0, ...)``).
        self.resume_adapt: Callable[[Any], tuple[Any, ...]] | None = None
        self.kind = kind
        #: The driver whose ``process_memory`` pays for strings this channel buffers
        #: (they are Python copies, outside the Lua heap): ``channel.new`` channels.
        self.owner: TaskOwner | None = None

    def __repr__(self) -> str:
        return (f"<LChannel {self.kind} cap={self.cap} buf={len(self.buf or ())} "
                f"{'closed' if self.closed else 'open'}>")

    # -- readiness (no side effects) -----------------------------------------------------

    def _first_receiver(self) -> tuple[Waiter, int] | None:
        q = self.recvq
        while q:
            if not q[0][0].fired:
                return q[0]
            q.popleft()
        return None

    def _first_sender(self) -> tuple[Waiter, int, Any] | None:
        q = self.sendq
        while q:
            if not q[0][0].fired:
                return q[0]
            q.popleft()
        return None

    # -- receive ---------------------------------------------------------------------------

    def try_receive(self, poll_source: bool = True) -> tuple[Any, ...] | None:
        """``(value..., ok)`` values for a receiver now, or None if it must wait.

        ``poll_source=False`` leaves the source alone (the caller will await it).
        """
        buf = self.buf
        if buf:
            value = buf.popleft()
            owner = self.owner
            if owner is not None:
                owner.release(value)
            s = self._first_sender()
            if s is not None:  # a parked sender's value moves into the freed slot
                self.sendq.popleft()  # type: ignore[union-attr]
                if owner is not None:
                    owner.hold(s[2], force=True)
                buf.append(s[2])
                _resume_sender(s[0], s[1])
            return (value, True)
        s = self._first_sender()
        if s is not None:  # rendezvous
            self.sendq.popleft()  # type: ignore[union-attr]
            _resume_sender(s[0], s[1])
            return (s[2], True)
        if self.closed:
            return (None, False)
        src = self.source
        if src is not None and poll_source:
            try:
                item = src.receive_nowait()
            except WouldBlock:
                return None
            return self.from_source(item)
        return None

    def from_source(self, item: Any) -> tuple[Any, ...]:
        """Values for a receiver from one source item (CLOSED closes this channel)."""
        if item is CLOSED:
            self.source = None
            self.close()
            return (None, False)
        if self.on_item is not None:
            self.on_item(self)
        if self.adapt is not None:
            return self.adapt(item)
        return (item, True)

    def resume_from_source(self, item: Any) -> tuple[Any, ...]:
        """The resume values ``(0, value..., ok)`` of a plain receive of ``item``."""
        if item is not CLOSED and self.on_item is None:
            resume = self.resume_adapt
            if resume is not None:
                return resume(item)
        return (0, *self.from_source(item))

    def park_receiver(self, waiter: Waiter, idx: int = 0) -> None:
        if self.recvq is None:
            self.recvq = deque()
        self.recvq.append((waiter, idx))

    def has_receivers(self) -> bool:
        return self._first_receiver() is not None

    def deliver(self, item: Any) -> None:
        """A source item arrived for a parked receiver (the driver's wait loop)."""
        r = self._first_receiver()
        assert r is not None, "source item delivered with nobody waiting"
        self.recvq.popleft()  # type: ignore[union-attr]
        w, idx = r
        values = self.from_source(item)
        w.wake((0, idx, *values) if w.is_select else (0, *values))

    # -- send ------------------------------------------------------------------------------

    def try_send(self, value: Any) -> bool:
        """Hand ``value`` over now if possible. Raises SendOnClosed on a closed channel."""
        if self.closed:
            raise SendOnClosed
        r = self._first_receiver()
        if r is not None:
            self.recvq.popleft()  # type: ignore[union-attr]
            w, idx = r
            w.wake((0, idx, value, True) if w.is_select else (0, value, True))
            return True
        if self.source is None and len(self.buf or ()) < self.cap:
            if self.owner is not None:
                self.owner.hold(value)  # raises when the process's quota is reached
            if self.buf is None:
                self.buf = deque()
            self.buf.append(value)
            return True
        return False

    def park_sender(self, waiter: Waiter, idx: int, value: Any) -> None:
        if self.sendq is None:
            self.sendq = deque()
        self.sendq.append((waiter, idx, value))

    # -- close -----------------------------------------------------------------------------

    def close(self) -> None:
        """Close (idempotent): receivers get ``(nil, false)``, blocked senders an error."""
        if self.closed:
            return
        self.closed = True
        q = self.recvq
        while q:
            w, idx = q.popleft()
            if not w.fired:
                w.wake((0, idx, None, False) if w.is_select else (0, None, False))
        sq = self.sendq
        while sq:
            w, idx, _ = sq.popleft()
            if not w.fired:
                w.fired = True
                w.driver.wake(w.tid, (1, w.driver.send_on_closed_error()))


#: What a receive can wait on: a channel, or the inbox of a process that has no inbox
#: channel yet.
Receivable = LChannel | InboxHandle


def _resume_sender(w: Waiter, idx: int) -> None:
    w.wake((0, idx, None, True) if w.is_select else (0, True))
