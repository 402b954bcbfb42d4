"""One service: a process kept running by a controller with Wippy's restart rules.

A *service* (Wippy's ``process.service`` and its documented restarts) wraps a process
entry: the process to spawn, the host, its positional ``input`` and a
:class:`Lifecycle`. This module is the per-service part: the state machine and the
controller that runs it. :mod:`._manager` owns the set of services and their order.

State machine (:class:`ServiceState`, transitions checked by ``_set``)::

    UNKNOWN ─start─▶ STARTING ─spawned─▶ RUNNING ─error exit─▶ FAILED ─delay─▶ STARTING
                       │                   │  ╰─normal return / terminal error─▶ EXITED
                       │                   ╰─stop─▶ STOPPING ─exit (or terminate)─▶ STOPPED
                       ╰─spawn error: as an error exit of a zero-length run
    FAILED ─stop during the delay─▶ STOPPED;  STOPPED/EXITED/FAILED ─start─▶ STARTING

What happens when the process ends (Wippy's runtime reading, with one deliberate
difference, the last point):

* returns normally → **EXITED**, not restarted (a finished job is done);
* exits with an error → **FAILED**, restarted after ``backoff.delay(attempt)`` unless
  the error is *terminal*: its ``retryable`` is explicitly False, or its kind is
  CANCELED (the process reports it was cancelled) → **EXITED** with the error kept.
  A process that somebody *terminated* ("process terminated") is restarted, as in
  Wippy, although the kernel marks that error non-retryable;
* the attempt counter starts at 1; a run that lasted ``>= stable_threshold`` resets it
  to 1 before the failure is counted; when ``max_attempts > 0`` and the counter has
  reached it, the service gives up → **FAILED** for good (``status.restarting`` False);
* the n-th restart of a streak waits ``initial * factor^(n-1)`` capped, ± jitter —
  not Wippy HEAD's constant ``initial_delay`` (a [QUIRK] there).

Stop: the controller sends CANCEL with reason ``"service stopping"`` to the process,
waits up to ``stop_timeout`` for its EXIT, then terminates it (Wippy leaves a stuck
process running; beamish does not) and counts a forced stop.

The controller is itself a process on host ``node:control`` (Wippy's supervisor
pseudo-PID lives there): it spawns the service process monitored and linked (so a
killed controller takes its process along), sees its exit as an EXIT event and is told
to stop with CANCEL. One controller runs per activation (from start to a terminal
state); the :class:`Service` object outlives it and holds the observable status.

Invariants:
  * ``controller is not None`` iff a controller process for this service is running;
  * ``pid is not None`` only in RUNNING and STOPPING;
  * ``next_restart_at is not None`` only in FAILED while a restart is pending.
"""

from __future__ import annotations

import enum
import random
import time
from collections.abc import Callable
from dataclasses import KW_ONLY, dataclass, field
from typing import TYPE_CHECKING, Any

import trio

from beamish.actors import (
    CLOSED,
    Context,
    Error,
    ErrorKind,
    Event,
    EventKind,
    Pid,
    ProcessNotFound,
)

from ._lifecycle import Lifecycle

if TYPE_CHECKING:
    from beamish.actors import Node

__all__ = [
    "STOP_REASON",
    "Service",
    "ServiceSpec",
    "ServiceState",
    "ServiceStatus",
    "is_terminal_error",
]

#: CANCEL reason sent to a service's process when the service is stopped.
STOP_REASON = "service stopping"


class ServiceState(enum.StrEnum):
    """Wippy's service statuses; the values are the strings Lua sees."""

    UNKNOWN = "unknown"
    STARTING = "starting"
    RUNNING = "running"
    STOPPING = "stopping"
    STOPPED = "stopped"
    FAILED = "failed"
    EXITED = "exited"


