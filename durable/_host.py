"""Workflows as processes: the ``temporal.worker`` host.

What it is for
    ``spawn("app:order", ..., host="app:worker")`` on a worker host starts a *workflow*
    and returns a PID ``{client@worker|workflow_id}`` that behaves like any other:
    ``send`` signals it, ``cancel`` requests Temporal cancellation, ``terminate``
    terminates it, monitors get EXIT when it ends, links EXIT or LINK_DOWN, ``exec`` waits for
    its result. :class:`WorkerHost` implements the kernel's
    :class:`~beamish.actors.Host` seam for that. What the workers of one
    ``temporal.client`` share (the embedded dev server, the asyncio bridge thread, the
    temporalio ``Client``) is owned by :class:`~beamish.durable.TemporalClient`
    (``_client.py``), which creates the hosts; a host sees it only through
    :class:`WorkerClient`.

Design chosen
    * **Synchronous kernel calls, asynchronous Temporal.** Host operations run on the trio
      thread and never block: each is queued to the bridge loop (``call_soon``, FIFO)
      onto a per-workflow chain (``_fifo.py``), so everything sent to one workflow (its
      start, start-up messages, signals, cancel, terminate) reaches Temporal in the
      order it was issued.
    * **The PID exists before the workflow does.** ``spawn`` picks the workflow ID
      (``name``, ``temporal.workflow.id`` option, or a fresh ``0x…`` ID), attaches the
      parent's monitor/link, queues the start and returns, so ``Context.spawn`` stays
      synchronous. Its outcome is registered with
      :func:`beamish.actors.set_pending_start`: a yielding caller (the Lua
      ``process.spawn``) awaits it right after ``spawn`` and gets a refused start as
      ``nil, err``, as Wippy's synchronous start does; nothing else is told then. When
      nobody claimed it, a refused or failed start is reported like an exit, to what
      *that* spawn attached: EXIT with the error to its monitor, LINK_DOWN to its link,
      the error to ``exec``/``wait`` (a refusal never touches the watchers of the
      workflow already running under that ID).
    * **Exits come from a watcher**: one asyncio task per watched workflow long-polls
      its result (following continue-as-new), retrying through server restarts; the
      outcome crosses to trio and :meth:`Node.notify_exit` delivers it exactly as for a
      local process. A workflow is watched only while someone waits for its exit: from a
      monitored/linked spawn, or the first monitor, link or ``exec``/``wait`` on it, so
      thousands of fire-and-forget workflows cost no long polls. Consequence: a ``send``
      to a finished workflow nobody watched cannot fail synchronously; the signal's
      failure is logged, and a NOT_FOUND answer marks the PID dead, so the next send
      raises :class:`ProcessNotFound`.
    * **Payloads are refused before they are queued**: start arguments, start-up
      messages and signal payloads that are cyclic, not JSON data or over
      ``_convert.MAX_PAYLOAD_BYTES`` raise ``Error(INVALID)`` from ``spawn``/``send``
      itself; nothing of such a start or signal reaches Temporal.
    * **A name means once.** With a name (``with_name``) or an explicit ID the start is
      a singleton, Wippy's rule: conflict policy USE_EXISTING, so a second spawn returns
      the same PID and its start-up messages go to the running workflow; and, beamish's
      default where Wippy leaves the server's, reuse policy REJECT_DUPLICATE, so a
      workflow that has finished is not run again, also by a restarted app: the spawn
      returns its PID and monitors/``exec`` get EXIT with its result from Temporal
      (start-up messages for it are refused: they cannot be delivered). Re-running is
      explicit: ``temporal.workflow.id_reuse_policy = allow_duplicate``. Without a name
      the policy is FAIL. ``temporal.workflow.execution_error_when_already_started =
      true`` makes a named start FAIL too. A refusal (``Error(ALREADY_EXISTS)``) says
      whether the existing workflow is running or finished (completed, failed…) and
      which policy refused.
    * **Links are one-way.** A workflow linked to a process sends that process LINK_DOWN
      when it fails and, as in Wippy, an EXIT with its result when it completes (a link
      between processes says nothing on a normal exit); a process that dies does not
      stop a workflow linked to it, the link is dropped: durable work outlives its
      starter (cancel it explicitly if it must stop).

Start options (``options=`` of spawn, Wippy's ``workflow.<opt>`` or
``temporal.workflow.<opt>``; the prefix may be dropped) are read by
``_options.start_options``: ``id``, ``task_queue``, ``execution_timeout``,
``run_timeout``, ``task_timeout``, ``id_conflict_policy``, ``id_reuse_policy``,
``retry_policy``, ``cron_schedule``, ``memo``, ``start_delay``; durations as Go strings or
bare milliseconds.

Invariants
    * Every host method is called on the trio thread; every Temporal call runs on the
      bridge loop; the two only meet through the bridge.
    * A workflow ID is in ``_watches`` from the moment something waits for its exit until
      that exit has been delivered; afterwards it is remembered in ``_finished``
      (bounded), so ``send`` to it raises :class:`ProcessNotFound` like a dead process.
      Every ``_watches`` entry has a poll running (``polling``), so none leaks.
    * Every spawn's start ticket is in ``_unconfirmed`` (and registered as its PID's
      pending start) until the start is accepted or refused, or the host closes; each
      is resolved exactly once.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import logging
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol

import temporalio.client
import temporalio.common
import temporalio.exceptions
import temporalio.service

from beamish.actors import (
    Error,
    ErrorKind,
    Event,
    Host,
    Message,
    Pid,
    ProcessNotFound,
    SpawnRequest,
    pending_start,
    set_pending_start,
)

from ._bridge import AsyncioBridge
from ._context import WorkflowEnv
from ._convert import SIGNAL_FROM, check_size, from_failure, to_wire
from ._fifo import FifoChains
from ._interceptors import client_header
from ._options import start_options
from ._worker import NodePort, WorkflowWorker
from ._workflow import WorkflowEntry

__all__ = ["WorkerClient", "WorkerHost"]

log = logging.getLogger("beamish.durable")

#: How many finished workflow IDs a host remembers (for ProcessNotFound on send).
FINISHED_MEMORY = 10_000
#: Backoff bounds of a watcher whose long poll failed (server restarting).
_WATCH_BACKOFF = (0.1, 2.0)


class WorkerClient(Protocol):
    """What a :class:`WorkerHost` uses of its ``temporal.client``
    (:class:`~beamish.durable.TemporalClient`): a seam, so the client can create hosts
    without the two modules importing each other."""

    #: The entry ID: the node part of workflow PIDs.
    name: str
    #: The running bridge, ``None`` before ``start``.
    bridge: AsyncioBridge | None
    #: The connected temporalio client (lives on the bridge loop), ``None`` before.
    client: temporalio.client.Client | None

    def hosts_table(self) -> dict[str, str]:
        """Every worker host of the client -> its task queue."""
        ...

    async def aclose(self) -> None:
        """Stop every worker, the bridge and the server. Idempotent."""
        ...


@dataclasses.dataclass
class _Watch:
    """Who waits for one workflow's exit. Invariant: lives until the exit is delivered."""

    monitors: set[Pid] = dataclasses.field(default_factory=set)
    links: set[Pid] = dataclasses.field(default_factory=set)
    callbacks: list[Callable[[Any, Error | None], None]] = dataclasses.field(default_factory=list)
    polling: bool = False


