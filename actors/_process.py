"""A kernel process: one trio task, its mailbox, its links and monitors.

:class:`Process` is both the process's record in the node's table and the kernel
backend of :class:`Context` handed to the body. Keeping both in one object saves an
allocation and an indirection on every ``send``/``receive``; the record part is
private (``_`` fields) and the context part is the public API.

Lifecycle (:class:`ProcessState`)::

    RUNNING ──body returns──────────────▶ EXITED (value)
       │    ──body raises───────────────▶ EXITED (error)
       └────terminate / untrapped LINK_DOWN / node shutdown ─▶ EXITED (kill error)

Mailbox routing (Wippy's rules) is the shared core of ``_mailbox.py``: a message goes
to the channel listening on its topic, else to the inbox if the process has asked for
it, else it waits in the backlog in arrival order until something subscribes. This
class adds the kernel's channels, the quota below and hibernation's wake-up.

Hibernation (Erlang's ``erlang:hibernate/3``): a body may ``return ctx.hibernate(fn,
*args)``. The task ends — its frames and cancel scope are freed — but the process
stays alive (PID, mailbox, links, monitors, names). The next delivery of a message or
event starts a fresh task running ``fn(ctx, *args)``. An idle process then costs only
its record and channels. Killing a hibernating process finishes it at once.

Quotas (``Limits`` of the process's host, :attr:`Process.limits`; see ``_limits.py``):
``_room`` counts the slots left under ``mailbox_messages`` for what the kernel holds for
this process and it has not received (inbox, topics, backlog, events). It counts down,
so the send path compares one field with zero. ``_qbytes`` is the bytes of the
:class:`SizedMessage` payloads among them, ``_children`` the live children. The node
checks them before a send, a cancel or a spawn and raises at the caller; this object
only keeps them exact.

Memory: every collection a process may need (topics, backlog, events, links, monitors,
futures, timers) is created on first use, so an idle process is a task, a cancel scope,
this object and an inbox deque — within the ≤ 4 KB per idle process target.

Invariants:
  * ``_state is EXITED`` iff the PID is absent from the node's process table.
  * ``_kill_error`` is set at most once, and only while RUNNING.
  * ``_hibernating`` implies RUNNING, no task, and a fresh (never entered) ``_scope``.
  * every channel in ``_topics`` is open; ``unlisten`` closes and removes it.
  * ``limits.mailbox_messages - _room`` (:attr:`queued`) = items in the inbox, the
    events, every channel in ``_topics`` and the backlog; ``_qbytes`` = the sizes of
    the :class:`SizedMessage` among them; each mailbox channel's ``_owner`` is this
    process (``unlisten`` detaches it).
  * ``_children`` = live local processes whose ``parent`` is this PID and that were
    spawned while this process was alive.
  * ``_last_proc`` is the record of ``_last_dest``, the last PID this process sent to
    (an inline cache of the node's table: PIDs are never reused, so a hit is that
    process; its ``_state`` says whether it still runs). It keeps at most one exited
    record alive, until the next send elsewhere or this process's exit.
"""

from __future__ import annotations

import datetime
import enum
import random as _random_module
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import trio

from . import _call
from ._channel import Channel, TimerChannel, select
from ._context import Context, Target
from ._errors import Error, ErrorKind, ProcessNotFound, as_error
from ._functions import Future, KernelFuture
from ._isolate import IMMUTABLE_TYPES, isolate, isolate_payload
from ._limits import DEFAULT_LIMITS, Limits, SizedMessage, limit_error
from ._mailbox import Mailbox
from ._message import Event, EventKind, Message
from ._pg import Groups
from ._pid import Pid
from ._reports import crash_report

if TYPE_CHECKING:
    from ._node import Node

__all__ = [
    "LINK_FAILED",
    "SYSTEM_PID",
    "TERMINATED",
    "Process",
    "ProcessState",
    "link_failed_error",
    "terminated_error",
    "uuid7",
]