S = ServiceState
_TRANSITIONS: dict[ServiceState, frozenset[ServiceState]] = {
    S.UNKNOWN: frozenset({S.STARTING}),
    S.STARTING: frozenset({S.RUNNING, S.FAILED, S.EXITED, S.STOPPED}),
    S.RUNNING: frozenset({S.STOPPING, S.FAILED, S.EXITED}),
    S.STOPPING: frozenset({S.STOPPED}),
    S.FAILED: frozenset({S.STARTING, S.STOPPED}),
    S.STOPPED: frozenset({S.STARTING}),
    S.EXITED: frozenset({S.STARTING}),
}
#: States a new activation may start from (no controller runs then).
_STARTABLE = frozenset({S.UNKNOWN, S.STOPPED, S.EXITED, S.FAILED})


@dataclass(frozen=True, slots=True)
class ServiceSpec:
    """A service: what to run and its lifecycle.

    ``ServiceSpec(id, process, input=(), *, host=None, lifecycle=Lifecycle())``

    id: the service ID (the ``process.service`` entry ID).
    process: a registered process entry ID (``process.py``, ``process.lua``, a
        ``process.supervisor`` ...) or an ``async def body(ctx, *args)``.
    input: positional arguments for the process (a list or tuple).
    host: the process host to spawn on (None: the node's default host).
    lifecycle: see :class:`Lifecycle`; ``lifecycle.requires`` must name other services
        of the same manager.
    """

    id: str
    process: str | Callable[..., Any]
    input: tuple[Any, ...] = ()
    _: KW_ONLY
    host: str | None = None
    lifecycle: Lifecycle = field(default_factory=Lifecycle)

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not self.id:
            raise Error(
                f"service id must be a non-empty string, got {self.id!r}",
                kind=ErrorKind.INVALID,
                retryable=False,
            )
        if not (isinstance(self.process, str) and self.process) and not callable(self.process):
            raise Error(
                f"service {self.id!r}: 'process' must be a process entry ID or an async "
                f"callable, got {self.process!r}",
                kind=ErrorKind.INVALID,
                retryable=False,
            )
        if self.host == "node:control":
            raise Error(
                f"service {self.id!r}: host 'node:control' is reserved for service "
                "controllers; use a process.host entry",
                kind=ErrorKind.INVALID,
                retryable=False,
            )
        if isinstance(self.input, list):
            object.__setattr__(self, "input", tuple(self.input))
        elif not isinstance(self.input, tuple):
            raise Error(
                f"service {self.id!r}: 'input' must be a list, got {self.input!r}",
                kind=ErrorKind.INVALID,
                retryable=False,
            )


@dataclass(frozen=True, slots=True)
class ServiceStatus:
    """A snapshot of one service.

    attempt: the run number within the current crash streak (1 = first run).
    restarts: restarts made since the service was created (all activations).
    runs: processes spawned since the service was created.
    restarting: FAILED with a restart pending (False once it has given up).
    forced_stops: stops that had to terminate the process after ``stop_timeout``.
    started_at / last_update: wall-clock nanoseconds (for display only).
    """

    id: str
    state: ServiceState
    desired: str
    pid: Pid | None
    attempt: int
    restarts: int
    runs: int
    restarting: bool
    last_error: Error | None
    forced_stops: int
    started_at: int
    last_update: int
    details: str


def is_terminal_error(error: Error) -> bool:
    """True when a service whose process exited with ``error`` must not restart."""
    if error.kind is ErrorKind.CANCELED:
        return True
    details = error.details
    if isinstance(details, dict) and details.get("reason") == "terminated":
        return False  # terminated by someone: restarted, as in Wippy
    return error.retryable is False


