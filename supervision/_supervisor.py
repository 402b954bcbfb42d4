"""OTP supervisors as beamish processes: start children, watch them, restart them.

What it is for: the Python API's answer to ``supervisor`` and ``DynamicSupervisor``.
Wippy has only one-for-one service supervision; this module adds OTP's strategies,
restart intensity and escalation on top of the kernel.

Principles (OTP's, restated)
----------------------------
* A supervisor **is a process**: :meth:`Supervisor.run` is its body. It has a PID, can
  be monitored, linked, registered under a name, and nested: a child whose ``start`` is
  a :class:`SupervisorSpec` is itself a supervisor.
* Children are started **left to right** (spec order) and stopped **right to left**.
  Each child is spawned *monitored and linked*; the supervisor traps links, so it
  learns every exit as an EXIT event and a child never takes it down. The link makes
  children die with a supervisor that is terminated (brutal kill), as in Erlang.
* When a child exits, its ``restart`` type decides whether a restart is due
  (:func:`is_abnormal`); the restart intensity decides whether the supervisor may make
  it; the strategy decides which children it covers (see :mod:`._flags`).
* **Escalation**: past the intensity, the supervisor stops all children and exits
  with ``Error(INTERNAL, details={"reason": "reached_max_restart_intensity", ...})``.
  Its monitors and links see an abnormal exit; its own supervisor restarts it or
  escalates in turn.
* **Shutdown** is a bounded protocol per child (:data:`BRUTAL_KILL`, a timeout, or
  :data:`INFINITY`): CANCEL with reason ``"supervisor shutdown"``, wait for the EXIT
  (through the monitor, never trusting the link), then terminate. A supervisor stops
  when it receives CANCEL (e.g. from :meth:`Supervisor.stop`, its parent, or node
  shutdown) and then exits normally; when its *parent* (the process that spawned it
  linked) fails, it stops its children and exits with an error naming the parent.

Outcomes of the API (methods of :class:`Supervisor`; all raise :class:`ProcessNotFound`
when the supervisor is not running):

``start_child(spec)``
    Adds the child at the end and starts it; returns its PID. ``Error(ALREADY_EXISTS)``
    (``details["reason"]``: ``already_started`` / ``already_present``) when the id is
    taken; the spec's own :class:`SpecError`; the spawn error (child not added).
``terminate_child(id)``
    Stops the child with its shutdown protocol. A temporary child is removed; others
    stay as stopped specs (``restart_child`` starts them). ``Error(NOT_FOUND)``.
``restart_child(id)``
    Starts a stopped child now; ``Error(CONFLICT)`` if it is running.
``delete_child(id)``
    Removes a stopped child's spec; ``Error(CONFLICT)`` if running or restarting.
``which_children()`` / ``count_children()`` / ``statistics()``
    Synchronous snapshots of the supervisor's own view (a child that died a moment ago
    shows as running until the supervisor has processed its EXIT).
``stop(timeout=None)``
    Ask the supervisor to stop (exactly what a CANCEL does), wait for it to stop its
    children and exit; after ``timeout`` seconds terminate it. Returns its exit error
    (None when clean).

:class:`DynamicSupervisor` differs as OTP's ``simple_one_for_one`` / Elixir's
``DynamicSupervisor`` do: children come only from ``start_child`` (ids need not be
unique; ``Error(UNAVAILABLE)``, ``details["reason"] == "max_children"``, when full);
``terminate_child`` takes a PID and removes the child (``Error(NOT_FOUND)`` if it is not
a running child); children that will not be restarted are removed, so it has no
``restart_child`` / ``delete_child`` (asking for them raises ``Error(INVALID)`` naming
what to do instead); at shutdown every child gets CANCEL at once, in reverse start
order, and they are waited for together, each within its own shutdown timeout.
``which_children`` and the rest of the list above are the same for both.

Why two classes and no subclassing (Elixir's choice too): their child APIs differ (ids
against PIDs), so one could not stand in for the other. Both build on one private core,
``_SupervisorCore`` (process body, loop, restart decisions, requests, observation,
stop), each adding its child API and how it stops a group of children.

Design notes
------------
* One loop, one mailbox: the supervisor ``select``\\ s on its events channel and a
  private request :class:`Channel` that the API methods fill. API calls are serialised
  through the loop like ``gen_server`` calls; a caller parks on a ``trio.Event`` and is
  failed with ProcessNotFound if the supervisor dies first (no caller left hanging).
* While waiting for a child to stop, other events keep arriving. EXITs of children that
  are being stopped are absorbed; other EXITs are *deferred* and handled afterwards,
  each tagged with the child's incarnation so an EXIT that a group restart already
  covered is recognised as stale and ignored (OTP matches EXITs by PID for the same
  reason). Already-delivered events are drained before any restart decision, so a
  CANCEL that arrived together with a crash stops the supervisor instead of restarting.
* Backoff delays live in a heap of due times; without backoff restarts are immediate.

Invariants:
  * ``child.pid is not None`` iff the supervisor has not yet processed that child's
    EXIT; then ``_by_pid[child.pid] is child``.
  * a child has a ``restart_due`` only while ``pid is None`` and it is not removed.
  * the intensity window holds at most ``intensity + 1`` stamps.
"""

