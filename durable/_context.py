"""The workflow context: the kernel's :class:`~beamish.actors.Context`, backed by Temporal.

What it is for
    A workflow is the same abstraction as a process: its body is an
    ``async def body(ctx, *args)`` — or a Lua script driven by the Lua bridge — that acts
    only through its context. :class:`WorkflowContext` is the backend that runs inside a
    Temporal workflow, on temporalio's deterministic asyncio loop, and turns each effect
    into a Temporal command that is recorded in the workflow's history and replayed.

How each operation maps (and how it replays)
    ============================  ===========================================================
    ``call(f, ...)``              activity ``f`` (type = function ID) on the workflow's task
                                  queue; result and error recorded. Options below.
    ``call_async``                same, without waiting: a :class:`WorkflowFuture` whose
                                  channel gets ``(value, error)`` once; ``cancel()``
                                  requests activity cancellation.
    ``sleep`` / ``after``         durable timers (``after`` puts :meth:`now` on a channel).
    ``now`` / ``monotonic``       the workflow clock (``workflow.now()`` / ``workflow.time()``).
    ``uuid4`` / ``uuid7``         ``workflow.uuid4()`` / ``workflow.uuid7()``: seeded from
                                  history, the same on replay.
    ``receive`` / ``inbox`` /     signals: the signal name is the topic, its arguments the
    ``listen``                    payload, the sender comes from the ``wippy-context``
                                  header. Routing as in the kernel (listener, else inbox,
                                  else kept in order until something subscribes).
    ``send`` to a workflow PID    signal-external-workflow, with our PID as sender.
    ``send`` to any other PID     a local activity that performs the kernel ``send`` once;
                                  its completion is recorded, so replay does not resend.
    ``send`` to our own PID       delivered locally (Wippy drops it: a [QUIRK] we fix).
    outcome of a ``send``         leaves after the call returns: a failure (no such
                                  workflow, a dead process) is logged. With
                                  ``confirm_sends`` on, ``await sent()`` raises a failed
                                  *signal* instead (``ProcessNotFound``); Lua's
                                  ``process.send`` in a workflow does that, as Wippy's
                                  does: ``nil, err``. A local send is never waited for:
                                  Wippy records it as a side effect, which the Python SDK
                                  cannot do without a round trip, and waiting would let
                                  the script's other coroutines run first.
    ``spawn``                     child workflow (type = entry ID); the PID is returned at
                                  once (its ID is made deterministically), start-up messages
                                  follow the start in order, and the child's EXIT always
                                  arrives on ``events()``. ``monitor``/``link`` flags add
                                  nothing: children are always monitored.
    ``exec``                      child workflow, awaited; errors raise ``ProcessExit``.
    ``cancel`` / ``terminate``    request-cancel-external-workflow for workflow PIDs (Temporal
                                  has no terminate from inside a workflow); a local activity
                                  for ordinary processes.
    ``monitor``/``link``/...      ``Error(INVALID)``: not supported in workflow context.
    ``register``/``lookup``       ``Error(INVALID)``: names are node state, not history;
                                  ``send``/``cancel`` to a name: ``ProcessNotFound``.
    Temporal cancellation         a CANCEL event (sender ``{|topology}``) on ``events()``;
                                  the body decides; returning normally completes the
                                  workflow successfully.
    ============================  ===========================================================

    Ordering: everything this context sends to one destination (signals, cancels, local
    sends, the start of a child and its start-up messages) leaves in the order the body
    issued it, because each such operation waits for the previous one to the same
    destination (``_fifo.py``, the chain the worker host uses too). Operations to
    different destinations may interleave. When the body exits, the workflow completes
    only after everything it sent has left (as in Erlang, a message sent before exit is
    not lost).

Options (``options=`` of ``call``/``call_async`` and of ``spawn``/``exec``)
    Wippy's names (``activity.<opt>``, ``workflow.<opt>``, optionally ``temporal.``-prefixed),
    read by ``_options.py``, the one reader for activities, child workflows and workflows
    started from outside: ``start_to_close_timeout`` (default 10 min), ``retry_policy``,
    ``parent_close_policy``... Durations are Go strings (``"500ms"``, ``"1m30s"``),
    timedeltas or bare numbers of **milliseconds** (Wippy's rule for Temporal options).
    The ``timeout`` argument of ``call`` (seconds, as everywhere in the Context API) is
    the schedule-to-close timeout.

Identity
    ``pid`` is ``{client@worker|workflow_id}``. ``parent`` is the parent workflow's PID
    for a child started by a beamish workflow of the same client (the parent's workflow
    ID from ``workflow.info().parent``, its host from the sender PID the parent put in
    the start header), else ``None`` (a root workflow, or a parent beamish cannot place).
    ``is_alive()`` is True while the body runs.

Invariants
    * Every nondeterministic input (time, ids, randomness, signals, results) comes from
      ``temporalio.workflow``; this module keeps no state outside the instance.
    * Imports no trio itself: it runs inside workflows. (The ``beamish`` package, whose
      kernel does import trio, is passed through Temporal's sandbox, never re-imported.)
"""