class _StartTicket:
    """One spawn's start outcome (trio thread only): resolved once, when Temporal has
    accepted or refused the start. ``monitor``/``link``: the parent, when that spawn
    attached it (so a refusal detaches exactly what the spawn attached)."""

    __slots__ = ("awaited", "callbacks", "done", "error", "link", "monitor", "pid", "told")

    def __init__(self, pid: Pid, monitor: Pid | None, link: Pid | None) -> None:
        self.pid = pid
        self.monitor = monitor
        self.link = link
        self.awaited = False
        self.done = False
        #: exit callbacks (``exec``/``wait``) registered right after the spawn
        self.callbacks: list[Callable[[Any, Error | None], None]] = []
        #: who claimed the outcome (:data:`~beamish.actors._host.PendingStart`)
        self.told: list[Callable[[Error | None], None]] = []
        self.error: Error | None = None

    def when(self, done: Callable[[Error | None], None]) -> None:
        """Claim the outcome: ``done(error or None)`` once known; no EXIT for a refusal."""
        self.awaited = True
        if self.done:
            done(self.error)
        else:
            self.told.append(done)


class WorkerHost(Host):
    """A ``temporal.worker``: spawn starts workflows; their PIDs behave like processes."""

    kind = "temporal.worker"

    def __init__(
        self,
        name: str,
        client: WorkerClient,
        task_queue: str,
        *,
        options: Mapping[str, Any] | None = None,
        activities: Any = None,
    ) -> None:
        self.name = name
        self.client = client
        self.task_queue = task_queue
        self.options = dict(options or {})
        self.activities = activities
        self.entries: dict[str, WorkflowEntry] = {}
        self.worker: WorkflowWorker | None = None
        self._watches: dict[str, _Watch] = {}
        self._finished: OrderedDict[str, tuple[Any, Error | None]] = OrderedDict()
        self._chains = FifoChains(_log_failure)  # per workflow ID; used on the loop only
        self._unconfirmed: set[_StartTicket] = set()  # starts not yet accepted/refused
        self.started = 0
        self.signals = 0
        self.worker_enabled = True

    # ==================================================================================
    # Entries and the worker
    # ==================================================================================

    def register_workflow(
        self, entry_id: str, body: Any, *, sandboxed: bool = False, kind: str = "workflow.py"
    ) -> None:
        """Serve ``entry_id`` on this worker (before :meth:`start_worker`)."""
        if self.worker is not None:
            raise Error(
                f"cannot add workflow {entry_id!r}: worker {self.name!r} is already running; "
                "register every workflow entry before the worker starts",
                kind=ErrorKind.INVALID,
                retryable=False,
            )
        self.entries[entry_id] = WorkflowEntry(entry_id, body, sandboxed, kind)

    def env(self) -> WorkflowEnv:
        hosts = self.client.hosts_table()
        hosts.pop(self.name, None)
        return WorkflowEnv(
            client=self.client.name,
            worker=self.name,
            task_queue=self.task_queue,
            hosts=hosts,
            activity_options=self.options.get("activity_options") or {},
        )

    async def start_worker(self) -> None:
        """Start polling the task queue (needs a started client). Idempotent."""
        if self.worker is not None or not self.worker_enabled:
            return
        bridge, client = self.client.bridge, self.client.client
        if bridge is None or client is None:
            raise Error(
                f"temporal.worker {self.name!r}: its client {self.client.name!r} is not started",
                kind=ErrorKind.UNAVAILABLE,
                retryable=False,
            )
        worker_options = {k: v for k, v in self.options.items() if k != "activity_options"}
        self.worker = WorkflowWorker(
            bridge=bridge,
            client=client,
            env=self.env(),
            entries=self.entries,
            port=NodePort(self.node, bridge),
            options=worker_options,
            activities=self.activities,
        )
        await self.worker.start()

    async def _stop_worker(self) -> None:
        if self.worker is not None:
            with contextlib.suppress(Exception):
                await self.worker.aclose()

    async def aclose(self) -> None:
        """Node shutdown: stop the client (every worker on it, the bridge, the server).
        A start still unconfirmed then is refused with ``Error(UNAVAILABLE)``."""
        await self.client.aclose()
        for ticket in list(self._unconfirmed):
            self._resolved(
                ticket,
                Error(
                    f"temporal.worker {self.name!r} stopped before the start of workflow "
                    f"{ticket.pid} was confirmed",
                    kind=ErrorKind.UNAVAILABLE,
                    retryable=True,
                ),
            )

    # ==================================================================================
    # Spawning
    # ==================================================================================

    def spawn(self, request: SpawnRequest) -> Pid:
        target = request.target
        if not isinstance(target, str):
            raise Error(
                f"cannot spawn {target!r} on temporal.worker {self.name!r}: pass a workflow "
                "entry ID",
                kind=ErrorKind.INVALID,
                retryable=False,
            )
        if self.entries and target not in self.entries:
            raise Error(
                f"workflow entry {target!r} is not served by temporal.worker {self.name!r} "
                f"(it serves: {', '.join(sorted(self.entries))}); give the entry "
                f"meta.temporal.workflow.worker: {self.name}",
                kind=ErrorKind.NOT_FOUND,
                retryable=False,
            )
        kwargs = start_options(
            request.options, task_queue=self.task_queue, named=bool(request.name)
        )
        option_id = kwargs.pop("id", None)
        wf_id = request.name or option_id or f"0x{uuid.uuid4().hex}"
        pid = Pid(self.name, wf_id, self.client.name)
        parent = request.parent
        args = _start_args(target, request.args)
        messages = [
            (t, _signal_args(target, t, payload, "start-up message"))
            for t, payload in request.messages
        ]
        watched = parent is not None and (request.monitor or request.link)
        own_monitor = own_link = None
        if watched:
            assert parent is not None
            watch = self._watch(wf_id)
            if request.monitor and parent not in watch.monitors:
                watch.monitors.add(parent)
                own_monitor = parent
            if request.link and parent not in watch.links:
                watch.links.add(parent)
                own_link = parent
            if request.link:
                self.node.link_one_way(parent, pid)
        self._finished.pop(wf_id, None)
        header: dict[str, Any] = dict(request.context or {})
        sender = str(parent) if parent is not None else None
        self.started += 1
        ticket = _StartTicket(pid, own_monitor, own_link)
        self._chain(
            wf_id,
            functools.partial(
                self._start_on_loop, ticket, target, args, messages, header, sender, kwargs
            ),
            f"start of workflow {pid}",
        )
        set_pending_start(pid, ticket.when)
        self._unconfirmed.add(ticket)
        if watched:
            self._ensure_polling(wf_id)
        return pid

    async def _start_on_loop(
        self,
        ticket: _StartTicket,
        entry_id: str,
        args: list[Any],
        messages: list[tuple[str, list[Any]]],
        header: dict[str, Any],
        sender: str | None,
        kwargs: dict[str, Any],
    ) -> None:
        """Start the workflow; resolve ``ticket`` with the outcome (see :meth:`_resolved`)."""
        client = self.client.client
        assert client is not None
        pid = ticket.pid
        if sender:
            header = {**header, SIGNAL_FROM: sender}
        token = client_header.set(header or None)
        try:
            # Signal-with-start (atomic start + first message) refuses conflict policy
            # FAIL; then the start is plain and every message follows as a signal.
            conflict = kwargs["id_conflict_policy"]
            fail = conflict is temporalio.common.WorkflowIDConflictPolicy.FAIL
            first = messages[0] if messages and not fail else None
            rest = messages[1:] if first else messages
            try:
                await client.start_workflow(
                    entry_id,
                    args=args,
                    id=pid.id,
                    start_signal=first[0] if first else None,
                    start_signal_args=first[1] if first else [],
                    **kwargs,
                )
            except temporalio.exceptions.WorkflowAlreadyStartedError as e:
                # Refused: running under FAIL, or closed and the reuse policy says no.
                status = await _status_of(client, pid.id)
                use_existing = conflict is temporalio.common.WorkflowIDConflictPolicy.USE_EXISTING
                if use_existing and status != "running" and not messages:
                    # A name means once: the finished workflow *is* the one asked for;
                    # its PID is returned and its watchers get its remembered result.
                    self._resolve_soon(ticket, None)
                    return
                self._resolve_soon(ticket, _refused(pid, status, kwargs, bool(messages), e))
                return
            except Exception as e:
                err = _start_error(pid, e)
                self._resolve_soon(ticket, err)
                self._exit_soon(pid.id, None, err)
                return
            self._resolve_soon(ticket, None)
            handle = client.get_workflow_handle(pid.id)
            for topic, payload in rest:
                await handle.signal(topic, args=payload)
        finally:
            client_header.reset(token)

    def _resolve_soon(self, ticket: _StartTicket, error: Error | None) -> None:
        bridge = self.client.bridge
        if bridge is not None:
            bridge.trio_soon(self._resolved, ticket, error)

    def _resolved(self, ticket: _StartTicket, error: Error | None) -> None:
        """On the trio thread: the start of ``ticket`` was accepted (``error`` None) or
        refused. A refused spawn detaches the monitor/link it attached; the caller that
        claimed the ticket gets the error, otherwise that monitor/link gets EXIT /
        LINK_DOWN with it. Other watchers of the ID (of a running workflow) are untouched.
        """
        if ticket.done:
            return
        self._unconfirmed.discard(ticket)
        pid = ticket.pid
        if _is_pending(pid, ticket):
            set_pending_start(pid, None)
        ticket.error = error
        ticket.done = True
        if error is not None:
            w = self._watches.get(pid.id)
            if w is not None:
                w.monitors.discard(ticket.monitor)  # type: ignore[arg-type]
                w.links.discard(ticket.link)  # type: ignore[arg-type]
                for cb in ticket.callbacks:
                    with contextlib.suppress(ValueError):
                        w.callbacks.remove(cb)
            for cb in ticket.callbacks:
                cb(None, error)
            if not ticket.awaited and (ticket.monitor or ticket.link):
                self.node.notify_exit(
                    pid,
                    None,
                    error,
                    monitors=[ticket.monitor] if ticket.monitor else [],
                    links=[ticket.link] if ticket.link else [],
                )
        for done in ticket.told:
            done(error)

    # ==================================================================================
    # Operations on workflow PIDs
    # ==================================================================================

    def deliver(self, pid: Pid, message: Message) -> None:
        """``send`` → signal ``message.topic`` with the payload as arguments."""
        if pid.id in self._finished:
            raise self.node.not_found(pid)
        args = _signal_args(pid, message.topic, message.payload)
        sender = str(message.sender) if message.sender is not None else None
        self.signals += 1
        self._chain(
            pid.id,
            functools.partial(self._signal_on_loop, pid, message.topic, args, sender),
            f"signal {message.topic!r} to workflow {pid}",
        )

    async def _signal_on_loop(
        self, pid: Pid, topic: str, args: list[Any], sender: str | None
    ) -> None:
        client = self.client.client
        assert client is not None
        token = client_header.set({SIGNAL_FROM: sender} if sender else None)
        try:
            await client.get_workflow_handle(pid.id).signal(topic, args=args)
        except temporalio.service.RPCError as e:
            log.warning("beamish: signal %r to workflow %s failed: %s", topic, pid, e)
            if e.status == temporalio.service.RPCStatusCode.NOT_FOUND:
                # No such (running) workflow: from now on it is a dead PID, so the next
                # send, monitor or link fails with NOT_FOUND like one to a dead process.
                self._exit_soon(
                    pid.id,
                    None,
                    ProcessNotFound(
                        f"workflow {pid} does not exist or has finished (signal {topic!r} "
                        f"refused by {self.client.name}: {e.message})"
                    ),
                )
        finally:
            client_header.reset(token)

    def cancel(self, pid: Pid, reason: str, sender: Pid | None) -> None:
        """Temporal cancellation; the workflow sees a CANCEL event."""
        self._handle_op(pid, "cancel", lambda handle: handle.cancel(reason=reason))

    def terminate(self, pid: Pid) -> None:
        """Temporal terminate: monitors get EXIT with ``"process terminated"``."""
        self._handle_op(
            pid, "terminate", lambda handle: handle.terminate(reason="process.terminate")
        )

    def _handle_op(
        self,
        pid: Pid,
        what: str,
        op: Callable[[temporalio.client.WorkflowHandle[Any, Any]], Awaitable[Any]],
    ) -> None:
        """Queue ``op(handle)`` for workflow ``pid``; :class:`ProcessNotFound` at once if
        it is known to be finished, a logged warning if Temporal refuses it later."""
        if pid.id in self._finished:
            raise self.node.not_found(pid)

        async def run() -> None:
            client = self.client.client
            assert client is not None
            try:
                await op(client.get_workflow_handle(pid.id))
            except temporalio.service.RPCError as e:
                log.warning("beamish: %s of workflow %s failed: %s", what, pid, e)

        self._chain(pid.id, run, f"{what} of workflow {pid}")

    def add_monitor(self, target: Pid, watcher: Pid) -> None:
        if target.id in self._finished:
            raise self.node.not_found(target)
        self._watch(target.id).monitors.add(watcher)
        self._ensure_polling(target.id)

    def remove_monitor(self, target: Pid, watcher: Pid) -> None:
        w = self._watches.get(target.id)
        if w is not None:
            w.monitors.discard(watcher)

    def add_link(self, pid: Pid, peer: Pid) -> None:
        if pid.id in self._finished:
            raise self.node.not_found(pid)
        self._watch(pid.id).links.add(peer)
        self._ensure_polling(pid.id)

    def remove_link(self, pid: Pid, peer: Pid) -> None:
        w = self._watches.get(pid.id)
        if w is not None:
            w.links.discard(peer)

    def link_exit(self, pid: Pid, peer: Pid, error: Error | None) -> None:
        """A process linked to workflow ``pid`` exited: the workflow keeps running."""
        w = self._watches.get(pid.id)
        if w is not None:
            w.links.discard(peer)

    def deliver_event(self, pid: Pid, event: Event) -> None:
        """Kernel events addressed to a workflow are dropped (workflows do not monitor)."""

    def on_exit(self, pid: Pid, callback: Callable[[Any, Error | None], None]) -> None:
        done = self._finished.get(pid.id)
        if done is not None:
            callback(*done)
            return
        ticket = _pending_ticket(pid)
        if ticket is not None:  # right after its spawn (exec): a refusal goes to it too
            ticket.callbacks.append(callback)
        self._watch(pid.id).callbacks.append(callback)
        self._ensure_polling(pid.id)

    def is_alive(self, pid: Pid) -> bool:
        return pid.id not in self._finished

    # ==================================================================================
    # Exit watching
    # ==================================================================================

    def _watch(self, wf_id: str) -> _Watch:
        w = self._watches.get(wf_id)
        if w is None:
            w = self._watches[wf_id] = _Watch()
        return w

    def _ensure_polling(self, wf_id: str) -> None:
        w = self._watches[wf_id]
        if w.polling:
            return
        w.polling = True
        self._chain(
            wf_id,
            functools.partial(self._poll_on_loop, wf_id),
            f"exit watch of workflow {wf_id}",
            barrier=False,
        )

    async def _poll_on_loop(self, wf_id: str) -> None:
        """Long-poll the workflow's result; retry through server restarts."""
        client = self.client.client
        assert client is not None
        delay = _WATCH_BACKOFF[0]
        while wf_id not in self._finished:  # e.g. its start failed meanwhile
            try:
                value = await client.get_workflow_handle(wf_id).result()
            except temporalio.client.WorkflowFailureError as e:
                self._exit_soon(wf_id, None, from_failure(e))
                return
            except temporalio.service.RPCError as e:
                if e.status == temporalio.service.RPCStatusCode.NOT_FOUND:
                    self._exit_soon(
                        wf_id,
                        None,
                        ProcessNotFound(f"workflow {wf_id} does not exist on {self.client.name}"),
                    )
                    return
                await asyncio.sleep(delay)
                delay = min(delay * 2, _WATCH_BACKOFF[1])
                continue
            except asyncio.CancelledError:
                raise
            except Exception as e:
                self._exit_soon(wf_id, None, from_failure(e))
                return
            self._exit_soon(wf_id, value, None)
            return

    def _exit_soon(self, wf_id: str, value: Any, error: Error | None) -> None:
        """From the loop: deliver the exit on the trio thread."""
        bridge = self.client.bridge
        if bridge is not None:
            bridge.trio_soon(self._exited, wf_id, value, error)

    def _exited(self, wf_id: str, value: Any, error: Error | None) -> None:
        """On the trio thread: EXIT to monitors, link outcome to links, callbacks."""
        if wf_id in self._finished:
            return
        self._finished[wf_id] = (value, error)
        while len(self._finished) > FINISHED_MEMORY:
            self._finished.popitem(last=False)
        w = self._watches.pop(wf_id, None)
        if w is None:
            return
        pid = Pid(self.name, wf_id, self.client.name)
        if error is None:
            # Wippy's rule for workflows: a linked process hears of a normal end too,
            # as an EXIT carrying the result (a failure is LINK_DOWN, as for processes).
            monitors, links = [*w.monitors, *(w.links - w.monitors)], []
        else:
            monitors, links = list(w.monitors), list(w.links)
        if monitors or links:
            self.node.notify_exit(pid, value, error, monitors=monitors, links=links)
        for cb in w.callbacks:
            cb(value, error)

    # ==================================================================================
    # Per-workflow FIFO chains (the loop side)
    # ==================================================================================

    def _chain(
        self, wf_id: str, op: Callable[[], Awaitable[Any]], what: str, *, barrier: bool = True
    ) -> None:
        """Queue ``op`` for ``wf_id`` on the loop, after every earlier op for it.

        ``barrier=False`` (the exit watcher) waits for the earlier ops but later ops do
        not wait for it. Raises ``Error(UNAVAILABLE)`` when the bridge is not running.
        """
        bridge = self.client.bridge
        if bridge is None or bridge.closed:
            raise Error(
                f"temporal.worker {self.name!r} is not running (client {self.client.name!r} "
                "not started or already stopped)",
                kind=ErrorKind.UNAVAILABLE,
                retryable=False,
            )
        bridge.call_soon(
            functools.partial(self._chains.run_after, wf_id, op, what, barrier=barrier)
        )

    # ==================================================================================

    def statistics(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "task_queue": self.task_queue,
            "started": self.started,
            "signals": self.signals,
            "watched": len(self._watches),
            "finished_remembered": len(self._finished),
            "workflow_types": sorted(self.entries),
            "worker": self.worker.statistics() if self.worker is not None else None,
        }

    def __repr__(self) -> str:
        return f"<WorkerHost {self.name} queue={self.task_queue} watched={len(self._watches)}>"