from __future__ import annotations

import abc
import enum
import heapq
import logging
import math
import random
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Self, overload

import trio

from beamish.actors import (
    CLOSED,
    TERMINATED,
    Channel,
    Context,
    Error,
    ErrorKind,
    Event,
    EventKind,
    Node,
    Pid,
    ProcessNotFound,
)
from beamish.actors import supervisor_report as report

from ._child_spec import (
    BRUTAL_KILL,
    ChildSpec,
    ChildType,
    RestartType,
    is_abnormal,
)
from ._flags import DynamicSupervisorSpec, SupervisorSpec
from ._intensity import RestartIntensity

__all__ = [
    "SHUTDOWN_REASON",
    "ChildCounts",
    "ChildInfo",
    "ChildState",
    "DynamicSupervisor",
    "Supervisor",
    "SupervisorState",
    "SupervisorStatistics",
    "start_supervisor",
    "supervisor_at",
]

#: CANCEL reason a supervisor sends to the children it stops.
SHUTDOWN_REASON = "supervisor shutdown"

AnySpec = SupervisorSpec | DynamicSupervisorSpec


class SupervisorState(enum.StrEnum):
    """NEW → STARTING → RUNNING → STOPPING → STOPPED (normal exit) | FAILED (error)."""

    NEW = "new"
    STARTING = "starting"
    RUNNING = "running"
    STOPPING = "stopping"
    STOPPED = "stopped"
    FAILED = "failed"


class ChildState(enum.StrEnum):
    RUNNING = "running"
    #: Waiting for its backoff delay to pass.
    RESTARTING = "restarting"
    #: Not running and not due: transient after a normal exit, or terminate_child.
    STOPPED = "stopped"


@dataclass(frozen=True, slots=True)
class ChildInfo:
    """One row of :meth:`Supervisor.which_children`."""

    id: str
    pid: Pid | None
    type: ChildType
    restart: RestartType
    state: ChildState
    restarts: int


@dataclass(frozen=True, slots=True)
class ChildCounts:
    """OTP's ``count_children``: specs, running children, and specs by type."""

    specs: int
    active: int
    supervisors: int
    workers: int


@dataclass(frozen=True, slots=True)
class SupervisorStatistics:
    state: SupervisorState
    strategy: str
    children: int
    active: int
    restarting: int
    restarts: int
    restarts_in_window: int


class _Child:
    __slots__ = (
        "attempt",
        "handle",
        "incarnation",
        "pid",
        "removed",
        "restart_due",
        "restarts",
        "seq",
        "spec",
        "started_at",
    )

    def __init__(self, spec: ChildSpec, seq: int) -> None:
        self.spec = spec
        self.seq = seq
        self.pid: Pid | None = None
        self.incarnation = 0
        self.started_at = 0.0
        self.restart_due: float | None = None
        self.attempt = 0
        self.restarts = 0
        self.handle: Supervisor | DynamicSupervisor | None = None
        self.removed = False

    @property
    def state(self) -> ChildState:
        if self.pid is not None:
            return ChildState.RUNNING
        if self.restart_due is not None:
            return ChildState.RESTARTING
        return ChildState.STOPPED

    def info(self) -> ChildInfo:
        return ChildInfo(
            self.spec.id,
            self.pid,
            self.spec.type,  # type: ignore[arg-type]
            self.spec.restart,
            self.state,
            self.restarts,
        )


class _Request:
    __slots__ = ("args", "done", "error", "op", "result")

    def __init__(self, op: str, args: tuple[Any, ...]) -> None:
        self.op = op
        self.args = args
        self.done = trio.Event()
        self.result: Any = None
        self.error: Error | None = None


# Live supervisors by their process object (a Process hashes by identity).
_LIVE: dict[Context, Supervisor | DynamicSupervisor] = {}


def supervisor_at(node: Node, pid: Pid | str) -> Supervisor | DynamicSupervisor:
    """The :class:`Supervisor` or :class:`DynamicSupervisor` running as ``pid`` on ``node``.

    Raises :class:`ProcessNotFound` if ``pid`` is not alive and ``Error(INVALID)`` if it
    is not a supervisor."""
    proc = node.process(pid)
    sup = _LIVE.get(proc)
    if sup is None:
        raise Error(
            f"process {proc.pid} is not a supervisor", kind=ErrorKind.INVALID, retryable=False
        )
    return sup


def _make(spec: AnySpec, rng: random.Random | None) -> Supervisor | DynamicSupervisor:
    if isinstance(spec, DynamicSupervisorSpec):
        return DynamicSupervisor(spec, rng=rng)
    return Supervisor(spec, rng=rng)


@overload
async def start_supervisor(
    where: Node | Context,
    spec: SupervisorSpec,
    *,
    name: str | None = None,
    host: str | None = None,
    link: bool = False,
    monitor: bool = False,
    rng: random.Random | None = None,
) -> Supervisor: ...