#: Sender of kernel-made CANCEL and LINK_DOWN events (Wippy's ``{|topology}``).
SYSTEM_PID = Pid("", "topology")
#: Exit message of a terminated process.
TERMINATED = "process terminated"
#: Exit message of a process killed by an untrapped LINK_DOWN.
LINK_FAILED = "linked process failed"


def terminated_error() -> Error:
    return Error(
        TERMINATED, kind=ErrorKind.INTERNAL, retryable=False, details={"reason": "terminated"}
    )


def link_failed_error(peer: Pid, error: Error) -> Error:
    return Error(
        LINK_FAILED,
        kind=ErrorKind.INTERNAL,
        details={"reason": "link_failed", "from": str(peer), "error": error.to_dict()},
    )


def noproc_error(pid: Pid) -> Error:
    """The EXIT error of a monitor set on a process that was not alive (OTP's noproc)."""
    return ProcessNotFound(
        f"noproc: {pid} was not alive when monitored", details={"reason": "noproc"}
    )


def _not_awaitable(body: Any, value: Any) -> Error:
    name = getattr(body, "__qualname__", repr(body))
    return Error(
        f"process body {name} returned {type(value).__name__}, not an awaitable: "
        "a body must be an async function ('async def body(ctx, ...)')",
        kind=ErrorKind.INVALID,
        retryable=False,
    )


class ProcessState(enum.Enum):
    RUNNING = "running"
    EXITED = "exited"


def uuid7() -> str:
    """An RFC 9562 version-7 UUID: 48-bit Unix milliseconds, then random bits."""
    ms = time.time_ns() // 1_000_000
    rand = int.from_bytes(uuid.uuid4().bytes[6:], "big") & ((1 << 80) - 1)
    value = (ms & ((1 << 48) - 1)) << 80 | rand
    value = (value & ~(0xF << 76)) | (0x7 << 76)  # version
    value = (value & ~(0x3 << 62)) | (0x2 << 62)  # variant
    return str(uuid.UUID(int=value))


