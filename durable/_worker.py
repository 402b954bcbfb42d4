"""The durable worker: one temporalio ``Worker`` on the bridge loop, serving entries.

What it is for
    A ``temporal.worker`` entry is one task queue. :class:`WorkflowWorker` builds the
    temporalio ``Worker`` for it — a generated workflow class per workflow entry
    (``_workflow.py``), the activity dispatcher over the kernel (``_activity.py``) — on
    the bridge's asyncio loop (``Worker(...)`` must be constructed there), runs it
    there, and shuts it down bounded. :class:`NodePort` is how its activities reach the
    trio kernel.

Design chosen
    * Two runners, chosen per entry: Temporal's sandbox for Python entries that ask for
      it (with ``beamish`` and ``lupa`` passed through, so the context machinery is not
      re-imported per run and trio never is), the unsandboxed runner for the rest.
    * Worker options use Wippy's names (``worker_options`` of the entry), mapped onto
      temporalio's keywords by :data:`WORKER_OPTIONS`; unknown names fail fast with
      INVALID naming the option (validate at the edge).
    * ``sticky_schedule_to_start_timeout`` defaults to 5 s (Wippy's default); crash tests
      lower it to 1 s, which the notes measured to cut recovery from ~11 s to ~2 s.

Lifecycle: NEW -> RUNNING (``start``) -> STOPPED (``aclose``, idempotent). A worker that
dies on its own (fatal poll error) is reported by ``statistics()['failed']`` and its
error is re-raised by ``aclose``.
"""

from __future__ import annotations

import asyncio
import enum
import functools
from collections.abc import Collection, Mapping, Sequence
from datetime import timedelta
from typing import Any

import temporalio.client
import temporalio.worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from beamish.actors import Error, ErrorKind, Pid, ProcessNotFound

from ._activity import ActivityDispatcher, KernelPort
from ._bridge import AsyncioBridge
from ._context import WorkflowEnv
from ._options import duration
from ._workflow import WorkflowEntry, workflow_class

__all__ = ["WORKER_OPTIONS", "NodePort", "WorkerState", "WorkflowWorker", "worker_kwargs"]

#: Modules the sandbox must take from the host instead of re-importing per run.
PASSTHROUGH_MODULES = ("beamish", "lupa", "trio", "sniffio", "outcome")

#: Wippy worker option -> (temporalio Worker keyword, converter).
WORKER_OPTIONS: Mapping[str, tuple[str, Any]] = {
    "identity": ("identity", str),
    "max_concurrent_activity_execution_size": ("max_concurrent_activities", int),
    "max_concurrent_workflow_task_execution_size": ("max_concurrent_workflow_tasks", int),
    "max_concurrent_local_activity_execution_size": ("max_concurrent_local_activities", int),
    "max_concurrent_activity_task_pollers": ("max_concurrent_activity_task_polls", int),
    "max_concurrent_workflow_task_pollers": ("max_concurrent_workflow_task_polls", int),
    "worker_activities_per_second": ("max_activities_per_second", float),
    "task_queue_activities_per_second": ("max_task_queue_activities_per_second", float),
    "sticky_schedule_to_start_timeout": ("sticky_queue_schedule_to_start_timeout", "duration"),
    "max_heartbeat_throttle_interval": ("max_heartbeat_throttle_interval", "duration"),
    "default_heartbeat_throttle_interval": ("default_heartbeat_throttle_interval", "duration"),
    "worker_stop_timeout": ("graceful_shutdown_timeout", "duration"),
    "disable_eager_activities": ("disable_eager_activity_execution", bool),
    "max_cached_workflows": ("max_cached_workflows", int),
    "build_id": ("build_id", str),
    "use_versioning": ("use_worker_versioning", bool),
    "debug_mode": ("debug_mode", bool),
}

DEFAULT_STICKY_TIMEOUT = timedelta(seconds=5)


def worker_kwargs(options: Mapping[str, Any] | None) -> dict[str, Any]:
    """temporalio ``Worker`` keywords from Wippy-style ``worker_options``."""
    kw: dict[str, Any] = {"sticky_queue_schedule_to_start_timeout": DEFAULT_STICKY_TIMEOUT}
    for key, value in (options or {}).items():
        spec = WORKER_OPTIONS.get(key)
        if spec is None:
            raise Error(
                f"unknown temporal.worker option {key!r}; known: "
                + ", ".join(sorted(WORKER_OPTIONS)),
                kind=ErrorKind.INVALID,
                retryable=False,
            )
        name, conv = spec
        kw[name] = duration(value, key) if conv == "duration" else conv(value)
    return kw


class WorkerState(enum.Enum):
    NEW = "new"
    RUNNING = "running"
    STOPPED = "stopped"