@overload
async def start_supervisor(
    where: Node | Context,
    spec: DynamicSupervisorSpec,
    *,
    name: str | None = None,
    host: str | None = None,
    link: bool = False,
    monitor: bool = False,
    rng: random.Random | None = None,
) -> DynamicSupervisor: ...


async def start_supervisor(
    where: Node | Context,
    spec: AnySpec,
    *,
    name: str | None = None,
    host: str | None = None,
    link: bool = False,
    monitor: bool = False,
    rng: random.Random | None = None,
) -> Supervisor | DynamicSupervisor:
    """Spawn a supervisor for ``spec`` and wait until its initial children are started.

    ``where`` is the node (spawn from outside any process) or the calling process's
    context (then ``link``/``monitor`` attach the caller, as ``spawn_link`` does).
    Returns the running :class:`Supervisor` (a :class:`DynamicSupervisor` for a
    :class:`DynamicSupervisorSpec`). If a child
    fails to start, the children already started are stopped and the supervisor's exit
    error (``details["reason"] == "failed_to_start_child"``) is raised here.
    """
    sup = _make(spec, rng)
    return await sup.start(where, name=name, host=host, link=link, monitor=monitor)


class _SupervisorCore(abc.ABC):
    """What :class:`Supervisor` and :class:`DynamicSupervisor` share: the process body,
    the loop, restart decisions, starting children, the request channel, observing and
    stopping the supervisor (the public methods below belong to both).

    The two differ in how children are named and added (ids from a spec, or PIDs of
    children started at run time), so neither is a subclass of the other: each adds its
    own child API on top of this core and says how it stops a group of children
    (:meth:`_stop_children`). Build one with its spec, then :meth:`start` it (or spawn
    :meth:`run` yourself: ``ctx.spawn(sup.run, link=True)``). One object runs once.
    ``rng`` draws the backoff jitter (seed it for reproducible runs).
    """

    #: Whether this kind runs a :class:`DynamicSupervisorSpec`.
    _dynamic: bool

    def __init__(self, spec: AnySpec, *, rng: random.Random | None = None) -> None:
        if not getattr(spec, "is_supervisor_spec", False):
            raise Error(
                f"expected a SupervisorSpec, got {spec!r}", kind=ErrorKind.INVALID, retryable=False
            )
        if spec.dynamic != self._dynamic:
            wanted = "DynamicSupervisorSpec" if spec.dynamic else "SupervisorSpec"
            raise Error(
                f"{type(self).__name__} cannot run a {type(spec).__name__}; "
                f"use {'DynamicSupervisor' if spec.dynamic else 'Supervisor'} for a {wanted}",
                kind=ErrorKind.INVALID,
                retryable=False,
            )
        self.spec = spec
        self.pid: Pid | None = None
        self.state = SupervisorState.NEW
        #: The exit error once the supervisor has exited abnormally.
        self.exit_error: Error | None = None
        #: Restarts made over the supervisor's life.
        self.restarts = 0
        self._rng = rng if rng is not None else random.Random()
        self._ctx: Context | None = None
        self._parent: Pid | None = None
        self._events: Any = None
        self._children: list[_Child] = []
        self._by_pid: dict[Pid, _Child] = {}
        self._seq = 0
        self._requests = Channel("supervisor.requests")
        self._intensity = RestartIntensity(spec.intensity, spec.period)
        self._due: list[tuple[float, int, _Child]] = []
        self._deferred: deque[tuple[_Child, int, Error | None, float]] = deque()
        self._stop_requested: str | None = None
        self._parent_failed: tuple[Pid, Error | None] | None = None
        self._init_error: Error | None = None
        self._ready = trio.Event()
        self._exited = trio.Event()
        self._used = False

    # ==================================================================================
    # Starting
    # ==================================================================================

    def spawn(
        self,
        where: Node | Context,
        *,
        name: str | None = None,
        host: str | None = None,
        link: bool = False,
        monitor: bool = False,
    ) -> Pid:
        """Spawn the supervisor process and return its PID at once."""
        if self._used:
            raise Error(
                "this Supervisor object has already run; build a new one for a new process",
                kind=ErrorKind.INVALID,
                retryable=False,
            )
        self._used = True
        if isinstance(where, Context):
            return where.spawn(self.run, name=name, host=host, link=link, monitor=monitor)
        if link or monitor:
            raise Error(
                "link/monitor need a calling process: pass its context (ctx), not the node",
                kind=ErrorKind.INVALID,
                retryable=False,
            )
        return where.spawn(self.run, name=name, host=host)

    async def start(self, where: Node | Context, **kw: Any) -> Self:
        """:meth:`spawn`, then wait until the initial children are started."""
        self.spawn(where, **kw)
        await self._ready.wait()
        if self._init_error is not None:
            raise self._init_error
        return self

    async def run(self, ctx: Context) -> None:
        """The supervisor's process body: start the children, then supervise them."""
        if self._ctx is not None:
            raise Error("a Supervisor runs in one process only", kind=ErrorKind.INVALID)
        self._used = True
        self._ctx = ctx
        self.pid = ctx.pid
        self._parent = ctx.parent
        self._events = ctx.events()
        ctx.trap_links = True
        _LIVE[ctx] = self  # type: ignore[assignment]
        self.state = SupervisorState.STARTING
        try:
            try:
                await self._start_initial()
            finally:
                self._ready.set()
            self.state = SupervisorState.RUNNING
            await self._loop()
            self.state = SupervisorState.STOPPED
        except Error as exc:
            self.exit_error = exc
            self.state = SupervisorState.FAILED
            raise
        except BaseException:
            # Terminated (trio cancelled the body): the kernel records the exit error.
            self.exit_error = Error(
                TERMINATED,
                kind=ErrorKind.INTERNAL,
                retryable=False,
                details={"reason": "terminated"},
            )
            self.state = SupervisorState.FAILED
            raise
        finally:
            _LIVE.pop(ctx, None)
            self._close_requests()
            self._exited.set()

    async def _start_initial(self) -> None:
        for spec in self.spec.children:
            self._add(spec)
        for child in list(self._children):
            try:
                self._start_child(child)
            except Error as exc:
                self._init_error = Error(
                    f"supervisor {self.pid}: failed to start child {child.spec.id!r}: "
                    f"{exc.message}",
                    kind=exc.kind,
                    retryable=exc.retryable,
                    details={
                        "reason": "failed_to_start_child",
                        "child": child.spec.id,
                        "error": exc.to_dict(),
                    },
                )
                self.state = SupervisorState.STOPPING
                await self._stop_all()
                raise self._init_error from exc

    # ==================================================================================
    # The loop
    # ==================================================================================

    async def _loop(self) -> None:
        ctx = self._ctx
        assert ctx is not None
        channels = [self._events, self._requests]
        while True:
            self._drain_events()
            if self._parent_failed is not None:
                parent, error = self._parent_failed
                self.state = SupervisorState.STOPPING
                await self._stop_all()
                raise Error(
                    f"supervisor {self.pid} stopped: its parent {parent} failed"
                    + (f" ({error.message})" if error is not None else ""),
                    kind=ErrorKind.INTERNAL,
                    details={
                        "reason": "parent_failed",
                        "parent": str(parent),
                        "error": error.to_dict() if error is not None else None,
                    },
                )
            if self._stop_requested is not None:
                self.state = SupervisorState.STOPPING
                await self._stop_all()
                return
            if self._deferred:
                await self._handle_exit(*self._deferred.popleft())
                continue
            now = ctx.monotonic()
            due = self._next_due()
            if due is not None and due <= now:
                self._restart_due(now)
                continue
            got = await ctx.select(channels, None if due is None else due - now)
            if got is None:
                continue
            ch, item = got
            if item is CLOSED:
                continue
            if ch is self._events:
                self._on_event(item, None)
            else:
                await self._serve(item)

    def _drain_events(self) -> None:
        events = self._events
        while len(events):
            item = events.receive_nowait()
            if item is CLOSED:
                return
            self._on_event(item, None)

    def _on_event(self, ev: Event, quiet: set[_Child] | None) -> None:
        kind = ev.kind
        if kind is EventKind.EXIT:
            child = self._by_pid.pop(ev.sender, None)
            if child is None:
                return  # a removed child's late EXIT, or a process we only monitor
            child.pid = None
            child.handle = None
            assert self._ctx is not None
            ran = self._ctx.monotonic() - child.started_at
            if quiet is None or child not in quiet:
                self._deferred.append((child, child.incarnation, ev.error, ran))
        elif kind is EventKind.LINK_DOWN:
            # A child's link is covered by its EXIT. Only the parent's failure matters
            # (OTP: a supervisor ignores EXIT signals from unknown linked processes).
            if self._parent is not None and ev.sender == self._parent:
                self._parent_failed = (ev.sender, ev.error)
        elif kind is EventKind.CANCEL:
            if self._stop_requested is None:
                self._stop_requested = ev.reason or SHUTDOWN_REASON

    # ==================================================================================
    # Restart decisions
    # ==================================================================================

    async def _handle_exit(
        self, child: _Child, incarnation: int, error: Error | None, ran: float
    ) -> None:
        if (
            child.removed
            or child.incarnation != incarnation
            or child.pid is not None
            or child.restart_due is not None
        ):
            return  # stale: a group restart already covered this exit
        spec = child.spec
        if not _should_restart(spec.restart, error):
            if spec.restart is RestartType.TEMPORARY or self.spec.dynamic:
                self._remove(child)
            return
        assert self._ctx is not None
        what = error.message if error is not None else "a normal exit"
        if not self._intensity.record(self._ctx.monotonic()):
            report(
                logging.ERROR,
                "supervisor %s gives up: child %r exited with %s, the restart intensity "
                "(%d within %gs) is spent; stopping all children and exiting",
                (self.pid, spec.id, what, self.spec.intensity, self.spec.period),
                supervisor=self.pid,
                child=spec.id,
                event="escalated",
                reason=what,
            )
            self.state = SupervisorState.STOPPING
            await self._stop_all()
            raise Error(
                f"supervisor {self.pid} reached its maximum restart intensity "
                f"({self.spec.intensity} restarts within {self.spec.period:g}s); "
                f"last: child {spec.id!r} exited with: {what}",
                kind=ErrorKind.INTERNAL,
                details={
                    "reason": "reached_max_restart_intensity",
                    "child": spec.id,
                    "error": error.to_dict() if error is not None else None,
                },
            )
        self.restarts += 1
        child.restarts += 1
        group = self._group(child)
        report(
            logging.ERROR if error is not None else logging.INFO,
            "supervisor %s restarts %s after child %r exited with %s (restart %d)",
            (
                self.pid,
                ", ".join(repr(c.spec.id) for c in group if not c.removed),
                spec.id,
                what,
                self.restarts,
            ),
            supervisor=self.pid,
            child=spec.id,
            event="restart",
            reason=what,
            strategy=self.spec.strategy.value,
        )
        others = [c for c in group if c is not child]
        if others:
            await self._stop_children(reversed(others), set(group))
            for c in others:
                if c.spec.restart is RestartType.TEMPORARY:
                    self._remove(c)
        delay = self._delay(child, ran)
        members = [c for c in group if not c.removed]
        if delay <= 0:
            for c in members:
                self._restart(c)
        else:
            due = self._ctx.monotonic() + delay
            for c in members:
                c.restart_due = due
                heapq.heappush(self._due, (due, c.seq, c))

    def _group(self, child: _Child) -> list[_Child]:
        strategy = self.spec.strategy.value
        if strategy == "one_for_all":
            return [c for c in self._children if not c.removed]
        if strategy == "rest_for_one":
            return [c for c in self._children if not c.removed and c.seq >= child.seq]
        return [child]

    def _delay(self, child: _Child, ran: float) -> float:
        backoff = self.spec.backoff
        if backoff is None:
            return 0.0
        if ran >= self.spec.period:
            child.attempt = 0
        child.attempt += 1
        return backoff.delay(child.attempt, self._rng)

    def _next_due(self) -> float | None:
        heap = self._due
        while heap:
            due, _, child = heap[0]
            if child.restart_due == due and not child.removed and child.pid is None:
                return due
            heapq.heappop(heap)
        return None

    def _restart_due(self, now: float) -> None:
        ready: list[_Child] = []
        heap = self._due
        while heap and heap[0][0] <= now:
            due, _, child = heapq.heappop(heap)
            if child.restart_due == due and not child.removed and child.pid is None:
                child.restart_due = None
                ready.append(child)
        for child in sorted(ready, key=lambda c: c.seq):
            self._restart(child)

    def _restart(self, child: _Child) -> None:
        """Start ``child`` again; a spawn failure counts as a crash of that child."""
        try:
            self._start_child(child)
        except Error as exc:
            self._deferred.append((child, child.incarnation, exc, 0.0))

    # ==================================================================================
    # Starting and stopping children
    # ==================================================================================

    def _add(self, spec: ChildSpec) -> _Child:
        self._seq += 1
        child = _Child(spec, self._seq)
        self._children.append(child)
        return child

    def _remove(self, child: _Child) -> None:
        child.removed = True
        child.restart_due = None
        try:
            self._children.remove(child)
        except ValueError:
            pass

    def _start_child(self, child: _Child) -> Pid:
        ctx = self._ctx
        assert ctx is not None and child.pid is None
        spec = child.spec
        child.incarnation += 1
        child.restart_due = None
        if spec.name is not None:
            try:
                holder = ctx.lookup(spec.name)
            except ProcessNotFound:
                pass
            else:
                raise Error(
                    f"cannot start child {spec.id!r}: the name {spec.name!r} is taken by {holder}",
                    kind=ErrorKind.ALREADY_EXISTS,
                    details={"pid": str(holder)},
                )
        handle: Supervisor | DynamicSupervisor | None = None
        target: Any = spec.start
        if getattr(target, "is_supervisor_spec", False):
            handle = _make(target, self._rng)
            handle._used = True
            target = handle.run
        pid = ctx.spawn(
            target,
            *spec.args,
            host=spec.host or ctx.pid.host,
            name=spec.name,
            monitor=True,
            link=True,
        )
        child.pid = pid
        child.handle = handle
        child.started_at = ctx.monotonic()
        self._by_pid[pid] = child
        return pid

    async def _stop_all(self) -> None:
        self._due.clear()
        for c in self._children:
            c.restart_due = None
        await self._stop_children(reversed(list(self._children)), set(self._children))

    @abc.abstractmethod
    async def _stop_children(self, children: Iterable[_Child], quiet: set[_Child]) -> None:
        """Stop ``children`` (callers pass reverse start order), each with its shutdown
        protocol, and return once all are gone. EXITs of ``quiet`` children are
        absorbed; others are deferred. :class:`Supervisor` stops them one by one (OTP),
        :class:`DynamicSupervisor` all at once."""

    def _cancel(self, pid: Pid) -> None:
        assert self._ctx is not None
        try:
            self._ctx.cancel(pid, SHUTDOWN_REASON)
        except ProcessNotFound:
            pass  # already dead: its EXIT is on the way (we monitor it)

    def _terminate(self, pid: Pid) -> None:
        assert self._ctx is not None
        try:
            self._ctx.terminate(pid)
        except ProcessNotFound:
            pass

    def _kill(self, child: _Child) -> None:
        """Terminate ``child`` as its shutdown protocol says, with a supervisor report."""
        assert child.pid is not None
        shutdown = child.spec.shutdown
        why = (
            "its shutdown is brutal_kill"
            if shutdown is BRUTAL_KILL
            else f"it did not stop within its shutdown of {shutdown:g}s"
        )
        report(
            logging.WARNING,
            "supervisor %s killed child %r (%s): %s",
            (self.pid, child.spec.id, child.pid, why),
            supervisor=self.pid,
            child=child.spec.id,
            pid=child.pid,
            event="killed",
        )
        self._terminate(child.pid)

    # ==================================================================================
    # Requests (the public API, served by the loop)
    # ==================================================================================

    async def _call(self, op: str, *args: Any) -> Any:
        if self._ctx is None or self._requests.closed:
            raise ProcessNotFound(
                f"supervisor {self.pid or '(not started)'} is not running; "
                "start it first, or monitor it to learn when it exits"
            )
        req = _Request(op, args)
        self._requests.put_nowait(req)
        await req.done.wait()
        if req.error is not None:
            raise req.error
        return req.result

    async def _serve(self, req: _Request) -> None:
        try:
            req.result = await getattr(self, "_op_" + req.op)(*req.args)
        except Error as exc:
            req.error = exc
        req.done.set()

    def _close_requests(self) -> None:
        self._requests.close()
        while True:
            item = self._requests.receive_nowait()
            if item is CLOSED:
                break
            item.error = ProcessNotFound(f"supervisor {self.pid} exited before serving {item.op}")
            item.done.set()

    def _find(self, child_id: str) -> _Child:
        for c in self._children:
            if c.spec.id == child_id:
                return c
        raise Error(
            f"supervisor {self.pid} has no child {child_id!r}",
            kind=ErrorKind.NOT_FOUND,
            retryable=False,
            details={"reason": "not_found", "child": child_id},
        )

    def _add_and_start(self, spec: ChildSpec) -> Pid:
        child = self._add(spec)
        try:
            return self._start_child(child)
        except Error:
            self._remove(child)
            raise

    async def _op_stop(self, reason: str) -> None:
        if self._stop_requested is None:
            self._stop_requested = reason

    # ==================================================================================
    # Observing and stopping the supervisor
    # ==================================================================================

    def which_children(self) -> list[ChildInfo]:
        """One :class:`ChildInfo` per child, in start order."""
        return [c.info() for c in self._children]

    def count_children(self) -> ChildCounts:
        kids = self._children
        sups = sum(1 for c in kids if c.spec.type is ChildType.SUPERVISOR)
        return ChildCounts(
            specs=len(kids),
            active=sum(1 for c in kids if c.pid is not None),
            supervisors=sups,
            workers=len(kids) - sups,
        )

    def child_supervisor(self, child_id: str) -> Supervisor | DynamicSupervisor:
        """The running nested supervisor of child ``child_id`` (the first child with
        that id). ``Error(NOT_FOUND)`` for no such child, ``Error(INVALID)`` when it is
        not a running supervisor."""
        child = self._find(child_id)
        if child.handle is None:
            raise Error(
                f"child {child_id!r} of supervisor {self.pid} is not a running supervisor",
                kind=ErrorKind.INVALID,
                retryable=False,
            )
        return child.handle

    @property
    def running(self) -> bool:
        return self._ctx is not None and not self._exited.is_set()

    async def wait(self) -> Error | None:
        """Wait until the supervisor process has exited; return its exit error."""
        await self._exited.wait()
        return self.exit_error

    async def stop(
        self, *, timeout: float | None = None, reason: str = SHUTDOWN_REASON
    ) -> Error | None:
        """Ask the supervisor to stop its children and exit; terminate it after
        ``timeout`` seconds. Returns its exit error (None after a clean stop)."""
        if self._ctx is None:
            raise ProcessNotFound("supervisor was never started")
        if not self._exited.is_set():
            try:
                self._requests.put_nowait(_Request("stop", (reason,)))
            except Error:
                pass  # closing: it is exiting anyway
            if timeout is None:
                await self._exited.wait()
            else:
                with trio.move_on_after(timeout):
                    await self._exited.wait()
                if not self._exited.is_set():
                    self._ctx.terminate(self._ctx.pid)
                    await self._exited.wait()
        return self.exit_error

    def statistics(self) -> SupervisorStatistics:
        kids = self._children
        try:
            now = trio.current_time()
        except RuntimeError:  # outside trio.run: report the whole window
            now = self._intensity.restarts[-1] if self._intensity.restarts else 0.0
        return SupervisorStatistics(
            state=self.state,
            strategy="dynamic" if self.spec.dynamic else self.spec.strategy.value,
            children=len(kids),
            active=sum(1 for c in kids if c.pid is not None),
            restarting=sum(1 for c in kids if c.restart_due is not None),
            restarts=self.restarts,
            restarts_in_window=self._intensity.in_window(now),
        )

    def __repr__(self) -> str:
        kind = "dynamic" if self.spec.dynamic else self.spec.strategy.value
        active = sum(1 for c in self._children if c.pid is not None)
        return (
            f"<{type(self).__name__} {self.pid or '-'} {self.state.value} {kind} "
            f"children={len(self._children)} active={active} restarts={self.restarts}>"
        )