def _start_args(target: str, args: Any) -> list[Any]:
    """The start arguments as wire data, refused (``Error(INVALID)``) when cyclic, not
    JSON data or over :data:`MAX_PAYLOAD_BYTES` together."""
    wire = [
        to_wire(a, f"argument {i} of the start of workflow {target}") for i, a in enumerate(args, 1)
    ]
    check_size(wire, f"the start of workflow {target}")
    return wire


def _signal_args(workflow: Any, topic: str, payload: Any, what: str = "signal") -> list[Any]:
    """A signal's payload as wire data, refused like :func:`_start_args`."""
    where = f"{what} {topic!r} to workflow {workflow}"
    wire = [to_wire(v, where) for v in payload]
    check_size(wire, where)
    return wire


def _pending_ticket(pid: Pid) -> _StartTicket | None:
    """The unclaimed ticket of the spawn that just returned ``pid``, if any."""
    ticket = getattr(pending_start(pid), "__self__", None)
    return ticket if isinstance(ticket, _StartTicket) and not ticket.done else None


def _is_pending(pid: Pid, ticket: _StartTicket) -> bool:
    return getattr(pending_start(pid), "__self__", None) is ticket


async def _status_of(client: temporalio.client.Client, wf_id: str) -> str:
    """The latest run's status in lower case (``running``, ``completed``, ``failed``,
    ``canceled``, ``terminated``, ``timed_out``…), ``unknown`` if it cannot be read."""
    try:
        desc = await client.get_workflow_handle(wf_id).describe()
    except Exception:
        return "unknown"
    status = desc.status
    return status.name.lower() if status is not None else "unknown"