from __future__ import annotations

import asyncio
import contextvars
import datetime
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import temporalio.exceptions
import temporalio.workflow as workflow

from beamish.actors import (
    Context,
    Error,
    ErrorKind,
    Event,
    EventKind,
    Future,
    Mailbox,
    Message,
    Pid,
    ProcessExit,
    ProcessNotFound,
    Target,
    check_function_id,
    check_topic,
    isolate_args,
)

from ._convert import SIGNAL_FROM, decode_header, from_failure, to_wire
from ._fifo import FifoChains
from ._options import activity_options, child_options
from ._wchannel import CLOSED, ArrivedMessage, WorkflowChannel, workflow_select

__all__ = ["WorkflowContext", "WorkflowEnv", "WorkflowFuture"]

#: Timeout of the local activities that reach ordinary processes (send/cancel/terminate).
LOCAL_OP_TIMEOUT = datetime.timedelta(seconds=30)
#: Sender of the CANCEL event a Temporal cancellation request becomes.
TOPOLOGY_PID = Pid("", "topology")

#: Names of the worker's built-in local activities (``@`` can start no function ID).
SEND_ACTIVITY = "@beamish.send"
CANCEL_ACTIVITY = "@beamish.cancel"
TERMINATE_ACTIVITY = "@beamish.terminate"

#: Context values the outbound interceptor puts into the next command's header. Set by
#: ``call``/``spawn`` around the command (a contextvar: each workflow task has its own).
outbound_values: contextvars.ContextVar[Mapping[str, Any] | None] = contextvars.ContextVar(
    "beamish_outbound_values", default=None
)


@dataclass(frozen=True)
class WorkflowEnv:
    """What a workflow knows about the runtime around it (fixed per worker).

    ``client`` and ``worker`` are the node and host parts of the workflow PIDs
    (``{client@worker|workflow_id}``); ``hosts`` maps every worker host on the same
    client to its task queue, so ``spawn(..., host=...)`` and ``send`` can address them.
    """

    client: str
    worker: str
    task_queue: str
    hosts: Mapping[str, str] = field(default_factory=dict)
    activity_options: Mapping[str, Any] = field(default_factory=dict)

    def is_worker(self, host: str) -> bool:
        """Whether ``host`` is a ``temporal.worker`` of this client (ours included), or
        the task queue of one (Wippy's workflows name a child's host by task queue)."""
        return (
            host == self.worker
            or host in self.hosts
            or host == self.task_queue
            or host in self.hosts.values()
        )

    def task_queue_of(self, host: str) -> str:
        """The task queue a child spawned on ``host`` runs on.

        ``host`` is a worker entry ID of this client or, as in Wippy, the task queue
        of one; anything else is refused (a child on a queue no worker of this client
        polls would wait forever).
        """
        if host == self.worker:
            return self.task_queue
        tq = self.hosts.get(host)
        if tq is not None:
            return tq
        if host == self.task_queue or host in self.hosts.values():
            return host
        raise Error(
            f"host {host!r} is neither a temporal.worker of client {self.client!r} nor "
            "the task queue of one; a workflow can spawn children only on workers of its "
            f"own client (workers: {', '.join(sorted({self.worker, *self.hosts}))}; task "
            f"queues: {', '.join(sorted({self.task_queue, *self.hosts.values()}))})",
            kind=ErrorKind.INVALID,
            retryable=False,
        )


