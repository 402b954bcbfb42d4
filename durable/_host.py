"""Workflows as processes: the ``temporal.worker`` host and the ``temporal.client`` it uses.

What it is for
    ``spawn("app:order", ..., host="app:worker")`` on a worker host starts a *workflow*
    and returns a PID ``{client@worker|workflow_id}`` that behaves like any other:
    ``send`` signals it, ``cancel`` requests Temporal cancellation, ``terminate``
    terminates it, monitors get EXIT and links LINK_DOWN when it ends, ``exec`` waits for
    its result. :class:`WorkerHost` implements the kernel's
    :class:`~beamish.actors.Host` seam for that; :class:`TemporalClient` owns what the
    workers of one ``temporal.client`` share: the embedded dev server (when there is no
    address), the asyncio bridge thread and the temporalio ``Client``.

Design chosen
    * **Synchronous kernel calls, asynchronous Temporal.** Host operations run on the trio
      thread and never block: each is queued to the bridge loop (``call_soon``, FIFO)
      onto a per-workflow chain, so everything sent to one workflow (its start, start-up
      messages, signals, cancel, terminate) reaches Temporal in the order it was issued.
    * **The PID exists before the workflow does.** ``spawn`` picks the workflow ID
      (``name``, ``temporal.workflow.id`` option, or a fresh ``0x…`` ID), attaches the
      parent's monitor/link, queues the start and returns. A start that fails later
      (ID conflict, server down) is reported like any exit: EXIT with the error to
      monitors, LINK_DOWN to links, the error to ``exec``.
    * **Exits come from a watcher**: one asyncio task per watched workflow long-polls
      its result (following continue-as-new), retrying through server restarts; the
      outcome crosses to trio and :meth:`Node.notify_exit` delivers it exactly as for a
      local process. A workflow is watched only while someone waits for its exit: from a
      monitored/linked spawn, or the first monitor, link or ``exec``/``wait`` on it, so
      thousands of fire-and-forget workflows cost no long polls. Consequence: a ``send``
      to a finished workflow nobody watched cannot fail synchronously; the signal's
      failure is logged instead.
    * **Naming.** With a name (``with_name``) or an explicit ID the start is idempotent:
      conflict policy USE_EXISTING, so a second spawn returns the same PID and its
      start-up messages go to the running workflow. Without one the policy is FAIL.
      Both can be overridden with ``temporal.workflow.id_conflict_policy`` /
      ``id_reuse_policy`` options.
    * **Links are one-way.** A workflow linked to a process sends that process LINK_DOWN
      when it fails (kernel semantics: nothing on a normal exit); a process that dies does
      not stop a workflow linked to it — durable work outlives its starter (cancel it
      explicitly if it must stop).

Start options (``options=`` of spawn, Wippy's ``temporal.workflow.<opt>``; the prefix may be
dropped): ``id``, ``task_queue``, ``execution_timeout``, ``run_timeout``, ``task_timeout``,
``id_conflict_policy`` (``use_existing`` | ``fail`` | ``terminate_existing``),
``id_reuse_policy`` (``allow_duplicate`` | ``allow_duplicate_failed_only`` |
``reject_duplicate``), ``retry_policy``, ``cron_schedule``, ``memo``, ``start_delay``.

Invariants
    * Every host method is called on the trio thread; every Temporal call runs on the
      bridge loop; the two only meet through the bridge.
    * A workflow ID is in ``_watches`` from the moment something waits for its exit until
      that exit has been delivered; afterwards it is remembered in ``_finished``
      (bounded), so ``send`` to it raises :class:`ProcessNotFound` like a dead process.
      Every ``_watches`` entry has a poll running (``polling``), so none leaks.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import enum
import functools
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

import temporalio.client
import temporalio.common
import temporalio.exceptions
import temporalio.service
import trio

from beamish.actors._errors import Error, ErrorKind, ProcessNotFound
from beamish.actors._host import Host, SpawnRequest
from beamish.actors._message import Event, Message
from beamish.actors._pid import Pid

from ._bridge import AsyncioBridge
from ._client import ClientConfig, connect_client
from ._context import WorkflowEnv, _strip, parse_duration, retry_policy
from ._convert import SIGNAL_FROM, from_failure, to_wire
from ._interceptors import client_header
from ._server import DevServer
from ._worker import NodePort, WorkflowWorker
from ._workflow import WorkflowEntry

__all__ = ["TemporalClient", "WorkerHost"]

log = logging.getLogger("beamish.durable")

#: How many finished workflow IDs a host remembers (for ProcessNotFound on send).
FINISHED_MEMORY = 10_000
#: Backoff bounds of a watcher whose long poll failed (server restarting).
_WATCH_BACKOFF = (0.1, 2.0)


class ClientState(enum.Enum):
    NEW = "new"
    RUNNING = "running"
    STOPPED = "stopped"


class TemporalClient:
    """One ``temporal.client`` entry: server (if embedded), bridge thread, ``Client``.

    Parameters:
        name: the entry ID; the node part of workflow PIDs.
        config: address / namespace / auth (:class:`ClientConfig`); embedded by default.
        db_filename: the embedded server's SQLite file (``<app>/.beamish/temporal.db``);
            ``None`` keeps an embedded server's state in memory.
        server_options: extra :class:`DevServer` keywords (port, log_level, ...).

    Use ``await client.start(node)`` then :meth:`add_worker`; ``aclose()`` (idempotent)
    stops workers, the bridge thread and the server, in that order.
    """

    def __init__(
        self,
        name: str,
        config: ClientConfig | None = None,
        *,
        db_filename: str | Path | None = None,
        server_options: Mapping[str, Any] | None = None,
    ) -> None:
        self.name = name
        self.config = config or ClientConfig()
        self.db_filename = db_filename
        self.server_options = dict(server_options or {})
        self.server: DevServer | None = None
        self.bridge: AsyncioBridge | None = None
        self.client: temporalio.client.Client | None = None
        self.node: Any = None
        self.workers: dict[str, WorkerHost] = {}
        self._state = ClientState.NEW

    @property
    def state(self) -> ClientState:
        return self._state

    @property
    def address(self) -> str:
        if self.server is not None:
            return self.server.address
        return self.config.address

    def attach(self, node: Any) -> None:
        """Bind to ``node`` and add the worker hosts created so far to it."""
        self.node = node
        for host in self.workers.values():
            if host.name not in node.hosts:
                node.add_host(host)

    async def start(self, node: Any) -> None:
        """Start the server (if embedded), the bridge and connect. From trio."""
        if self._state is not ClientState.NEW:
            return
        self.attach(node)
        self._state = ClientState.RUNNING
        try:
            if self.config.embedded:
                self.server = DevServer(
                    db_filename=self.db_filename,
                    namespaces=[self.config.namespace]
                    if self.config.namespace != "default"
                    else [],
                    **self.server_options,
                )
                # fork on this (the trio, long-lived) thread: PDEATHSIG follows the thread
                self.server.launch()
                await trio.to_thread.run_sync(self.server.wait_ready)
            self.bridge = AsyncioBridge(f"temporal:{self.name}")
            await self.bridge.start(node.system_nursery())
            self.client = await self._connect()
        except BaseException:
            with trio.CancelScope(shield=True):
                await self.aclose()
            raise

    async def _connect(self) -> temporalio.client.Client:
        """Connect, retrying while the server is still coming up (a dev server accepts
        TCP a moment before its frontend answers) for up to ``connection_timeout``."""
        assert self.bridge is not None
        deadline = trio.current_time() + self.config.connection_timeout
        delay = 0.05
        while True:
            try:
                return await self.bridge.run(connect_client, self.address, self.config)
            except Error as e:
                if e.kind is not ErrorKind.UNAVAILABLE or trio.current_time() >= deadline:
                    raise
            await trio.sleep(delay)
            delay = min(delay * 2, 1.0)

    def add_worker(
        self,
        name: str,
        task_queue: str,
        *,
        options: Mapping[str, Any] | None = None,
        activities: Any = None,
    ) -> WorkerHost:
        """Create the host for a ``temporal.worker`` entry and add it to the node."""
        if name in self.workers:
            raise Error(
                f"temporal.worker {name!r} already exists on client {self.name!r}",
                kind=ErrorKind.ALREADY_EXISTS,
                retryable=False,
            )
        host = WorkerHost(name, self, task_queue, options=options, activities=activities)
        self.workers[name] = host
        if self.node is not None:
            self.node.add_host(host)
        return host

    def hosts_table(self) -> dict[str, str]:
        return {name: w.task_queue for name, w in self.workers.items()}

    async def aclose(self) -> None:
        """Stop every worker, the bridge thread, then the server. Idempotent."""
        if self._state is ClientState.STOPPED:
            return
        self._state = ClientState.STOPPED
        with trio.CancelScope(shield=True):
            for host in list(self.workers.values()):
                await host._stop_worker()
            if self.bridge is not None:
                await self.bridge.aclose()
            if self.server is not None:
                await trio.to_thread.run_sync(self.server.stop)

    def statistics(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "state": self._state.value,
            "address": self.address if self._state is ClientState.RUNNING else None,
            "embedded": self.config.embedded,
            "workers": sorted(self.workers),
        }

    def __repr__(self) -> str:
        return f"<TemporalClient {self.name} {self._state.value} {self.config.address}>"


@dataclasses.dataclass
class _Watch:
    """Who waits for one workflow's exit. Invariant: lives until the exit is delivered."""

    monitors: set[Pid] = dataclasses.field(default_factory=set)
    links: set[Pid] = dataclasses.field(default_factory=set)
    callbacks: list[Callable[[Any, Error | None], None]] = dataclasses.field(default_factory=list)
    polling: bool = False