def _refused(
    pid: Pid,
    status: str,
    kwargs: Mapping[str, Any],
    messages: bool,
    exc: temporalio.exceptions.WorkflowAlreadyStartedError,
) -> Error:
    """The error of a start Temporal refused because workflow ID ``pid.id`` is taken:
    says what the existing workflow is doing and which policy refused."""
    conflict = kwargs["id_conflict_policy"].name
    reuse_policy = kwargs.get("id_reuse_policy")
    reuse = reuse_policy.name if reuse_policy is not None else "ALLOW_DUPLICATE"
    details = {
        "workflow_id": pid.id,
        "type": exc.workflow_type,
        "status": status,
        "id_conflict_policy": conflict,
        "id_reuse_policy": reuse,
    }
    if status == "running":
        msg = (
            f"workflow {pid} is already running (id conflict policy {conflict}); spawn "
            "with a name or temporal.workflow.id_conflict_policy = use_existing to reach "
            "the running one"
        )
    elif messages and conflict == "USE_EXISTING":
        msg = (
            f"workflow {pid} has already finished ({status}) and id reuse policy {reuse} "
            "refuses a new run, so its start-up messages cannot be delivered; set "
            "temporal.workflow.id_reuse_policy = allow_duplicate to run it again"
        )
    else:
        msg = (
            f"workflow {pid} has already finished ({status}) and id reuse policy {reuse} "
            f"refuses a new run (id conflict policy {conflict}); set "
            "temporal.workflow.id_reuse_policy = allow_duplicate to run it again"
        )
    return Error(msg, kind=ErrorKind.ALREADY_EXISTS, retryable=False, details=details)


def _start_error(pid: Pid, exc: BaseException) -> Error:
    if isinstance(exc, Error):
        return exc
    return Error(
        f"could not start workflow {pid}: {exc}",
        kind=ErrorKind.UNAVAILABLE,
        retryable=True,
    )


def _log_failure(what: str, exc: Exception) -> None:
    log.error("beamish: %s failed", what, exc_info=exc)