def _unsupported(op: str, why: str) -> Error:
    return Error(
        f"{op} is not supported in workflow context: {why}",
        kind=ErrorKind.INVALID,
        retryable=False,
    )


def _parent_pid(env: WorkflowEnv, info: workflow.Info) -> Pid | None:
    """The parent workflow's PID, ``None`` for a root workflow.

    Temporal tells a child its parent's workflow ID only; the host part comes from the
    sender PID a beamish parent puts in the start header (``_interceptors.py``). It is
    trusted only if it names that workflow on a worker host of our client; a parent
    started elsewhere (another client, a foreign SDK) stays ``None``. Both inputs are
    in the history, so replay computes the same PID.
    """
    parent = info.parent
    if parent is None:
        return None
    sender = decode_header(info.headers).get(SIGNAL_FROM)
    if not isinstance(sender, str) or not Pid.looks_like(sender):
        return None
    try:
        pid = Pid.parse(sender)
    except Error:
        return None
    if pid.id != parent.workflow_id or pid.node != env.client or not env.is_worker(pid.host):
        return None
    return pid


def _undeliverable(what: str, exc: Exception) -> None:
    # An undeliverable send (signal to a finished workflow...) is not the sender's failure.
    workflow.logger.warning("beamish: %s failed: %s", what, from_failure(exc))


class WorkflowFuture(Future):
    """An activity started with ``call_async``: the kernel's :class:`Future` contract,
    completed by the activity task; cancelling it cancels the activity."""

    __slots__ = ("_handle",)

    def __init__(self, func_id: str, handle: asyncio.Task[Any]) -> None:
        super().__init__(func_id, WorkflowChannel(f"future:{func_id}"))
        self._handle = handle
        handle.add_done_callback(self._on_done)

    def _on_done(self, handle: asyncio.Task[Any]) -> None:
        if handle.cancelled():
            self._set(None, Error(f"call to {self.func_id} was canceled", kind=ErrorKind.CANCELED))
            return
        exc = handle.exception()
        if exc is not None:
            self._set(None, from_failure(exc))
        else:
            self._set(handle.result(), None)

    def _abort(self) -> None:
        self._handle.cancel()

    async def _wait(self) -> None:
        await workflow.wait_condition(lambda: self._done)