class WorkerHost(Host):
    """A ``temporal.worker``: spawn starts workflows; their PIDs behave like processes."""

    kind = "temporal.worker"

    def __init__(
        self,
        name: str,
        client: TemporalClient,
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
        self._chains: dict[str, asyncio.Future[Any]] = {}  # on the loop only
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
        """Node shutdown: stop the client (every worker on it, the bridge, the server)."""
        await self.client.aclose()

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
        opts = _strip(request.options or {}, "temporal.", "workflow.")
        explicit_id = request.name or opts.pop("id", None)
        wf_id = str(explicit_id) if explicit_id else f"0x{_uuid_hex()}"
        pid = Pid(self.name, wf_id, self.client.name)
        kwargs = self._start_kwargs(opts, named=explicit_id is not None)
        parent = request.parent
        watched = parent is not None and (request.monitor or request.link)
        if watched:
            watch = self._watch(wf_id)
            if request.monitor:
                watch.monitors.add(parent)
            if request.link:
                watch.links.add(parent)
                self.node.link_one_way(parent, pid)
        self._finished.pop(wf_id, None)
        messages = [(t, [to_wire(v) for v in payload]) for t, payload in request.messages]
        args = [to_wire(a) for a in request.args]
        header: dict[str, Any] = dict(request.context or {})
        sender = str(parent) if parent is not None else None
        self.started += 1
        self._chain(
            wf_id,
            functools.partial(
                self._start_on_loop, pid, target, args, messages, header, sender, kwargs
            ),
        )
        if watched:
            self._ensure_polling(wf_id)
        return pid

    def _start_kwargs(self, o: dict[str, Any], *, named: bool) -> dict[str, Any]:
        kw: dict[str, Any] = {
            "task_queue": str(o.get("task_queue") or self.task_queue),
            "id_conflict_policy": temporalio.common.WorkflowIDConflictPolicy.USE_EXISTING
            if named
            else temporalio.common.WorkflowIDConflictPolicy.FAIL,
        }
        if o.get("id_conflict_policy"):
            kw["id_conflict_policy"] = _choice(_CONFLICT, o["id_conflict_policy"])
        if o.get("id_reuse_policy"):
            kw["id_reuse_policy"] = _choice(_REUSE, o["id_reuse_policy"])
        for name in ("execution_timeout", "run_timeout", "task_timeout", "start_delay"):
            if o.get(name) is not None:
                kw[name] = parse_duration(o[name])
        if o.get("retry_policy") is not None:
            kw["retry_policy"] = retry_policy(o["retry_policy"])
        if o.get("cron_schedule"):
            kw["cron_schedule"] = str(o["cron_schedule"])
        if o.get("memo"):
            kw["memo"] = dict(o["memo"])
        return kw

    async def _start_on_loop(
        self,
        pid: Pid,
        entry_id: str,
        args: list[Any],
        messages: list[tuple[str, list[Any]]],
        header: dict[str, Any],
        sender: str | None,
        kwargs: dict[str, Any],
    ) -> None:
        client = self.client.client
        assert client is not None
        if sender:
            header = {**header, SIGNAL_FROM: sender}
        token = client_header.set(header or None)
        try:
            # Signal-with-start (atomic start + first message) refuses conflict policy
            # FAIL; then the start is plain and every message follows as a signal.
            fail = kwargs["id_conflict_policy"] is temporalio.common.WorkflowIDConflictPolicy.FAIL
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
                err = Error(
                    f"workflow {pid} is already running (id conflict policy FAIL); spawn "
                    "with a name for an idempotent start",
                    kind=ErrorKind.ALREADY_EXISTS,
                    retryable=False,
                    details={"workflow_id": pid.id, "type": e.workflow_type},
                )
                self._exit_soon(pid.id, None, err, remember=False)
                return
            except Exception as e:
                self._exit_soon(pid.id, None, _start_error(pid, e))
                return
            handle = client.get_workflow_handle(pid.id)
            for topic, payload in rest:
                await handle.signal(topic, args=payload)
        finally:
            client_header.reset(token)

    # ==================================================================================
    # Operations on workflow PIDs
    # ==================================================================================

    def deliver(self, pid: Pid, message: Message) -> None:
        """``send`` → signal ``message.topic`` with the payload as arguments."""
        if pid.id in self._finished:
            raise self.node.not_found(pid)
        args = [to_wire(v) for v in message.payload]
        sender = str(message.sender) if message.sender is not None else None
        self.signals += 1
        self._chain(
            pid.id, functools.partial(self._signal_on_loop, pid, message.topic, args, sender)
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
        finally:
            client_header.reset(token)

    def cancel(self, pid: Pid, reason: str, sender: Pid | None) -> None:
        """Temporal cancellation; the workflow sees a CANCEL event."""
        if pid.id in self._finished:
            raise self.node.not_found(pid)

        async def run() -> None:
            client = self.client.client
            assert client is not None
            try:
                await client.get_workflow_handle(pid.id).cancel()
            except temporalio.service.RPCError as e:
                log.warning("beamish: cancel of workflow %s failed: %s", pid, e)

        self._chain(pid.id, run)

    def terminate(self, pid: Pid) -> None:
        """Temporal terminate: monitors get EXIT with ``"process terminated"``."""
        if pid.id in self._finished:
            raise self.node.not_found(pid)

        async def run() -> None:
            client = self.client.client
            assert client is not None
            try:
                await client.get_workflow_handle(pid.id).terminate(reason="process.terminate")
            except temporalio.service.RPCError as e:
                log.warning("beamish: terminate of workflow %s failed: %s", pid, e)

        self._chain(pid.id, run)

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
        self._chain(wf_id, functools.partial(self._poll_on_loop, wf_id), barrier=False)

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

    def _exit_soon(
        self, wf_id: str, value: Any, error: Error | None, *, remember: bool = True
    ) -> None:
        """From the loop: deliver the exit on the trio thread.

        ``remember=False`` (a refused duplicate start): the waiters get the error, but
        the workflow of that ID, which is running, is not marked finished.
        """
        bridge = self.client.bridge
        if bridge is not None:
            bridge.trio_soon(self._exited, wf_id, value, error, remember)

    def _exited(self, wf_id: str, value: Any, error: Error | None, remember: bool = True) -> None:
        """On the trio thread: EXIT to monitors, link outcome to links, callbacks."""
        if wf_id in self._finished:
            return
        if remember:
            self._finished[wf_id] = (value, error)
            while len(self._finished) > FINISHED_MEMORY:
                self._finished.popitem(last=False)
        w = self._watches.pop(wf_id, None)
        if w is None:
            return
        pid = Pid(self.name, wf_id, self.client.name)
        if w.monitors or w.links:
            self.node.notify_exit(pid, value, error, monitors=list(w.monitors), links=list(w.links))
        for cb in w.callbacks:
            cb(value, error)

    # ==================================================================================
    # Per-workflow FIFO chains (the loop side)
    # ==================================================================================

    def _chain(self, wf_id: str, op: Callable[[], Awaitable[Any]], *, barrier: bool = True) -> None:
        """Queue ``op`` for ``wf_id`` on the loop, after every earlier op for it.

        ``barrier=False`` (the exit watcher) waits for the earlier ops but later ops do
        not wait for it.
        """
        bridge = self.client.bridge
        if bridge is None or bridge.closed:
            raise Error(
                f"temporal.worker {self.name!r} is not running (client {self.client.name!r} "
                "not started or already stopped)",
                kind=ErrorKind.UNAVAILABLE,
                retryable=False,
            )
        bridge.call_soon(self._chain_on_loop, wf_id, op, barrier)

    def _chain_on_loop(self, wf_id: str, op: Callable[[], Awaitable[Any]], barrier: bool) -> None:
        prev = self._chains.get(wf_id)

        async def run() -> None:
            if prev is not None and not prev.done():
                await asyncio.wait((prev,))
            try:
                await op()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("beamish: operation on workflow %s failed", wf_id)

        task = asyncio.get_running_loop().create_task(run())
        if barrier:
            self._chains[wf_id] = task

            def forget(t: asyncio.Future[Any]) -> None:
                if self._chains.get(wf_id) is t:
                    del self._chains[wf_id]

            task.add_done_callback(forget)

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


_CONFLICT = {
    "use_existing": temporalio.common.WorkflowIDConflictPolicy.USE_EXISTING,
    "fail": temporalio.common.WorkflowIDConflictPolicy.FAIL,
    "terminate_existing": temporalio.common.WorkflowIDConflictPolicy.TERMINATE_EXISTING,
}
_REUSE = {
    "allow_duplicate": temporalio.common.WorkflowIDReusePolicy.ALLOW_DUPLICATE,
    "allow_duplicate_failed_only": (
        temporalio.common.WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY
    ),
    "reject_duplicate": temporalio.common.WorkflowIDReusePolicy.REJECT_DUPLICATE,
}


def _choice(table: Mapping[str, Any], value: Any) -> Any:
    try:
        return table[str(value).lower()]
    except KeyError:
        raise Error(
            f"invalid workflow option value {value!r}: one of {', '.join(sorted(table))}",
            kind=ErrorKind.INVALID,
            retryable=False,
        ) from None


def _start_error(pid: Pid, exc: BaseException) -> Error:
    if isinstance(exc, Error):
        return exc
    return Error(
        f"could not start workflow {pid}: {exc}",
        kind=ErrorKind.UNAVAILABLE,
        retryable=True,
    )


def _uuid_hex() -> str:
    import uuid

    return uuid.uuid4().hex