class NodePort:
    """:class:`KernelPort` over a :class:`~beamish.actors.Node`, through the bridge."""

    def __init__(self, node: Any, bridge: AsyncioBridge) -> None:
        self.node = node
        self.bridge = bridge

    async def call(self, func_id: str, args: Sequence[Any], values: Mapping[str, Any]) -> Any:
        call = functools.partial(self.node.call, func_id, *args, context=dict(values) or None)
        return await self.bridge.to_trio(call)

    async def send(self, dest: str, topic: str, payload: Sequence[Any], sender: str) -> bool:
        def run() -> bool:
            try:
                self.node.send(Pid.parse(dest), topic, *payload, sender=_pid_or_none(sender))
            except ProcessNotFound:
                return False
            return True

        return await self.bridge.to_trio_sync(run)

    async def cancel(self, dest: str, reason: str, sender: str) -> bool:
        def run() -> bool:
            try:
                self.node.cancel(Pid.parse(dest), reason, sender=_pid_or_none(sender))
            except ProcessNotFound:
                return False
            return True

        return await self.bridge.to_trio_sync(run)

    async def terminate(self, dest: str) -> bool:
        def run() -> bool:
            try:
                self.node.terminate(Pid.parse(dest))
            except ProcessNotFound:
                return False
            return True

        return await self.bridge.to_trio_sync(run)


def _pid_or_none(text: str) -> Pid | None:
    return Pid.parse(text) if Pid.looks_like(text) else None


class WorkflowWorker:
    """A temporalio worker for one task queue, run on the bridge loop.

    Parameters:
        bridge: the running :class:`AsyncioBridge` that owns ``client``.
        client: a connected temporalio ``Client`` (made on the bridge loop).
        env: the :class:`WorkflowEnv` the workflows see (PID parts, hosts).
        entries: workflow entries by entry ID (each becomes a workflow type).
        port: how activities reach the kernel.
        options: Wippy ``worker_options`` (see :data:`WORKER_OPTIONS`).
        activities: function IDs allowed as activities (``None``: every function).
    """

    def __init__(
        self,
        *,
        bridge: AsyncioBridge,
        client: temporalio.client.Client,
        env: WorkflowEnv,
        entries: Mapping[str, WorkflowEntry],
        port: KernelPort,
        options: Mapping[str, Any] | None = None,
        activities: Collection[str] | None = None,
    ) -> None:
        self.bridge = bridge
        self.client = client
        self.env = env
        self.entries = dict(entries)
        self.dispatcher = ActivityDispatcher(port, allowed=activities)
        self._kwargs = worker_kwargs(options)
        self._worker: temporalio.worker.Worker | None = None
        self._run_task: asyncio.Task[None] | None = None
        self._state = WorkerState.NEW
        self.classes = [workflow_class(e, env) for e in self.entries.values()]

    @property
    def task_queue(self) -> str:
        return self.env.task_queue

    @property
    def state(self) -> WorkerState:
        return self._state

    async def start(self) -> None:
        """Construct and start the worker on the bridge loop (from trio)."""
        if self._state is not WorkerState.NEW:
            raise Error(
                f"worker for task queue {self.task_queue!r} was already started",
                kind=ErrorKind.INVALID,
                retryable=False,
            )

        async def build() -> None:
            restrictions = SandboxRestrictions.default.with_passthrough_modules(
                *PASSTHROUGH_MODULES
            )
            worker = temporalio.worker.Worker(
                self.client,
                task_queue=self.task_queue,
                workflows=self.classes,
                activities=self.dispatcher.activities(),
                workflow_runner=SandboxedWorkflowRunner(restrictions=restrictions),
                **self._kwargs,
            )
            self._worker = worker
            self._run_task = asyncio.get_running_loop().create_task(worker.run())

        await self.bridge.run(build)
        self._state = WorkerState.RUNNING

    async def aclose(self) -> None:
        """Stop polling, let running tasks finish (bounded by ``worker_stop_timeout``),
        and wait for the worker to end. Idempotent."""
        if self._state is not WorkerState.RUNNING:
            self._state = WorkerState.STOPPED
            return
        self._state = WorkerState.STOPPED
        worker, run_task = self._worker, self._run_task
        if worker is None or run_task is None or self.bridge.closed:
            return

        async def stop() -> None:
            if not run_task.done():
                await worker.shutdown()
            try:
                await run_task
            except asyncio.CancelledError:
                pass

        await self.bridge.run(stop)

    def statistics(self) -> dict[str, Any]:
        run_task = self._run_task
        failed = None
        if run_task is not None and run_task.done() and not run_task.cancelled():
            exc = run_task.exception()
            failed = repr(exc) if exc is not None else None
        return {
            "task_queue": self.task_queue,
            "state": self._state.value,
            "workflow_types": sorted(self.entries),
            "activities_dispatched": self.dispatcher.calls,
            "failed": failed,
        }

    def __repr__(self) -> str:
        return f"<WorkflowWorker {self.task_queue} {self._state.value} types={len(self.entries)}>"