class WorkflowContext(Mailbox, Context):
    """The :class:`~beamish.actors.Context` of a workflow run. See the module docstring."""

    kind = "workflow"
    durable = True
    can_link = False
    can_monitor = False
    has_names = False

    def __init__(
        self, env: WorkflowEnv, entry_id: str, values: Mapping[str, Any] | None = None
    ) -> None:
        info = workflow.info()
        self.env = env
        self.entry_id = entry_id
        self.pid = Pid(env.worker, info.workflow_id, env.client)
        self.values: Mapping[str, Any] = dict(values or {})
        self.trap_links = False
        self._inbox: WorkflowChannel | None = None
        self._direct: WorkflowChannel | None = None
        self._events: WorkflowChannel | None = None
        self._topics: dict[str, WorkflowChannel] | None = None
        self._backlog = None
        self.parent = _parent_pid(env, info)
        self._alive = True  # until the body has returned or raised (run_entry)
        self._outbox = FifoChains(_undeliverable)  # per destination, see the module doc
        self._children: dict[Pid, Any] = {}  # child PID -> ChildWorkflowHandle once started
        self._tasks: set[asyncio.Task[Any]] = set()  # keep background tasks referenced
        self.cancel_requested = False
        #: When true, a failed signal ``send`` is not logged but kept for :meth:`sent`
        #: (the Lua ``process.send`` of a workflow waits for it, as Wippy's does).
        self.confirm_sends = False
        self._last_send: asyncio.Task[Exception | None] | None = None
        #: When true, :meth:`select` takes the item that arrived first among the ready
        #: channels, not the first ready channel (the Lua driver's wait: ``_wchannel``).
        self.select_by_arrival = False

    # ==================================================================================
    # Inbound: signals and events (called by the workflow class)
    # ==================================================================================

    def _on_cancel_requested(self, reason: str = "") -> None:
        self.cancel_requested = True
        self._deliver_event(Event(EventKind.CANCEL, TOPOLOGY_PID, reason=reason))

    # ==================================================================================
    # Mailbox: routing is the shared core's (``beamish.actors.Mailbox``)
    # ==================================================================================

    def _new_channel(self, name: str) -> WorkflowChannel:
        return WorkflowChannel(name)

    async def receive(
        self, timeout: float | None = None, *, match: Callable[[Message], bool] | None = None
    ) -> Message:
        """The next (matching) inbox message (signal); :class:`Timeout` after a durable
        timer. See :meth:`Context.receive`."""
        if match is not None:
            return await self.inbox().receive_match(match, timeout)  # type: ignore[no-any-return]
        return await self.inbox().receive(timeout)  # type: ignore[no-any-return]

    async def select(
        self, channels: Sequence[Any], timeout: float | None = None
    ) -> tuple[Any, Any] | None:
        return await workflow_select(channels, timeout, by_arrival=self.select_by_arrival)

    # ==================================================================================
    # Outbound: send, cancel, terminate (ordered per destination)
    # ==================================================================================

    def _is_workflow_pid(self, pid: Pid) -> bool:
        env = self.env
        return pid.node == env.client or env.is_worker(pid.host) or pid.host == "temporal"

    def _resolve(self, dest: Pid | str, op: str) -> Pid:
        if type(dest) is Pid:
            return dest
        if isinstance(dest, str) and Pid.looks_like(dest):
            return Pid.parse(dest)
        if isinstance(dest, str):
            # As an unknown name is for a process (and as Wippy answers a workflow):
            # NOT_FOUND. A workflow can never resolve a name: names are node state.
            raise ProcessNotFound(
                f"could not resolve {dest!r} as a PID: {op} from a workflow needs a PID "
                "('{node@host|id}'); names are node state, not workflow history (look the "
                "name up in an activity or before starting the workflow)"
            )
        raise Error(
            f"destination must be a PID, got {type(dest).__name__}",
            kind=ErrorKind.INVALID,
            retryable=False,
        )

    def _after(self, key: str, op: Callable[[], Awaitable[Any]], what: str) -> None:
        """Run ``op`` once every earlier operation to ``key`` has finished (FIFO)."""
        self._outbox.run_after(key, op, what)

    def _send_after(
        self, key: str, op: Callable[[], Awaitable[Any]], what: str, *, confirm: bool
    ) -> None:
        task = self._outbox.run_after(key, op, what, report=not confirm)
        self._last_send = task if confirm else None

    @property
    def send_pending(self) -> bool:
        """True when :meth:`sent` has a signal to wait for."""
        return self._last_send is not None

    async def sent(self) -> None:
        """Wait until the last signal :meth:`send` made (with ``confirm_sends`` on) has
        left; raise its failure as an :class:`~beamish.actors.Error`:
        ``ProcessNotFound`` for a workflow that does not exist or has finished. Returns
        at once if there is nothing to wait for (the last send was local)."""
        task, self._last_send = self._last_send, None
        if task is None:
            return
        exc = await task
        if exc is None:
            return
        if (
            isinstance(exc, temporalio.exceptions.ApplicationError)
            and exc.type == "ExternalWorkflowExecutionNotFound"
        ):  # Temporal's answer to a signal for a workflow that is not running
            raise ProcessNotFound(f"no running workflow to signal: {exc.message}")
        raise from_failure(exc)

    async def _flush(self) -> None:
        """Wait until everything sent so far has left (run at exit: a workflow that
        completes with a signal still pending would drop it)."""
        while pending := self._outbox.pending():
            await workflow.wait(pending)

    def is_alive(self) -> bool:
        """True while the body runs; False once it has returned or raised."""
        return self._alive

    def _keep(self, task: asyncio.Task[Any]) -> None:
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def send(self, dest: Pid | str, topic: str, *payload: Any) -> None:
        """Signal a workflow, or reach an ordinary process once (local activity)."""
        check_topic(topic)
        pid = self._resolve(dest, "send")
        payload = isolate_args(payload)
        if pid == self.pid:
            self._deliver(ArrivedMessage(topic, self.pid, payload))
            return
        args = [to_wire(p, f"a message on topic {topic!r} to {pid}") for p in payload]
        if self._is_workflow_pid(pid):
            handle = workflow.get_external_workflow_handle(pid.id)
            self._send_after(
                pid.id,
                lambda: handle.signal(topic, args=args),
                f"signal {topic!r} to workflow {pid}",
                confirm=self.confirm_sends,
            )
        else:

            async def local_send() -> None:
                alive = await workflow.execute_local_activity(
                    SEND_ACTIVITY,
                    args=[str(pid), topic, args, str(self.pid)],
                    start_to_close_timeout=LOCAL_OP_TIMEOUT,
                )
                if alive is False:
                    raise ProcessNotFound(f"process {pid} is not alive (send {topic!r})")

            self._send_after(
                str(pid), local_send, f"send {topic!r} to process {pid}", confirm=False
            )

    def cancel(self, dest: Pid | str, reason: str = "") -> None:
        pid = self._resolve(dest, "cancel")
        self._stop(pid, CANCEL_ACTIVITY, reason, "cancel")

    def terminate(self, dest: Pid | str) -> None:
        """For a workflow PID this is a cancellation request too (Temporal has no
        terminate-external command); for an ordinary process, a real terminate."""
        pid = self._resolve(dest, "terminate")
        self._stop(pid, TERMINATE_ACTIVITY, "terminated", "terminate")

    def _stop(self, pid: Pid, activity: str, reason: str, what: str) -> None:
        if self._is_workflow_pid(pid):
            handle = workflow.get_external_workflow_handle(pid.id)
            self._after(pid.id, handle.cancel, f"{what} workflow {pid}")
        else:
            self._after(
                str(pid),
                lambda: workflow.execute_local_activity(
                    activity,
                    args=[str(pid), reason, str(self.pid)],
                    start_to_close_timeout=LOCAL_OP_TIMEOUT,
                ),
                f"{what} process {pid}",
            )

    # ==================================================================================
    # Children
    # ==================================================================================

    def _child_start(
        self,
        target: Target,
        host: str | None,
        name: str | None,
        options: Mapping[str, Any] | None,
    ) -> tuple[str, Pid, str, dict[str, Any]]:
        if not isinstance(target, str):
            raise Error(
                f"cannot spawn {target!r} from a workflow: children are workflow entries, "
                "pass the entry ID",
                kind=ErrorKind.INVALID,
                retryable=False,
            )
        host = host or self.env.worker
        task_queue = self.env.task_queue_of(host)
        opts = child_options(options)
        wf_id = name or opts.pop("id", None) or f"0x{workflow.uuid4().hex}"
        return target, Pid(host, str(wf_id), self.env.client), task_queue, opts

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
        """Start a child workflow; its EXIT always arrives on :meth:`events`.

        With ``name`` (the child's workflow ID) already taken, nothing starts
        (spawn-or-signal): ``messages`` go to the running workflow as signals and its PID
        is returned. Its EXIT arrives only if it is a child of this workflow. ``kwargs``
        are refused (``Error(INVALID)``): workflow arguments are positional.
        """
        if kwargs:
            raise Error(
                f"cannot spawn {target!r} from a workflow with keyword arguments: workflow "
                "arguments are positional; pass a dict as a positional argument instead",
                kind=ErrorKind.INVALID,
                retryable=False,
            )
        entry_id, pid, task_queue, opts = self._child_start(target, host, name, options)
        for topic, _ in messages:
            check_topic(topic)
        if pid in self._children:  # a running child of ours holds the name
            for topic, payload in messages:
                self.send(pid, topic, *payload)
            return pid
        wire_args = [
            to_wire(a, f"argument {i} of the start of child workflow {entry_id}")
            for i, a in enumerate(isolate_args(args), 1)
        ]
        wire_messages = [
            (t, [to_wire(p, f"start-up message {t!r} to child workflow {entry_id}")
                 for p in payload])
            for t, payload in messages
        ]
        values = {**self.values, **context} if context else None
        started = self._outbox.hold(pid.id)  # later sends to the child wait for its start
        self._children[pid] = None

        async def run_child() -> None:
            token = outbound_values.set(values)
            try:
                handle = await workflow.start_child_workflow(
                    entry_id, args=wire_args, id=pid.id, task_queue=task_queue, **opts
                )
            except temporalio.exceptions.WorkflowAlreadyStartedError:
                # Another workflow holds the name: signal it instead (spawn-or-signal).
                self._children.pop(pid, None)
                started.set_result(None)
                for topic, payload in messages:
                    self.send(pid, topic, *payload)
                return
            except Exception as e:
                started.set_result(None)
                self._children.pop(pid, None)
                self._deliver_event(Event(EventKind.EXIT, pid, error=from_failure(e)))
                return
            finally:
                outbound_values.reset(token)
            self._children[pid] = handle
            try:
                for topic, payload in wire_messages:  # type: ignore[assignment]
                    await handle.signal(topic, args=payload)
            finally:
                if not started.done():
                    started.set_result(None)
            try:
                value = await handle
            except asyncio.CancelledError:
                raise
            except Exception as e:
                event = Event(EventKind.EXIT, pid, error=from_failure(e))
            else:
                event = Event(EventKind.EXIT, pid, value=value)
            self._children.pop(pid, None)
            self._deliver_event(event)

        self._keep(asyncio.get_running_loop().create_task(run_child()))
        return pid

    async def exec(self, target: Target, *args: Any, **kw: Any) -> Any:
        """Run a child workflow to completion: its result, or :class:`ProcessExit`."""
        host = kw.pop("host", None)
        name = kw.pop("name", None)
        options = kw.pop("options", None)
        context = kw.pop("context", None)
        entry_id, pid, task_queue, opts = self._child_start(target, host, name, options)
        values = {**self.values, **context} if context else None
        token = outbound_values.set(values)
        try:
            handle = await workflow.start_child_workflow(
                entry_id,
                args=[
                    to_wire(a, f"argument {i} of the start of child workflow {entry_id}")
                    for i, a in enumerate(isolate_args(args), 1)
                ],
                id=pid.id,
                task_queue=task_queue,
                **opts,
            )
        except Exception as e:
            raise ProcessExit(pid, from_failure(e)) from None
        finally:
            outbound_values.reset(token)
        try:
            return await handle
        except asyncio.CancelledError:
            raise
        except Exception as e:
            raise ProcessExit(pid, from_failure(e)) from None

    # -- not in a workflow ------------------------------------------------------------

    def monitor(self, pid: Pid | str, *, strict: bool = False) -> None:
        raise _unsupported(
            "monitor", "child workflows are automatically monitored (EXIT arrives on events())"
        )

    def unmonitor(self, pid: Pid | str) -> None:
        raise _unsupported("unmonitor", "child workflows are automatically monitored")

    def link(self, pid: Pid | str) -> None:
        raise _unsupported("link", "Temporal does not support bidirectional linking")

    def unlink(self, pid: Pid | str) -> None:
        raise _unsupported("unlink", "Temporal does not support bidirectional linking")

    def register(self, name: str, pid: Pid | None = None) -> None:
        raise _unsupported("register", "names are node state, not workflow history")

    def lookup(self, name: str) -> Pid:
        raise _unsupported("lookup", "names are node state, not workflow history")

    def unregister(self, name: str) -> bool:
        raise _unsupported("unregister", "names are node state, not workflow history")

    # ==================================================================================
    # Functions -> activities
    # ==================================================================================

    def _start_activity(
        self,
        func_id: str,
        args: tuple[Any, ...],
        timeout: float | None,
        context: Mapping[str, Any] | None,
        options: Mapping[str, Any] | None,
    ) -> Any:
        check_function_id(func_id)
        merged = {**self.env.activity_options, **(options or {})}
        opts = activity_options(merged, timeout)
        token = outbound_values.set({**self.values, **context} if context else None)
        try:
            return workflow.start_activity(
                func_id,
                args=[
                    to_wire(a, f"argument {i} of the call of {func_id} (an activity)")
                    for i, a in enumerate(isolate_args(args), 1)
                ],
                **opts,
            )
        finally:
            outbound_values.reset(token)

    async def call(
        self,
        func_id: str,
        *args: Any,
        timeout: float | None = None,
        context: Mapping[str, Any] | None = None,
        options: Mapping[str, Any] | None = None,
    ) -> Any:
        """Run function ``func_id`` as an activity; its result or its :class:`Error`."""
        handle = self._start_activity(func_id, args, timeout, context, options)
        try:
            return await handle
        except asyncio.CancelledError:
            raise
        except Exception as e:
            raise from_failure(e) from None

    def call_async(
        self,
        func_id: str,
        *args: Any,
        timeout: float | None = None,
        context: Mapping[str, Any] | None = None,
        options: Mapping[str, Any] | None = None,
    ) -> WorkflowFuture:
        handle = self._start_activity(func_id, args, timeout, context, options)
        return WorkflowFuture(func_id, handle)

    # ==================================================================================
    # Time, ids, versions, info
    # ==================================================================================

    async def sleep(self, seconds: float) -> None:
        """A durable timer (none for ``seconds <= 0``: that only yields)."""
        if seconds > 0:
            await asyncio.sleep(seconds)
        else:
            await asyncio.sleep(0)

    def after(self, seconds: float) -> WorkflowChannel:
        ch = WorkflowChannel("after")

        async def fire() -> None:
            if seconds > 0:
                await asyncio.sleep(seconds)
            if not ch.closed:
                ch.put_nowait(self.now())

        self._keep(asyncio.get_running_loop().create_task(fire()))
        return ch

    def now(self) -> datetime.datetime:
        return workflow.now()

    def monotonic(self) -> float:
        return workflow.time()

    def uuid4(self) -> str:
        return str(workflow.uuid4())

    def uuid7(self) -> str:
        return str(workflow.uuid7())

    def random(self) -> float:
        """A deterministic random float in [0, 1) (seeded from history)."""
        return workflow.random().random()

    def version(self, change_id: str, min_version: int, max_version: int) -> int:
        """Wippy's ``workflow.version``: new runs get ``max_version``; a run that already
        passed this point keeps the version it recorded (``min_version`` if none).

        Implemented with patch markers ``<change_id>/v<N>``: a new run records the
        marker of ``max_version``; replay finds whichever marker its history holds.
        """
        if min_version > max_version:
            raise Error(
                f"workflow.version({change_id!r}): min {min_version} > max {max_version}",
                kind=ErrorKind.INVALID,
                retryable=False,
            )
        for v in range(max_version, min_version, -1):
            if workflow.patched(f"{change_id}/v{v}"):
                return v
        return min_version

    def workflow_info(self) -> dict[str, Any]:
        """Wippy's ``workflow.info()`` table."""
        info = workflow.info()
        return {
            "workflow_id": info.workflow_id,
            "run_id": info.run_id,
            "workflow_type": info.workflow_type,
            "task_queue": info.task_queue,
            "namespace": info.namespace,
            "attempt": info.attempt,
            "history_length": info.get_current_history_length(),
            "history_size": info.get_current_history_size(),
        }

    def __repr__(self) -> str:
        return f"<WorkflowContext {self.pid} {self.entry_id}>"


__all__ += ["CLOSED"]