class Service:
    """One service's status and controller. Created by :class:`ServiceManager`."""

    def __init__(self, spec: ServiceSpec, node: Node, rng: random.Random) -> None:
        self.spec = spec
        self.node = node
        self._rng = rng
        self.state = ServiceState.UNKNOWN
        self.desired = "stopped"
        self.pid: Pid | None = None
        self.controller: Pid | None = None
        self.attempt = 0
        self.restarts = 0
        self.runs = 0
        self.forced_stops = 0
        self.last_error: Error | None = None
        self.details = ""
        self.next_restart_at: float | None = None
        self.started_at = 0
        self.last_update = time.time_ns()
        #: True once the current activation has reached RUNNING.
        self.reached_running = False
        self.lock = trio.Lock()
        self._changed: trio.Event | None = None
        self._done = trio.Event()
        self._done.set()

    @property
    def id(self) -> str:
        return self.spec.id

    @property
    def lifecycle(self) -> Lifecycle:
        return self.spec.lifecycle

    @property
    def active(self) -> bool:
        """A controller is running (starting, running, restarting or stopping)."""
        return self.controller is not None or not self._done.is_set()

    # -- state --------------------------------------------------------------------------

    def _set(self, state: ServiceState, details: str = "") -> None:
        assert state in _TRANSITIONS[self.state], f"{self.id}: {self.state} -> {state}"
        self._force(state, details)

    def _force(self, state: ServiceState, details: str) -> None:
        self.state = state
        self.details = details
        self.last_update = time.time_ns()
        changed, self._changed = self._changed, None
        if changed is not None:
            changed.set()

    async def wait_until(
        self, predicate: Callable[[Service], bool], timeout: float | None = None
    ) -> bool:
        """Wait until ``predicate(service)`` holds; False after ``timeout`` seconds."""
        with trio.move_on_after(timeout if timeout is not None else float("inf")):
            while not predicate(self):
                if self._changed is None:
                    self._changed = trio.Event()
                await self._changed.wait()
            return True
        return False

    async def wait_state(self, *states: ServiceState, timeout: float | None = None) -> bool:
        """Wait until the service is in one of ``states``."""
        return await self.wait_until(lambda s: s.state in states, timeout)

    def status(self) -> ServiceStatus:
        return ServiceStatus(
            id=self.id,
            state=self.state,
            desired=self.desired,
            pid=self.pid,
            attempt=self.attempt,
            restarts=self.restarts,
            runs=self.runs,
            restarting=self.next_restart_at is not None,
            last_error=self.last_error,
            forced_stops=self.forced_stops,
            started_at=self.started_at,
            last_update=self.last_update,
            details=self.details,
        )

    def state_table(self) -> dict[str, Any]:
        """Wippy's ``system.supervisor.state(id)`` table (plain data, for Lua)."""
        return {
            "id": self.id,
            "status": self.state.value,
            "desired": self.desired,
            "retry_count": max(0, self.attempt - 1),
            "last_update": self.last_update,
            "started_at": self.started_at,
            "details": self.details,
        }

    # -- activation (called by the manager) ------------------------------------------

    def activate(self, control_host: str) -> None:
        """Start a controller for a new activation (the service must be inactive)."""
        assert not self.active and self.state in _STARTABLE, self
        self.desired = "running"
        self.attempt = 1
        self.reached_running = False
        self.last_error = None
        self._done = trio.Event()
        self._set(ServiceState.STARTING, "starting")
        try:
            self.controller = self.node.spawn(self._control, host=control_host)
        except BaseException:
            self._done.set()
            self._force(ServiceState.FAILED, "could not spawn the controller")
            raise

    def request_stop(self) -> None:
        """Ask the controller to stop the service (CANCEL "service stopping")."""
        self.desired = "stopped"
        if self.controller is not None:
            try:
                self.node.cancel(self.controller, STOP_REASON)
            except ProcessNotFound:
                pass

    async def wait_inactive(self) -> None:
        await self._done.wait()

    # -- the controller process ----------------------------------------------------------

    async def _control(self, ctx: Context) -> None:
        ctx.trap_links = True
        finished = False
        try:
            await self._supervise(ctx, ctx.events())
            finished = True
        finally:
            self.controller = None
            self.next_restart_at = None
            if not finished:  # the controller itself was terminated
                self.pid = None
                self._force(ServiceState.STOPPED, "controller terminated")
            self._done.set()

    async def _supervise(self, ctx: Context, events: Any) -> None:
        """Run, wait, decide, delay, run again — until a terminal state."""
        spec, lc = self.spec, self.spec.lifecycle
        policy = lc.restart
        while True:
            if self.state is not ServiceState.STARTING:
                self._set(ServiceState.STARTING, "restarting")
            if _cancel_queued(events):
                self._set(ServiceState.STOPPED, "stopped before start")
                return
            began = ctx.monotonic()
            error: Error | None
            try:
                pid = ctx.spawn(spec.process, *spec.input, host=spec.host, monitor=True, link=True)
            except Error as exc:
                error, ran = exc, 0.0
            else:
                self.pid = pid
                self.runs += 1
                self.started_at = time.time_ns()
                self.reached_running = True
                self._set(ServiceState.RUNNING, "running")
                ev = await _wait_exit(ctx, events, pid)
                if ev is None:
                    await self._stop_process(ctx, events, pid)
                    self.pid = None
                    self._set(ServiceState.STOPPED, "stopped")
                    return
                self.pid = None
                error, ran = ev.error, ctx.monotonic() - began
                if error is None:
                    self._set(ServiceState.EXITED, "service exited")
                    return
            self.last_error = error
            if is_terminal_error(error):
                self._set(ServiceState.EXITED, f"terminal error: {error.message}")
                return
            if ran >= lc.stable_threshold:
                self.attempt = 1
            if policy.max_attempts and self.attempt >= policy.max_attempts:
                self._set(
                    ServiceState.FAILED,
                    f"gave up after {self.attempt} attempt(s): {error.message}",
                )
                return
            delay = policy.backoff.delay(self.attempt, self._rng)
            self.attempt += 1
            self.next_restart_at = ctx.monotonic() + delay
            self._set(
                ServiceState.FAILED,
                f"process failed: {error.message}; restarting in {delay:.3g}s",
            )
            stopped = await _sleep_unless_cancelled(ctx, events, delay)
            self.next_restart_at = None
            if stopped:
                self._set(ServiceState.STOPPED, "stopped while waiting to restart")
                return
            self.restarts += 1

    async def _stop_process(self, ctx: Context, events: Any, pid: Pid) -> None:
        self._set(ServiceState.STOPPING, "stopping")
        try:
            ctx.cancel(pid, STOP_REASON)
        except ProcessNotFound:
            pass
        if await _wait_exit(ctx, events, pid, self.lifecycle.stop_timeout, stop_on_cancel=False):
            return
        self.forced_stops += 1
        try:
            ctx.terminate(pid)
        except ProcessNotFound:
            pass
        await _wait_exit(ctx, events, pid, None, stop_on_cancel=False)

    def __repr__(self) -> str:
        pid = f" {self.pid}" if self.pid is not None else ""
        return f"<Service {self.id} {self.state.value}{pid} attempt={self.attempt}>"