class Process(Mailbox, Context):
    """A process's record and its kernel :class:`Context`.

    Bodies receive this object: ``async def body(proc, *args)``. All public methods are
    the context operations documented on :class:`Context`; in the kernel they are live
    (nothing is recorded) and cancellable (terminate cancels whatever the body awaits).
    """

    __slots__ = (
        "_accepts",
        "_args",
        "_body",
        "_children",
        "_exit_callbacks",
        "_futures",
        "_hibernating",
        "_kill_error",
        "_last_dest",
        "_last_proc",
        "_limits",
        "_links",
        "_monitors",
        "_node",
        "_qbytes",
        "_room",
        "_scope",
        "_state",
        "_timers",
        "entry_id",
        "kind",
        "parent",
        "pid",
        "trap_links",
        "values",
    )

    def __init__(
        self,
        node: Node,
        pid: Pid,
        body: Callable[..., Any] | None,
        args: tuple[Any, ...],
        *,
        entry_id: str | None = None,
        values: Mapping[str, Any] | None = None,
        parent: Pid | None = None,
        kind: str = "process",
        limits: Limits = DEFAULT_LIMITS,
    ) -> None:
        self._node = node
        self.pid = pid
        self._body = body
        self._args = args
        # A body that takes only some values (a Lua script's) names its check here: it
        # refuses a payload at the sender (``__beamish_accepts__(payload, pid)``).
        self._accepts: Callable[[tuple[Any, ...], Pid], None] | None = getattr(
            body, "__beamish_accepts__", None
        )
        self.entry_id = entry_id
        self.values: Mapping[str, Any] = values if values is not None else _EMPTY
        self.parent = parent
        self.kind = kind
        self.trap_links = False
        self._state = ProcessState.RUNNING
        self._scope = trio.CancelScope()
        self._kill_error: Error | None = None
        self._inbox: Channel | None = None
        self._direct: Channel | None = None
        self._events: Channel | None = None
        self._topics: dict[str, Channel] | None = None
        self._backlog = None
        self._monitors: set[Pid] | None = None
        self._links: set[Pid] | None = None
        self._futures: set[Future] | None = None
        self._timers: set[trio.CancelScope] | None = None
        self._exit_callbacks: list[Callable[[Any, Error | None], None]] | None = None
        self._hibernating = False
        self._limits = limits
        self._room = limits.mailbox_messages
        self._qbytes = 0
        self._children = 0
        self._last_dest: Pid | None = None
        self._last_proc: Process | None = None

    @property
    def limits(self) -> Limits:
        """The resource limits of this process's host (``LocalHost.limits``)."""
        return self._limits

    @property
    def queued(self) -> int:
        """Messages and events the kernel holds for this process, not received yet."""
        return self._limits.mailbox_messages - self._room

    # ==================================================================================
    # Running and exiting
    # ==================================================================================

    async def _run(self) -> None:
        value: Any = None
        error: Error | None = None
        try:
            with self._scope:
                started = self._body(self, *self._args)  # type: ignore[misc]
                if not hasattr(started, "__await__"):
                    raise _not_awaitable(self._body, started)
                value = await started
                while type(value) is _Hibernate and self._kill_error is None:
                    if not self._has_pending():
                        self._body, self._args = value.fn, value.args
                        self._scope = trio.CancelScope()
                        self._hibernating = True
                        return
                    value = await value.fn(self, *value.args)
        except Exception as exc:
            error = as_error(exc)
        except BaseException:
            self._finish(None, self._kill_error or terminated_error())
            raise
        if self._kill_error is not None:
            value, error = None, self._kill_error
        self._finish(value, error)

    def _kill(self, error: Error) -> None:
        """Stop this process now with ``error`` (terminate, link failure, shutdown)."""
        if self._state is ProcessState.RUNNING and self._kill_error is None:
            self._kill_error = error
            if self._hibernating:
                self._hibernating = False
                self._finish(None, error)
            else:
                self._scope.cancel()

    def _finish(self, value: Any, error: Error | None) -> None:
        if self._state is ProcessState.EXITED:
            return
        self._state = ProcessState.EXITED
        node = self._node
        node._forget(self)
        if self.parent is not None:
            spawner = node._procs.get(self.parent)
            if spawner is not None:
                spawner._children -= 1
        if self._futures:
            for fut in list(self._futures):
                fut.cancel()
        if self._timers:
            for scope in self._timers:
                scope.cancel()
        if error is None:
            try:
                value = isolate(value)
            except Error as exc:
                value, error = None, exc
        pid = self.pid
        if self._monitors:
            for watcher in self._monitors:
                node._deliver_event(watcher, Event(EventKind.EXIT, pid, value=value, error=error))
        if self._links:
            for peer in self._links:
                node._link_exit(peer, pid, error)
        if error is not None:
            crash_report(
                pid,
                self.entry_id,
                self.parent,
                error,
                bool(self._monitors or self._links or self._exit_callbacks),
            )
        if self._exit_callbacks:
            for cb in self._exit_callbacks:
                cb(value, error)
        node._exited(self, value, error)

    # -- hibernation ------------------------------------------------------------------

    can_hibernate = True

    def hibernate(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Return this from the body to sleep without a task until something arrives.

        ``return ctx.hibernate(fn, *args)``: the body's frames and task are dropped; the
        next message or event runs ``await fn(ctx, *args)`` as the new body (which may
        hibernate again). If something is already queued, ``fn`` runs at once. Timers
        (``after``) and futures do not wake a hibernating process.
        """
        if self._body is None:
            raise Error("a function frame cannot hibernate", kind=ErrorKind.INVALID)
        return _Hibernate(fn, args)

    def _has_pending(self) -> bool:
        if self._inbox is not None and self._inbox._items:
            return True
        if self._events is not None and self._events._items:
            return True
        return bool(self._topics) and any(ch._items for ch in self._topics.values())  # type: ignore[union-attr]

    def _wake(self) -> None:
        self._hibernating = False
        self._node._nursery.start_soon(self._run)  # type: ignore[union-attr]

    @property
    def state(self) -> ProcessState:
        return self._state

    def is_alive(self) -> bool:
        return self._state is ProcessState.RUNNING

    @property
    def home_host(self) -> str | None:
        return None if self._body is None else self.pid.host

    # ==================================================================================
    # Mailbox: routing is the shared core's (``_mailbox.py``); the quota is kept here
    # ==================================================================================

    def _new_channel(self, name: str) -> Channel:
        return Channel(name, self)

    def _deliver_event(self, event: Event) -> None:
        events = self._events
        if events is None:
            events = self._events = Channel("events", self)
        events.put_nowait(event)
        self._room -= 1
        if self._hibernating:
            self._wake()

    def _link_down(self, peer: Pid, error: Error | None) -> None:
        if self._links is not None:
            self._links.discard(peer)
        if error is None:
            return
        if self.trap_links:
            self._deliver_event(Event(EventKind.LINK_DOWN, peer, error=error))
        else:
            self._kill(link_failed_error(peer, error))

    def _before_listen(self, topic: str, listening: int) -> None:
        if listening >= self._limits.listens:
            raise limit_error("listens", self.pid.host, self._limits.listens,
                              f"cannot listen to {topic!r}: {self.pid} already listens "
                              f"to {listening} topics",
                              "unlisten some first, or raise the limit", pid=self.pid)

    def _released(self, ch: Channel) -> None:
        # What it still holds is no longer this mailbox's: give the slots back (the
        # items stay receivable from the closed channel itself).
        if ch._items:
            self._room += len(ch._items)
            for item in ch._items:
                if type(item) is SizedMessage:
                    self._qbytes -= item.size
        ch._owner = None

    def receive(  # type: ignore[override]
        self, timeout: float | None = None, *, match: Callable[[Message], bool] | None = None
    ) -> Awaitable[Message]:
        """The next (matching) inbox message; see :meth:`Context.receive`.

        Returns the inbox's own receive coroutine rather than wrapping it, which saves
        a coroutine frame per idle process; ``await proc.receive()`` reads the same.
        """
        ch = self._inbox
        if ch is None:
            ch = self.inbox()  # type: ignore[assignment]  # the kernel's inbox is a Channel
        if match is not None:
            return ch.receive_match(match, timeout)  # type: ignore[no-any-return,union-attr]
        return ch.receive(timeout)  # type: ignore[no-any-return,union-attr]

    async def select(
        self, channels: Sequence[Any], timeout: float | None = None
    ) -> tuple[Any, Any] | None:
        return await select(channels, timeout)

    # ==================================================================================
    # Messaging, processes, links
    # ==================================================================================

    def send(self, dest: Pid | str, topic: str, *payload: Any) -> None:
        """Send; raises ``Error(RATE_LIMITED)`` at once if the receiver's mailbox is at
        its ``limits.mailbox_messages`` (the message is not queued)."""
        # The hot path, inlined: a PID of a local process with room, a plain topic.
        # Everything else (names, foreign hosts, bad topics, a full mailbox) takes the
        # node's general path, which has the same outcome with its errors.
        if type(topic) is str and topic and topic[0] != "@":
            if dest is self._last_dest:
                proc = self._last_proc
            elif type(dest) is Pid:
                proc = self._node._procs.get(dest)
                self._last_dest = dest
                self._last_proc = proc
            else:
                proc = None
            if proc is not None and proc._state is _RUNNING and proc._room > 0:
                for v in payload:  # isolate_args, inlined: most payloads are scalars
                    if type(v) not in IMMUTABLE_TYPES:
                        payload = isolate_payload(payload, dest)
                        if proc._accepts is not None:  # a Lua receiver: refuse here
                            proc._accepts(payload, proc.pid)  # what it cannot take
                        break
                # Message(topic, sender, payload), field by field: no __init__ frame.
                msg = _new_message(Message)
                msg.topic = topic
                msg.sender = self.pid
                msg.payload = payload
                ch = proc._direct  # the inbox, while it listens to no topic
                if ch is not None:
                    ch.put_nowait(msg)
                else:
                    proc._deliver(msg)
                proc._room -= 1
                if proc._hibernating:
                    proc._wake()
                return
        self._node._send(dest, topic, payload, self.pid)

    def send_sized(self, dest: Pid | str, topic: str, size: int, *payload: Any) -> None:
        """:meth:`send` a payload whose size the caller knows (``size`` bytes, e.g. the
        string bytes of a Lua value): while queued it counts against the receiver's
        ``limits.mailbox_bytes``, and the send fails (``RATE_LIMITED``; ``INVALID`` if
        ``size`` alone is over the limit) when it would go over. A kernel-only extension
        used by the Lua bridge; other contexts have only :meth:`send`."""
        self._node._send_sized(dest, topic, payload, self.pid, size)

    def spawn(
        self,
        target: Target,
        *args: Any,
        host: str | None = None,
        name: str | None = None,
        messages: Sequence[tuple[str, tuple[Any, ...]]] = (),
        context: Mapping[str, Any] | None = None,
        monitor: bool = False,
        link: bool = False,
        options: Mapping[str, Any] | None = None,
        kwargs: Mapping[str, Any] | None = None,
    ) -> Pid:
        return self._node._spawn(
            target,
            args,
            host=host,
            name=name,
            messages=messages,
            context=context,
            parent=self.pid,
            monitor=monitor,
            link=link,
            options=options,
            kwargs=kwargs,
        )

    async def exec(self, target: Target, *args: Any, **kw: Any) -> Any:
        return await self._node._exec(target, args, parent=self.pid, **kw)

    def monitor(self, pid: Pid | str, *, strict: bool = False) -> None:
        try:
            self._node._monitor(self.pid, pid)
        except ProcessNotFound:
            if strict or type(pid) is not Pid:
                raise
            self._deliver_event(Event(EventKind.EXIT, pid, error=noproc_error(pid)))

    def unmonitor(self, pid: Pid | str) -> None:
        self._node._unmonitor(self.pid, pid)

    def link(self, pid: Pid | str) -> None:
        self._node._link(self.pid, pid)

    def unlink(self, pid: Pid | str) -> None:
        self._node._unlink(self.pid, pid)

    def cancel(self, dest: Pid | str, reason: str = "") -> None:
        self._node._cancel(dest, reason, self.pid)

    def terminate(self, dest: Pid | str) -> None:
        self._node._terminate(dest)

    def register(self, name: str, pid: Pid | None = None) -> None:
        target = pid if pid is not None else self.pid
        held = self._node.names.names_held(target)
        if held >= self._limits.names and self._node.names.lookup(name) != target:
            raise limit_error("names", self.pid.host, self._limits.names,
                              f"cannot register {name!r}: {target} already has {held} names",
                              "unregister some first, or raise the limit", pid=self.pid)
        self._node.register(name, target)

    def pg(self, scope: str) -> Groups:
        return Groups(self._node.groups.scope(scope), self.pid)

    async def register_global(self, name: str, pid: Pid | None = None) -> None:
        return await self._node.register_global(name, pid if pid is not None else self.pid)

    def lookup(self, name: str) -> Pid:
        return self._node.lookup(name)

    def unregister(self, name: str) -> bool:
        return self._node.unregister(name)

    # ==================================================================================
    # Calls to servers
    # ==================================================================================

    can_ask = True

    async def ask(self, dest: Pid | str, request: Any, *, timeout: float | None = 5.0) -> Any:
        return await _call.ask(self, dest, request, timeout)

    def cast(self, dest: Pid | str, request: Any) -> None:
        _call.cast(self, dest, request)

    # ==================================================================================
    # Functions
    # ==================================================================================

    async def call(
        self,
        func_id: str,
        *args: Any,
        timeout: float | None = None,
        context: Mapping[str, Any] | None = None,
        options: Mapping[str, Any] | None = None,
    ) -> Any:
        """Run function ``func_id`` in this task: terminating this process cancels it."""
        values = self.values if not context else {**self.values, **context}
        return await self._node.functions.invoke(self, values, func_id, args, timeout)

    def call_async(
        self,
        func_id: str,
        *args: Any,
        timeout: float | None = None,
        context: Mapping[str, Any] | None = None,
        options: Mapping[str, Any] | None = None,
    ) -> KernelFuture:
        """Start ``func_id`` in the background; it is cancelled when this process exits."""
        self._node.functions.get(func_id)  # fail fast on unknown IDs
        fut = KernelFuture(func_id)
        values = self.values if not context else {**self.values, **context}
        if self._futures is None:
            self._futures = set()
        self._futures.add(fut)
        invoke = self._node.functions.invoke

        async def run() -> None:
            with fut._scope:
                try:
                    value = await invoke(self, values, func_id, args, timeout)
                except Error as exc:
                    fut._set(None, exc)
                else:
                    fut._set(value, None)
            if self._futures is not None:
                self._futures.discard(fut)

        self._node._system_soon(run)
        return fut

    # ==================================================================================
    # Time and ids (live in the kernel)
    # ==================================================================================

    async def sleep(self, seconds: float) -> None:
        await trio.sleep(max(0.0, seconds))

    def after(self, seconds: float) -> Channel:
        """A channel that receives the time once, ``seconds`` from now. Closing the
        channel cancels the timer (its task ends at once); so does this process's exit."""
        ch = TimerChannel("after")
        scope = ch._scope = trio.CancelScope()
        if self._timers is None:
            self._timers = set()
        self._timers.add(scope)
        timers = self._timers

        async def fire() -> None:
            with scope:
                await trio.sleep(max(0.0, seconds))
                ch._scope = None
                if not ch.closed:
                    ch.put_nowait(self.now())
            timers.discard(scope)

        self._node._system_soon(fire)
        return ch

    def now(self) -> datetime.datetime:
        return datetime.datetime.now(datetime.UTC)

    def monotonic(self) -> float:
        return trio.current_time()

    def uuid4(self) -> str:
        return str(uuid.uuid4())

    def uuid7(self) -> str:
        return uuid7()

    def random(self) -> float:
        return _random()

    # ==================================================================================

    def statistics(self) -> dict[str, Any]:
        return {
            "pid": str(self.pid),
            "state": self._state.value,
            "inbox": len(self._inbox) if self._inbox is not None else 0,
            "backlog": len(self._backlog or ()),
            "events": len(self._events) if self._events is not None else 0,
            "queued": self.queued,
            "queued_bytes": self._qbytes,
            "children": self._children,
            "topics": sorted(self._topics or ()),
            "links": len(self._links or ()),
            "monitors": len(self._monitors or ()),
            "trap_links": self.trap_links,
            "hibernating": self._hibernating,
        }

    def __repr__(self) -> str:
        entry = f" {self.entry_id}" if self.entry_id else ""
        return f"<Process {self.pid}{entry} {self._state.value}>"


_EMPTY: Mapping[str, Any] = {}
_random = _random_module.random
_RUNNING = ProcessState.RUNNING
_new_message = object.__new__


class _Hibernate:
    """What ``Process.hibernate`` returns: the function to run on wake-up."""

    __slots__ = ("args", "fn")

    def __init__(self, fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
        self.fn = fn
        self.args = args

