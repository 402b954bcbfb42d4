"""The node: the runtime that owns processes, names, hosts and functions.

A :class:`Node` is an async context manager around two trio nurseries: one for process
tasks and one for system tasks (timers, async calls). Everything the kernel does to a
process happens here, synchronously, on the trio thread: ``send`` appends to a deque,
``terminate`` cancels a scope, an exit walks the monitor and link sets. Nothing locks,
because nothing runs concurrently with it on this loop.

Routing: local processes live in one dict ``_procs`` (PID → :class:`Process`) shared by
every :class:`LocalHost`, so the hot paths (send, deliver) are one dict lookup. A PID
that dict does not hold belongs either to a dead process (→ :class:`ProcessNotFound`)
or to a foreign :class:`Host` (a Temporal worker), to which the operation is forwarded.

Quotas (``Limits``, per host; ``_limits.py``), checked here before anything changes, so
a refused operation leaves no trace and fails only its caller:

* ``send``/``cancel`` to a local process whose unreceived count is at its host's
  ``mailbox_messages``, or a sized send that would take its queued payload bytes over
  ``mailbox_bytes``: ``Error(RATE_LIMITED, retryable)`` naming the receiver, the
  setting and the host;
* ``spawn`` from a process that has ``children`` live children (its host's limit):
  ``Error(RATE_LIMITED, retryable)``; a spawn carrying more than ``spawn_messages``
  start-up messages: ``Error(INVALID)``, before the host is asked.

Shutdown (``__aexit__`` or :meth:`aclose`), bounded and staged like OTP's:
  1. stop accepting spawns;
  2. send every process CANCEL with reason ``"scheduler shutdown"``;
  3. wait up to ``shutdown_timeout`` seconds for them to exit on their own;
  4. terminate the rest (exit error ``"process terminated"``);
  5. cancel system tasks and close foreign hosts.
Nothing the node started is left running afterwards.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from types import TracebackType
from typing import Any, overload

import trio

from . import _gc
from ._cluster import join_cluster
from ._context import T, Target, _current
from ._errors import Error, ErrorKind, ProcessExit, ProcessNotFound, Timeout
from ._functions import FunctionRegistry
from ._host import Host, LocalHost, SpawnRequest
from ._isolate import IMMUTABLE_TYPES, isolate, isolate_args, isolate_payload
from ._limits import (
    SizedMessage,
    children_error,
    mailbox_bytes_error,
    mailbox_full_error,
    processes_error,
    spawn_messages_error,
)
from ._mailbox import check_topic
from ._message import Event, EventKind, Message
from ._names import NameRegistry
from ._pg import ProcessGroups
from ._pid import Pid
from ._process import SYSTEM_PID, Process, terminated_error

__all__ = ["DEFAULT_HOST", "DEFAULT_SHUTDOWN_TIMEOUT", "Node"]

#: Host used when ``spawn`` names none.
DEFAULT_HOST = "node:local"
#: Seconds processes get to exit after the shutdown CANCEL before they are terminated.
DEFAULT_SHUTDOWN_TIMEOUT = 5.0
#: Host of the frames that run functions called from outside any process.
FUNCTION_HOST = "node:functions"

Body = Callable[..., Awaitable[Any]]


def _body_of(target: Callable[..., Any]) -> Callable[..., Any]:
    """The process body for a callable ``spawn`` target.

    An object with a ``__beamish_body__`` attribute (a :class:`~beamish.Server` class)
    is started through it (a plain function that returns an awaitable opts in by
    naming itself there). Another plain ``def`` function is refused: it would run to
    its end at the first step and then fail to be awaited. (Other callables, a lambda
    returning a coroutine for one, are checked when they run.)
    """
    body = getattr(target, "__beamish_body__", None)
    if body is not None:
        return body  # type: ignore[no-any-return]
    code = getattr(target, "__code__", None)
    if (
        code is not None
        and not code.co_flags & _ASYNC_FLAGS
        and target.__name__ != "<lambda>"  # type: ignore[attr-defined]
    ):
        raise Error(
            f"cannot spawn {target.__qualname__}: a process body must be an async "  # type: ignore[attr-defined]
            "function ('async def body(ctx, ...)'), not a plain function",
            kind=ErrorKind.INVALID,
            retryable=False,
        )
    return target


_ASYNC_FLAGS = inspect.CO_COROUTINE | inspect.CO_ITERABLE_COROUTINE


def _target_name(target: Any) -> str:
    return target if isinstance(target, str) else getattr(target, "__qualname__", repr(target))


def _bind_kwargs(
    body: Callable[..., Any], target: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]
) -> Callable[..., Any]:
    """``body`` with ``kwargs`` (isolated) bound, after checking that the body takes
    them with ``args``: a mismatch is refused at spawn, naming the target."""
    try:
        inspect.signature(body).bind(None, *args, **kwargs)
    except TypeError as exc:
        raise Error(
            f"cannot spawn {_target_name(target)} with keyword arguments "
            f"{', '.join(map(repr, kwargs))}: {exc}",
            kind=ErrorKind.INVALID,
            retryable=False,
        ) from None
    except ValueError:  # no signature to check (a builtin): let the call decide
        pass
    return functools.partial(body, **isolate(dict(kwargs)))


class Node:
    """The beamish runtime. Use as ``async with Node() as node: ...``.

    Parameters:
        name: node name; when set, PIDs read ``{name@host|id}``.
        shutdown_timeout: seconds between the shutdown CANCEL and forced termination.
        exit_memory: how many exits of local processes the node remembers (the latest
            ones), so :meth:`wait` on a process that has already exited still returns its
            result (default 256, about 130 KB at most; 0 remembers none).
        gc_threshold: while the node runs, CPython's generation-0 collection threshold
            is at least this (default 10,000; CPython's own is 700): queued messages
            are young objects, and frequent young collections walk them all. The old
            value is restored when the last running node exits. ``None`` leaves the
            collector alone.
    """

    def __init__(
        self,
        *,
        name: str = "",
        shutdown_timeout: float = DEFAULT_SHUTDOWN_TIMEOUT,
        exit_memory: int = 256,
        gc_threshold: int | None = _gc.DEFAULT_GC_THRESHOLD,
        cluster: Any = None,
    ) -> None:
        self.node_name = name
        #: The cluster config this node joins when it opens (``ClusterConfig``, a NATS
        #: URL, or ``"embedded"``); ``None`` runs alone.
        self.cluster_config = cluster
        #: Routes the PIDs of other nodes (the cluster, once joined).
        self._remote: Host | None = None
        #: Process groups (``pg``): ``node.groups.scope("app:pg").join(pid, "g")``.
        self.groups = ProcessGroups(self)
        self.exit_memory = exit_memory
        #: The latest exits, oldest first: PID -> (value, error).
        self._exits: dict[Pid, tuple[Any, Error | None]] = {}
        self.shutdown_timeout = shutdown_timeout
        self.gc_threshold = gc_threshold
        self._gc_held = False
        self.functions = FunctionRegistry()
        self.names = NameRegistry()
        self._bodies: dict[str, Body] = {}
        self._hosts: dict[str, Host] = {}
        self._procs: dict[Pid, Process] = {}
        self._nursery: trio.Nursery | None = None
        self._system: trio.Nursery | None = None
        self._closing = False
        #: Processes that ignored the shutdown CANCEL and had to be terminated.
        self.terminated_at_shutdown = 0
        self._all_exited: trio.Event | None = None
        self._trio_token: trio.lowlevel.TrioToken | None = None
        self._nursery_cm: Any = None
        self._system_cm: Any = None
        self.add_host(LocalHost(DEFAULT_HOST))
        self.add_host(LocalHost(FUNCTION_HOST))

    # ==================================================================================
    # Lifecycle
    # ==================================================================================

    async def __aenter__(self) -> Node:
        if self._nursery is not None or self._closing:
            raise Error("a Node can be opened only once", kind=ErrorKind.INVALID)
        try:
            self._trio_token = trio.lowlevel.current_trio_token()
        except RuntimeError:
            raise Error(
                "a Node runs under trio: start your program with trio.run(main), not "
                "asyncio.run(main); to await asyncio-only code from a process, use "
                "beamish.run_asyncio",
                kind=ErrorKind.INVALID,
                retryable=False,
            ) from None
        self._nursery_cm = trio.open_nursery()
        self._nursery = await self._nursery_cm.__aenter__()
        self._system_cm = trio.open_nursery()
        self._system = await self._system_cm.__aenter__()
        self._gc_held = _gc.hold(self.gc_threshold)
        if self.cluster_config is not None:
            try:
                await join_cluster(self, self.cluster_config)
            except BaseException:
                await self.__aexit__(None, None, None)
                raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        try:
            if exc is None or isinstance(exc, Exception):
                await self._shutdown()
            else:
                self._terminate_all()
        finally:
            try:
                assert self._system is not None
                self._system.cancel_scope.cancel()
                await self._system_cm.__aexit__(None, None, None)
                for host in list(self._hosts.values()):
                    with trio.CancelScope(shield=True):
                        await host.aclose()
                if self._remote is not None:
                    with trio.CancelScope(shield=True):
                        await self._remote.aclose()
                # Process tasks never raise (their errors are exit results), so the
                # nursery ends clean and the block's own exception, if any, propagates
                # unwrapped.
                await self._nursery_cm.__aexit__(None, None, None)
            finally:
                if self._gc_held:
                    self._gc_held = False
                    _gc.release()
        return None

    async def _shutdown(self) -> None:
        self._closing = True
        for proc in list(self._procs.values()):
            proc._deliver_event(Event(EventKind.CANCEL, SYSTEM_PID, reason="scheduler shutdown"))
        if self._procs:
            self._all_exited = trio.Event()
            with trio.move_on_after(self.shutdown_timeout):
                await self._all_exited.wait()
        self._terminate_all()

    def _terminate_all(self) -> None:
        self._closing = True
        for proc in list(self._procs.values()):
            if proc._kill_error is None:
                self.terminated_at_shutdown += 1
            proc._kill(terminated_error())

    @property
    def trio_token(self) -> trio.lowlevel.TrioToken:
        """The token foreign threads use to reach this node's loop."""
        if self._trio_token is None:
            raise Error("the node is not running", kind=ErrorKind.UNAVAILABLE)
        return self._trio_token

    # ==================================================================================
    # Hosts, bodies, names
    # ==================================================================================

    def add_host(self, host: Host | str) -> Host:
        """Add a host (a :class:`Host`, or a name for a new :class:`LocalHost`)."""
        if isinstance(host, str):
            host = LocalHost(host)
        if host.name in self._hosts:
            raise Error(f"host {host.name!r} already exists", kind=ErrorKind.ALREADY_EXISTS)
        host.attach(self)
        self._hosts[host.name] = host
        return host

    def host(self, name: str) -> Host:
        h = self._hosts.get(name)
        if h is None:
            raise Error(
                f"host {name!r} not found; declare a process.host entry with that ID "
                f"(known hosts: {', '.join(sorted(self._hosts))})",
                kind=ErrorKind.NOT_FOUND,
                retryable=False,
            )
        return h

    @property
    def hosts(self) -> Mapping[str, Host]:
        return self._hosts

    def register_process(self, entry_id: str, body: Body) -> None:
        """Make ``spawn(entry_id, ...)`` start ``body`` (``async def body(ctx, *args)``,
        or a :class:`~beamish.Server` class). Raises ``Error(INVALID)`` for a plain
        function, as ``spawn`` does."""
        self._bodies[entry_id] = _body_of(body)

    def process_body(self, entry_id: str) -> Body:
        body = self._bodies.get(entry_id)
        if body is None:
            raise Error(
                f"process entry {entry_id!r} not found; check the entry ID and that its "
                "YAML entry (process.py / process.lua) was loaded",
                kind=ErrorKind.NOT_FOUND,
                retryable=False,
            )
        return body

    def register(self, name: str, pid: Pid) -> None:
        if pid not in self._procs and not self._foreign_alive(pid):
            raise self.not_found(pid)
        self.names.register(name, pid)

    async def register_global(self, name: str, pid: Pid) -> None:
        """Register ``name`` for ``pid`` cluster-wide and wait for the cluster's answer
        (see :meth:`Context.register_global`); :meth:`register` on a lone node."""
        if self._remote is None:
            self.register(name, pid)
            await trio.lowlevel.checkpoint()
            return
        if pid not in self._procs and not self._foreign_alive(pid):
            raise self.not_found(pid)
        await self._remote.register_global(name, pid)  # type: ignore[attr-defined]

    @property
    def cluster(self) -> Any:
        """The :class:`~beamish.actors.Cluster` this node joined, or ``None``."""
        return self._remote

    def lookup(self, name: str) -> Pid:
        pid = self.names.lookup(name)
        if pid is None:
            raise ProcessNotFound(f"no process is registered under the name {name!r}")
        return pid

    def unregister(self, name: str) -> bool:
        return self.names.unregister(name)

    # ==================================================================================
    # Spawning
    # ==================================================================================

    def spawn(
        self,
        target: Target,
        *args: Any,
        host: str | None = None,
        name: str | None = None,
        messages: Sequence[tuple[str, tuple[Any, ...]]] = (),
        context: Mapping[str, Any] | None = None,
        options: Mapping[str, Any] | None = None,
        kwargs: Mapping[str, Any] | None = None,
    ) -> Pid:
        """Start ``target`` (an async callable or a registered entry ID) from outside any
        process. See :meth:`Context.spawn` for the parameters."""
        return self._spawn(
            target,
            args,
            host=host,
            name=name,
            messages=messages,
            context=context,
            options=options,
            kwargs=kwargs,
        )

    @overload
    async def exec(
        self, target: Callable[..., Coroutine[Any, Any, T]], *args: Any, **kw: Any
    ) -> T: ...
    @overload
    async def exec(self, target: Target, *args: Any, **kw: Any) -> Any: ...
    async def exec(self, target: Target, *args: Any, **kw: Any) -> Any:
        """Spawn ``target`` and return its result (typed as the body's, for an async
        function); raise :class:`ProcessExit` on error. See :meth:`Context.exec`."""
        return await self._exec(target, args, **kw)

    def _spawn(
        self,
        target: Target,
        args: tuple[Any, ...],
        *,
        host: str | None = None,
        name: str | None = None,
        messages: Sequence[tuple[str, tuple[Any, ...]]] = (),
        context: Mapping[str, Any] | None = None,
        parent: Pid | None = None,
        monitor: bool = False,
        link: bool = False,
        options: Mapping[str, Any] | None = None,
        kwargs: Mapping[str, Any] | None = None,
    ) -> Pid:
        if self._nursery is None or self._closing:
            raise Error(
                "the node is not running (not opened yet, or shutting down); "
                "spawn inside 'async with Node()'",
                kind=ErrorKind.UNAVAILABLE,
            )
        h = self._hosts.get(host or DEFAULT_HOST) or self._remote_host(host)
        if messages:
            spawner = self._procs.get(parent) if parent is not None else None
            limits = spawner._limits if spawner is not None else getattr(h, "limits", None)
            if limits is not None and len(messages) > limits.spawn_messages:
                raise spawn_messages_error(
                    spawner.pid.host if spawner is not None else h.name,
                    limits.spawn_messages,
                    len(messages),
                )
        req = SpawnRequest(
            target,
            args,
            h.name,
            name,
            messages,
            context,
            parent,
            monitor,
            link,
            dict(options) if options else {},
            kwargs or None,
        )
        if req.kwargs and not isinstance(h, LocalHost):
            raise Error(
                f"cannot spawn {_target_name(target)} on {h.name} ({h.kind}) with keyword "
                "arguments: they are for Python bodies on a process host; pass a dict as "
                "a positional argument instead",
                kind=ErrorKind.INVALID,
                retryable=False,
            )
        return h.spawn(req)

    def _remote_host(self, host: str | None) -> Host:
        """The host for ``node@host`` (a host of another node of the cluster)."""
        node, at, name = (host or "").partition("@")
        if at and self._remote is not None:
            if node == self.node_name:
                return self.host(name)
            return self._remote.on_node(node, name)  # type: ignore[attr-defined, no-any-return]
        return self.host(host or DEFAULT_HOST)

    def _spawn_local(self, host: LocalHost, req: SpawnRequest, pid: Pid | None = None) -> Pid:
        target = req.target
        if isinstance(target, str):
            entry_id: str | None = target
            body = self.process_body(target)
        elif callable(target):
            entry_id, body = None, _body_of(target)
        else:
            raise Error(
                f"cannot spawn {target!r}: pass an async callable or a process entry ID",
                kind=ErrorKind.INVALID,
            )
        if req.kwargs:
            body = _bind_kwargs(body, target, req.args, req.kwargs)
        if req.name is not None:
            existing = self.names.lookup(req.name)
            if existing is not None:
                if existing.host != host.name:
                    raise Error(
                        f"name {req.name!r} is taken by {existing} on another host",
                        kind=ErrorKind.ALREADY_EXISTS,
                        retryable=False,
                        details={"pid": str(existing)},
                    )
                for topic, payload in req.messages:
                    self._send(existing, topic, payload, None)
                # monitor/link attach to whichever process the returned PID names
                if req.parent is not None:
                    if req.monitor:
                        self._monitor(req.parent, existing)
                    if req.link:
                        self._link(req.parent, existing)
                return existing
        parent = req.parent
        spawner = self._procs.get(parent) if parent is not None else None
        if spawner is not None and spawner._children >= spawner._limits.children:
            raise children_error(spawner.pid, spawner._limits, spawner._children)
        if host.live >= host.limits.processes:
            raise processes_error(host.name, host.limits, host.live)
        args = isolate_args(req.args)
        startup = []  # checked and copied before anything exists, so a bad one leaves no trace
        for topic, payload in req.messages:
            check_topic(topic)
            startup.append(Message(topic, None, isolate_args(tuple(payload))))
        values = dict(req.context) if req.context else None
        if pid is None:
            pid = host.next_pid()
        proc = Process(
            self,
            pid,
            body,
            args,
            entry_id=entry_id,
            values=values,
            parent=parent,
            limits=host.limits,
        )
        self._procs[pid] = proc
        if spawner is not None:
            spawner._children += 1
        host.spawned += 1
        host.live += 1
        if req.name is not None:
            self.names.register(req.name, pid)
        if parent is not None:
            if req.monitor:
                proc._monitors = {parent}
            if req.link:
                proc._links = {parent}
                self.link_one_way(parent, pid)
        for msg in startup:
            proc._deliver(msg)
            proc._room -= 1
        assert self._nursery is not None
        self._nursery.start_soon(proc._run)
        return pid

    async def _exec(
        self,
        target: Target,
        args: tuple[Any, ...],
        *,
        parent: Pid | None = None,
        timeout: float | None = None,
        **kw: Any,
    ) -> Any:
        pid = self._spawn(target, args, parent=parent, **kw)
        value, error = await self.wait(pid, timeout=timeout)
        if error is not None:
            raise ProcessExit(pid, error)
        return value

    async def wait(
        self, pid: Pid | str, *, timeout: float | None = None
    ) -> tuple[Any, Error | None]:
        """Wait for ``pid`` to exit and return its ``(value, error)``.

        A process that already exited returns at once while its exit is remembered
        (the latest ``exit_memory`` exits). Raises :class:`ProcessNotFound` for a PID
        that is neither alive nor remembered, :class:`Timeout` after ``timeout`` seconds
        (the process keeps running).
        """
        if type(pid) is Pid and pid not in self._procs:
            remembered = self._exits.get(pid)
            if remembered is not None:
                await trio.lowlevel.checkpoint()
                return remembered
        pid = self._resolve(pid)
        done = trio.Event()
        box: list[tuple[Any, Error | None]] = []

        def on_exit(value: Any, error: Error | None) -> None:
            box.append((value, error))
            done.set()

        proc = self._procs.get(pid)
        if proc is not None:
            if proc._exit_callbacks is None:
                proc._exit_callbacks = []
            proc._exit_callbacks.append(on_exit)
        else:
            self._foreign(pid).on_exit(pid, on_exit)
        if timeout is None:
            await done.wait()
        else:
            with trio.move_on_after(timeout):
                await done.wait()
            if not box:
                raise Timeout(f"process {pid} did not exit within {timeout:g}s")
        return box[0]

    # ==================================================================================
    # Messaging and control (sender None = from outside any process)
    # ==================================================================================

    def send(self, dest: Pid | str, topic: str, *payload: Any, sender: Pid | None = None) -> None:
        """Send from outside any process. ``sender`` (default none) is what the receiver
        sees as ``msg.sender``; bridges (e.g. a Temporal worker relaying a workflow's
        send) pass the original sender here. Fails like :meth:`Context.send`, including
        ``Error(RATE_LIMITED)`` for a full mailbox."""
        self._send(dest, topic, payload, sender)

    def _send(
        self, dest: Pid | str, topic: str, payload: tuple[Any, ...], sender: Pid | None
    ) -> None:
        if type(topic) is not str or not topic or topic[0] == "@":
            check_topic(topic)
        pid = dest if type(dest) is Pid else self._resolve(dest)
        proc = self._procs.get(pid)
        if proc is None:  # foreign hosts copy or encode the payload themselves
            self._foreign(pid).deliver(pid, Message(topic, sender, payload))
            return
        if proc._room <= 0:
            raise mailbox_full_error(pid, proc._limits, proc.queued)
        for v in payload:  # isolate_args, inlined: most payloads are immutable scalars
            if type(v) not in IMMUTABLE_TYPES:
                payload = isolate_payload(payload, pid)
                if proc._accepts is not None:
                    proc._accepts(payload, pid)
                break
        proc._deliver(Message(topic, sender, payload))
        proc._room -= 1
        if proc._hibernating:
            proc._wake()

    def _post(self, proc: Process, msg: Message) -> None:
        """Deliver a message the runtime built (``@`` topics allowed) to a live local
        process; full mailboxes fail as :meth:`send` does."""
        if proc._room <= 0:
            raise mailbox_full_error(proc.pid, proc._limits, proc.queued)
        proc._deliver(msg)
        proc._room -= 1
        if proc._hibernating:
            proc._wake()

    def _send_sized(
        self,
        dest: Pid | str,
        topic: str,
        payload: tuple[Any, ...],
        sender: Pid | None,
        size: int,
    ) -> None:
        """:meth:`_send` of a payload of ``size`` bytes (counted in ``mailbox_bytes``)."""
        if size <= 0:
            self._send(dest, topic, payload, sender)
            return
        if type(topic) is not str or not topic or topic[0] == "@":
            check_topic(topic)
        pid = dest if type(dest) is Pid else self._resolve(dest)
        proc = self._procs.get(pid)
        if proc is not None:
            if proc._room <= 0:
                raise mailbox_full_error(pid, proc._limits, proc.queued)
            if proc._qbytes + size > proc._limits.mailbox_bytes:
                raise mailbox_bytes_error(pid, proc._limits, proc._qbytes, size)
        for v in payload:  # from a Lua sender: plain values any Lua receiver takes
            if type(v) not in IMMUTABLE_TYPES:
                payload = isolate_args(payload)
                break
        msg = SizedMessage(topic, sender, payload, size)
        if proc is not None:
            proc._deliver(msg)
            proc._room -= 1
            proc._qbytes += size
            if proc._hibernating:
                proc._wake()
        else:
            self._foreign(pid).deliver(pid, msg)

    def cancel(self, dest: Pid | str, reason: str = "", *, sender: Pid | None = None) -> None:
        """Deliver CANCEL with ``reason`` to ``dest``; from ``sender`` (default: the
        system PID ``{|topology}``)."""
        self._cancel(dest, reason, sender)

    def _cancel(self, dest: Pid | str, reason: str, sender: Pid | None) -> None:
        pid = self._resolve(dest)
        proc = self._procs.get(pid)
        if proc is not None:
            if proc._room <= 0:
                raise mailbox_full_error(pid, proc._limits, proc.queued, what="cancel")
            proc._deliver_event(Event(EventKind.CANCEL, sender or SYSTEM_PID, reason=str(reason)))
        else:
            self._foreign(pid).cancel(pid, str(reason), sender)

    def terminate(self, dest: Pid | str) -> None:
        self._terminate(dest)

    def _terminate(self, dest: Pid | str) -> None:
        pid = self._resolve(dest)
        proc = self._procs.get(pid)
        if proc is not None:
            proc._kill(terminated_error())
        else:
            self._foreign(pid).terminate(pid)

    def _monitor(self, watcher: Pid, target: Pid | str) -> None:
        pid = self._resolve(target)
        proc = self._procs.get(pid)
        if proc is not None:
            if proc._monitors is None:
                proc._monitors = set()
            proc._monitors.add(watcher)
        else:
            self._foreign(pid).add_monitor(pid, watcher)

    def _unmonitor(self, watcher: Pid, target: Pid | str) -> None:
        pid = self._resolve(target)
        proc = self._procs.get(pid)
        if proc is not None:
            if proc._monitors:
                proc._monitors.discard(watcher)
        else:
            host = self._other(pid)
            if host is not None:
                host.remove_monitor(pid, watcher)

    def _link(self, a: Pid, target: Pid | str) -> None:
        b = self._resolve(target)
        if b == a:
            raise Error("a process cannot link to itself", kind=ErrorKind.INVALID)
        proc = self._procs.get(b)
        if proc is not None:
            if proc._links is None:
                proc._links = set()
            proc._links.add(a)
        else:
            self._foreign(b).add_link(b, a)
        self.link_one_way(a, b)

    def link_one_way(self, pid: Pid, peer: Pid) -> None:
        """Record on ``pid``'s side that it is linked to ``peer``. For hosts that attach
        a link to a process they spawn (``link`` does both sides)."""
        proc = self._procs.get(pid)
        if proc is not None:
            if proc._links is None:
                proc._links = set()
            proc._links.add(peer)
        else:
            host = self._other(pid)
            if host is not None:
                host.add_link(pid, peer)

    def _unlink(self, a: Pid, target: Pid | str) -> None:
        b = self._resolve(target)
        for pid, peer in ((a, b), (b, a)):
            proc = self._procs.get(pid)
            if proc is not None:
                if proc._links:
                    proc._links.discard(peer)
            else:
                host = self._other(pid)
                if host is not None:
                    host.remove_link(pid, peer)

    # -- called by processes as they exit, and by foreign hosts ---------------------------

    def _deliver_event(self, pid: Pid, event: Event) -> None:
        proc = self._procs.get(pid)
        if proc is not None:
            proc._deliver_event(event)
        else:
            host = self._other(pid)
            if host is not None:
                host.deliver_event(pid, event)

    def _link_exit(self, pid: Pid, peer: Pid, error: Error | None) -> None:
        proc = self._procs.get(pid)
        if proc is not None:
            proc._link_down(peer, error)
        else:
            host = self._other(pid)
            if host is not None:
                host.link_exit(pid, peer, error)

    def notify_exit(
        self,
        pid: Pid,
        value: Any,
        error: Error | None,
        *,
        monitors: Sequence[Pid] = (),
        links: Sequence[Pid] = (),
    ) -> None:
        """For foreign hosts: ``pid`` ended; deliver EXIT to ``monitors`` and the link
        outcome to ``links``, exactly as for a local process."""
        value = isolate(value) if error is None else None
        for watcher in monitors:
            self._deliver_event(watcher, Event(EventKind.EXIT, pid, value=value, error=error))
        for peer in links:
            self._link_exit(peer, pid, error)

    def _forget(self, proc: Process) -> None:
        del self._procs[proc.pid]
        self.names.release(proc.pid)
        groups = self.groups
        if groups._joined or groups._watching:
            groups.exited(proc.pid)
        host = self._hosts.get(proc.pid.host)
        if isinstance(host, LocalHost):
            host.live -= 1

    def _exited(self, proc: Process, value: Any, error: Error | None) -> None:
        if self.exit_memory > 0:
            exits = self._exits
            exits[proc.pid] = (value, error)
            if len(exits) > self.exit_memory:
                del exits[next(iter(exits))]
        if self._all_exited is not None and not self._procs:
            self._all_exited.set()

    def _system_soon(self, fn: Callable[[], Awaitable[None]]) -> None:
        if self._system is None:
            raise Error("the node is not running", kind=ErrorKind.UNAVAILABLE)
        self._system.start_soon(fn)

    def system_nursery(self) -> trio.Nursery:
        """The nursery for the node's own background tasks (cancelled at shutdown)."""
        if self._system is None:
            raise Error("the node is not running", kind=ErrorKind.UNAVAILABLE)
        return self._system

    # ==================================================================================
    # Functions called from outside any process
    # ==================================================================================

    async def call(
        self,
        func_id: str,
        *args: Any,
        timeout: float | None = None,
        context: Mapping[str, Any] | None = None,
    ) -> Any:
        """Call ``func_id`` from outside any process, in a short-lived function frame
        with its own PID (so the function can receive replies and use timers). Nested
        inside a function call it runs in that call's context. Process bodies call
        functions with ``ctx.call``."""
        cur = _current.get()
        if cur is not None:
            caller, values = cur
            if context:
                values = {**values, **context}
            return await self.functions.invoke(caller, values, func_id, args, timeout)
        host = self._hosts[FUNCTION_HOST]
        assert isinstance(host, LocalHost)
        frame = Process(
            self,
            host.next_pid(),
            None,
            (),
            entry_id=func_id,
            values=dict(context) if context else None,
            kind="function",
            limits=host.limits,
        )
        self._procs[frame.pid] = frame
        host.live += 1
        try:
            return await self.functions.invoke(frame, frame.values, func_id, args, timeout)
        finally:
            frame._finish(None, None)

    # ==================================================================================
    # Lookups
    # ==================================================================================

    def _resolve(self, dest: Pid | str) -> Pid:
        if type(dest) is Pid:
            return dest
        if isinstance(dest, str):
            if Pid.looks_like(dest):
                return Pid.parse(dest)
            pid = self.names.lookup(dest)
            if pid is None:
                raise ProcessNotFound(
                    f"no process is registered under the name {dest!r}; "
                    "register it first or send to a PID"
                )
            return pid
        raise Error(
            f"destination must be a PID or a registered name, got {type(dest).__name__}",
            kind=ErrorKind.INVALID,
        )

    def resolve(self, dest: Pid | str) -> Pid:
        """The PID ``dest`` names (a PID, a PID string or a registered name)."""
        return self._resolve(dest)

    def _other(self, pid: Pid) -> Host | None:
        """The host that routes ``pid`` when the node does not hold it: a foreign host
        of this node (a Temporal worker), or the cluster for another node's PID."""
        host = self._hosts.get(pid.host)
        if host is not None and not isinstance(host, LocalHost):
            return host
        if pid.node != self.node_name and self._remote is not None and pid.node:
            return self._remote
        return None

    def _foreign(self, pid: Pid) -> Host:
        host = self._other(pid)
        if host is None:
            raise self.not_found(pid)
        return host

    def _foreign_alive(self, pid: Pid) -> bool:
        host = self._other(pid)
        return host is not None and host.is_alive(pid)

    def not_found(self, pid: Pid) -> ProcessNotFound:
        """The :class:`ProcessNotFound` error for ``pid`` (dead, or unknown host)."""
        if pid.node and pid.node != self.node_name and self._remote is not None:
            return ProcessNotFound(
                f"process {pid} not found: node {pid.node!r} is not connected to this "
                f"node ({self.node_name or 'standalone'}); start it, or join this node "
                "to its cluster"
            )
        if pid.host not in self._hosts:
            return ProcessNotFound(
                f"process {pid} not found: host {pid.host!r} does not exist on this node"
            )
        return ProcessNotFound(
            f"process not found: {pid} is not alive (it exited or never existed); "
            "monitor a process to learn when it exits"
        )

    def is_alive(self, pid: Pid | str) -> bool:
        try:
            p = self._resolve(pid)
        except Error:
            return False
        return p in self._procs or self._foreign_alive(p)

    def process(self, pid: Pid | str) -> Process:
        """The live local :class:`Process` for ``pid`` (for tests and tooling)."""
        p = self._resolve(pid)
        proc = self._procs.get(p)
        if proc is None:
            raise self.not_found(p)
        return proc

    def processes(self) -> list[Pid]:
        return list(self._procs)

    def statistics(self) -> dict[str, Any]:
        return {
            "processes": len(self._procs),
            "names": len(self.names),
            "functions": len(self.functions.ids()),
            "hosts": {n: h.statistics() for n, h in self._hosts.items()},
            "closing": self._closing,
        }

    def __repr__(self) -> str:
        state = "closing" if self._closing else ("running" if self._nursery else "new")
        return f"<Node {self.node_name or 'local'} {state} processes={len(self._procs)}>"