def _cancel_queued(events: Any) -> bool:
    """Consume queued events without waiting; True if one was a CANCEL."""
    seen = False
    while len(events):
        ev = events.receive_nowait()
        if ev is CLOSED:
            break
        if ev.kind is EventKind.CANCEL:
            seen = True
    return seen


async def _wait_exit(
    ctx: Context,
    events: Any,
    pid: Pid,
    timeout: float | None = None,
    *,
    stop_on_cancel: bool = True,
) -> Event | None:
    """The EXIT event of ``pid``; None on CANCEL (if ``stop_on_cancel``) or timeout."""
    deadline = None if timeout is None else ctx.monotonic() + timeout
    while True:
        left = None if deadline is None else deadline - ctx.monotonic()
        if left is not None and left <= 0:
            return None
        got = await ctx.select([events], left)
        if got is None:
            return None
        ev = got[1]
        if ev is CLOSED:
            return None
        if ev.kind is EventKind.EXIT and ev.sender == pid:
            return ev
        if ev.kind is EventKind.CANCEL and stop_on_cancel:
            return None


async def _sleep_unless_cancelled(ctx: Context, events: Any, delay: float) -> bool:
    """Wait ``delay`` seconds; True if a CANCEL arrived first."""
    deadline = ctx.monotonic() + delay
    while True:
        left = deadline - ctx.monotonic()
        if left <= 0:
            return False
        got = await ctx.select([events], left)
        if got is None:
            return False
        if got[1] is not CLOSED and got[1].kind is EventKind.CANCEL:
            return True