def _should_restart(restart: RestartType, error: Error | None) -> bool:
    if restart is RestartType.PERMANENT:
        return True
    if restart is RestartType.TRANSIENT:
        return is_abnormal(error)
    return False


class Supervisor(_SupervisorCore):
    """A static supervisor (strategies one_for_one, one_for_all, rest_for_one).

    Build it with a :class:`SupervisorSpec`. Children have unique ids: the initial ones
    come from the spec, more from :meth:`start_child`; :meth:`terminate_child`,
    :meth:`restart_child` and :meth:`delete_child` take an id. A group of children is
    stopped one by one, in reverse start order (OTP's order). See the module docstring
    for every outcome.
    """

    _dynamic = False
    spec: SupervisorSpec

    # ==================================================================================
    # Children by id (the public API, served by the loop)
    # ==================================================================================

    async def start_child(self, spec: ChildSpec | Mapping[str, Any]) -> Pid:
        """Add a child at the end and start it. See the module docstring for outcomes."""
        if not isinstance(spec, ChildSpec):
            spec = ChildSpec.from_mapping(spec)
        return await self._call("start_child", spec)

    async def terminate_child(self, child_id: str) -> None:
        """Stop the child with its shutdown protocol (see the module docstring)."""
        await self._call("terminate_child", child_id)

    async def restart_child(self, child_id: str) -> Pid:
        """Start a stopped child now; its new PID (see the module docstring)."""
        return await self._call("restart_child", child_id)

    async def delete_child(self, child_id: str) -> None:
        """Remove a stopped child's spec (see the module docstring)."""
        await self._call("delete_child", child_id)

    async def _op_start_child(self, spec: ChildSpec) -> Pid:
        for c in self._children:
            if c.spec.id == spec.id:
                running = c.pid is not None
                raise Error(
                    f"supervisor {self.pid} already has a child {spec.id!r}"
                    + (f" running as {c.pid}" if running else " (stopped; use restart_child)"),
                    kind=ErrorKind.ALREADY_EXISTS,
                    retryable=False,
                    details={
                        "reason": "already_started" if running else "already_present",
                        "child": spec.id,
                        "pid": str(c.pid) if running else None,
                    },
                )
        return self._add_and_start(spec)

    async def _op_terminate_child(self, child_id: str) -> None:
        child = self._find(child_id)
        child.restart_due = None
        if child.pid is not None:
            await self._stop_children([child], {child})
        if child.spec.restart is RestartType.TEMPORARY:
            self._remove(child)

    async def _op_restart_child(self, child_id: str) -> Pid:
        child = self._find(child_id)
        if child.pid is not None:
            raise Error(
                f"child {child_id!r} of supervisor {self.pid} is running as {child.pid}",
                kind=ErrorKind.CONFLICT,
                retryable=False,
                details={"reason": "running", "child": child_id},
            )
        return self._start_child(child)

    async def _op_delete_child(self, child_id: str) -> None:
        child = self._find(child_id)
        if child.pid is not None or child.restart_due is not None:
            raise Error(
                f"child {child_id!r} of supervisor {self.pid} is {child.state.value}; "
                "terminate_child it first",
                kind=ErrorKind.CONFLICT,
                retryable=False,
                details={"reason": child.state.value, "child": child_id},
            )
        self._remove(child)

    # ==================================================================================
    # Stopping children: one by one
    # ==================================================================================

    async def _stop_children(self, children: Iterable[_Child], quiet: set[_Child]) -> None:
        """Stop ``children`` one by one, in the order given (callers pass reverse start
        order). EXITs of ``quiet`` children are absorbed; others are deferred."""
        for child in children:
            child.restart_due = None
            if child.pid is not None:
                await self._stop_one(child, quiet | {child})

    async def _stop_one(self, child: _Child, quiet: set[_Child]) -> None:
        assert self._ctx is not None and child.pid is not None
        shutdown = child.spec.shutdown
        deadline: float | None = None
        if shutdown is BRUTAL_KILL:
            self._kill(child)
        else:
            self._cancel(child.pid)
            assert isinstance(shutdown, float | int)
            if not math.isinf(shutdown):
                deadline = self._ctx.monotonic() + shutdown
        if not await self._wait_gone(child, deadline, quiet):
            if child.pid is not None:
                self._kill(child)
            await self._wait_gone(child, None, quiet)

    async def _wait_gone(self, child: _Child, deadline: float | None, quiet: set[_Child]) -> bool:
        ctx = self._ctx
        assert ctx is not None
        events = [self._events]
        while child.pid is not None:
            timeout = None
            if deadline is not None:
                timeout = deadline - ctx.monotonic()
                if timeout <= 0:
                    return False
            got = await ctx.select(events, timeout)
            if got is None:
                return False
            if got[1] is not CLOSED:
                self._on_event(got[1], quiet)
        return True


class DynamicSupervisor(_SupervisorCore):
    """A supervisor whose children are all added at run time (one_for_one).

    Build it with a :class:`DynamicSupervisorSpec`. Children come only from
    :meth:`start_child` (ids need not be unique) and are named by PID:
    :meth:`terminate_child` takes one. It has no ``restart_child``/``delete_child``:
    children that stop are removed, so there is nothing to restart or delete (asking
    raises ``Error(INVALID)`` saying so). A group of children is stopped all at once.
    See the module docstring for how it differs from :class:`Supervisor`.
    """

    _dynamic = True
    spec: DynamicSupervisorSpec

    async def start_child(self, spec: ChildSpec | Mapping[str, Any]) -> Pid:
        """Start a new child; returns its PID. ``Error(UNAVAILABLE)`` with
        ``details["reason"] == "max_children"`` when full."""
        if not isinstance(spec, ChildSpec):
            spec = ChildSpec.from_mapping(spec)
        return await self._call("start_child", spec)

    async def terminate_child(self, pid: Pid | str) -> None:
        """Stop the child ``pid`` with its shutdown protocol and remove it."""
        if isinstance(pid, str):
            pid = Pid.parse(pid)
        await self._call("terminate_child", pid)

    async def _op_start_child(self, spec: ChildSpec) -> Pid:
        limit = self.spec.max_children
        if limit is not None and len(self._children) >= limit:
            raise Error(
                f"dynamic supervisor {self.pid} already has max_children={limit} children",
                kind=ErrorKind.UNAVAILABLE,
                retryable=True,
                details={"reason": "max_children", "max_children": limit},
            )
        return self._add_and_start(spec)

    async def _op_terminate_child(self, pid: Pid) -> None:
        child = self._by_pid.get(pid)
        if child is None:
            raise Error(
                f"{pid} is not a running child of dynamic supervisor {self.pid}",
                kind=ErrorKind.NOT_FOUND,
                retryable=False,
                details={"reason": "not_found", "pid": str(pid)},
            )
        await self._stop_children([child], {child})
        self._remove(child)

    async def _stop_children(self, children: Iterable[_Child], quiet: set[_Child]) -> None:
        """Signal every child (in the order given), then wait for all together, each
        within its own shutdown timeout."""
        ctx = self._ctx
        assert ctx is not None
        children = list(children)
        quiet = quiet | set(children)
        deadlines: dict[_Child, float] = {}
        for child in children:
            child.restart_due = None
            if child.pid is None:
                continue
            shutdown = child.spec.shutdown
            if shutdown is BRUTAL_KILL:
                self._kill(child)
            else:
                self._cancel(child.pid)
                assert isinstance(shutdown, float | int)
                if not math.isinf(shutdown):
                    deadlines[child] = ctx.monotonic() + shutdown
        waiting = [c for c in quiet if c.pid is not None]
        events = [self._events]
        while True:
            waiting = [c for c in waiting if c.pid is not None]
            if not waiting:
                return
            now = ctx.monotonic()
            for c in [c for c, d in deadlines.items() if d <= now]:
                del deadlines[c]
                if c.pid is not None:
                    self._kill(c)
            live_deadlines = [d for c, d in deadlines.items() if c.pid is not None]
            timeout = min(live_deadlines) - now if live_deadlines else None
            got = await ctx.select(events, timeout)
            if got is not None and got[1] is not CLOSED:
                self._on_event(got[1], quiet)

    if not TYPE_CHECKING:  # (type checkers see no such attributes: they do not exist)

        def __getattr__(self, name: str) -> Any:
            hint = _NOT_DYNAMIC.get(name)
            if hint is None:
                raise AttributeError(
                    f"{type(self).__name__!r} object has no attribute {name!r}", name=name,
                    obj=self)
            raise _NoSuchOperation(f"a dynamic supervisor has no {name}: {hint}",
                                   kind=ErrorKind.INVALID, retryable=False)


#: The id-based operations of :class:`Supervisor` a dynamic supervisor lacks, and why.
_NOT_DYNAMIC = {
    "restart_child": "start_child a new one",
    "delete_child": "terminated children are removed",
}


class _NoSuchOperation(Error, AttributeError):
    """Asking a :class:`DynamicSupervisor` for an operation only :class:`Supervisor` has:
    an ``Error(INVALID)`` naming the alternative, and an ``AttributeError`` (``hasattr``
    is False)."""
