"""The context: the only door through which a process body acts on the world.

This is beamish's one key abstraction. A process body — a Python
coroutine or a Lua script driven by the bridge — performs every effect through the
:class:`Context` it was started with: send, receive, spawn, link/monitor, call a
function, sleep, read the clock, make an id, cancel, terminate. Backends:

* the **kernel** (:class:`beamish.actors.Process`, trio): effects act on the in-memory
  node, live;
* the **workflow** context (``beamish.durable``, asyncio inside a Temporal workflow):
  ``call`` becomes an activity, ``sleep`` a durable timer, ``now``/``uuid4`` recorded
  values, ``receive`` the signal queue, ``spawn`` a child workflow.

So the same body behaves right in each compute unit. Code written against this class
must not touch trio or asyncio itself: all waiting goes through ``receive``, ``select``,
``sleep``, ``call`` and ``exec``. The abstract methods below state the contract both
backends keep; each backend's docstrings say how it implements them (live or recorded,
cancellable or not).

Outcomes every backend keeps:

* ``send`` never blocks; a topic starting with ``@`` raises ``Error(INVALID)``. In the
  kernel a send to a dead PID or an unknown name raises :class:`ProcessNotFound`; in a
  :attr:`~Context.durable` context the send is recorded and leaves after the workflow
  task, so a dead receiver is logged as a warning and the message dropped (as a send to
  a dead PID is in Erlang), unless the backend offers a way to wait for the outcome
  (the workflow context's ``sent()``, which Lua's ``process.send`` uses); a name is
  never resolvable there (:class:`ProcessNotFound`).
* ``receive``/``select`` with a timeout raise :class:`Timeout` / return ``None`` and leave
  the mailbox unchanged.
* ``call`` raises the callee's :class:`Error` (kind preserved), ``Timeout`` on timeout,
  and is cancelled with the caller.
* ``exec`` returns the child's result or raises :class:`ProcessExit` with its error.
"""

from __future__ import annotations

import abc
import datetime
from collections.abc import Callable, Coroutine, Mapping, Sequence
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, TypeVar, overload

from ._channel import ChannelLike
from ._errors import Error, ErrorKind
from ._message import Message
from ._pid import Pid

if TYPE_CHECKING:
    from ._future import Future
    from ._pg import Groups

__all__ = [
    "Context",
    "current_context",
    "current_values",
]


Target = str | Callable[..., Any]
#: The result type of a process body, for :meth:`Context.exec` and ``Node.exec``.
T = TypeVar("T")
"""What ``spawn`` starts: a registered entry ID (``"ns:name"``) or an async callable."""


class Context(abc.ABC):
    """The effects a process body may perform. See the module docstring for the contract.

    What a backend can do differs in a few documented places; callers ask the
    capability flags below instead of testing :attr:`kind` or probing for methods.
    """

    #: ``"process"`` in the kernel, ``"workflow"`` inside Temporal, ``"function"`` for a
    #: function called from outside any process. For display and errors only: callers
    #: decide on the capability flags, never on this string.
    kind: str = "process"

    #: This process's PID (a workflow's is ``{client@worker|workflow_id}``).
    pid: Pid
    #: The registry entry this body runs (``"ns:name"``), ``None`` for a bare callable.
    entry_id: str | None
    #: The context values the spawner or caller passed down (``ctx.get`` in Lua).
    values: Mapping[str, Any]
    #: The PID of the process that spawned this one, ``None`` for a root process.
    parent: Pid | None = None

    # -- capabilities ---------------------------------------------------------------
    #
    # Class attributes, so asking costs an attribute read. An operation whose flag is
    # False raises ``Error(INVALID)`` naming the operation and why.

    #: True where state survives a crash of the host (workflows): effects are recorded
    #: and replayed, so nondeterminism must come from this context (``now``, ``uuid4``,
    #: ``random``), never from the host.
    durable: bool = False
    #: True where :meth:`link`/:meth:`unlink` work. Workflows: False (Temporal has no
    #: bidirectional links).
    can_link: bool = True
    #: True where :meth:`monitor`/:meth:`unmonitor` work. Workflows: False, and not
    #: needed: every child's EXIT arrives on :meth:`events` anyway.
    can_monitor: bool = True
    #: True where :meth:`register`/:meth:`lookup`/:meth:`unregister` work, and ``send``
    #: takes a name. Workflows: False (names are node state, not history).
    has_names: bool = True
    #: True where :meth:`hibernate` is supported (kernel processes, not workflows).
    can_hibernate: bool = False

    def is_alive(self) -> bool:
        """True until this process has exited (its body returned, raised or was killed)."""
        return True

    @property
    def home_host(self) -> str | None:
        """The host a :meth:`spawn` without ``host=`` starts on: this process's own host,
        or ``None`` for the node's default (a function frame has no host of its own)."""
        return self.pid.host or None

    # -- messaging ----------------------------------------------------------------

    @abc.abstractmethod
    def send(self, dest: Pid | str, topic: str, *payload: Any) -> None:
        """Send ``payload`` to ``dest`` (a PID, its string form or a registered name).

        Never blocks. Messages from one sender to one receiver arrive in the order sent.
        Raises ``Error(INVALID)`` for an empty or ``@`` topic, :class:`ProcessNotFound`
        for a dead PID or an unknown name, and ``Error(RATE_LIMITED)`` (retryable) when
        the receiver's mailbox is at its host's ``limits.mailbox_messages``; nothing is
        queued then. Where :attr:`durable`, the send is recorded and leaves after the
        workflow task: a dead receiver is then a logged warning, not an error.
        """

    def send_sized(self, dest: Pid | str, topic: str, size: int, *payload: Any) -> None:
        """:meth:`send` a payload whose encoded size the caller knows (``size`` bytes).

        A backend that keeps a byte quota on mailboxes (the kernel's
        ``limits.mailbox_bytes``) counts ``size`` against the receiver's while the
        message is queued and fails the send (``RATE_LIMITED``; ``INVALID`` when ``size``
        alone is over the limit) when it would go over. Others just :meth:`send`.
        """
        self.send(dest, topic, *payload)

    # Routing (both backends share it: ``beamish.actors.Mailbox``): a message goes to
    # the channel listening on its topic, else to the inbox once asked for, else it
    # waits, in arrival order, until one of them exists.

    @abc.abstractmethod
    def inbox(self) -> ChannelLike:
        """The inbox channel: every :class:`Message` whose topic no channel listens to.

        Returns the same channel on every call. Messages that arrived before the first
        call were kept and are in it, in arrival order. Never fails.
        """

    @abc.abstractmethod
    def events(self) -> ChannelLike:
        """The events channel: :class:`Event` values (EXIT, LINK_DOWN, CANCEL).

        Returns the same channel on every call; no event is lost before the first.
        """

    @abc.abstractmethod
    def listen(self, topic: str) -> ChannelLike:
        """A channel of the messages on ``topic``; the same channel for the same topic.

        Messages on ``topic`` that were waiting move into it, in order. Raises
        ``Error(INVALID)`` for an empty topic or one starting with ``@``, and
        ``Error(RATE_LIMITED)`` past the host's ``limits.listens`` (kernel).
        """

    @abc.abstractmethod
    def unlisten(self, topic_or_channel: str | ChannelLike) -> None:
        """Stop listening on a topic (named, or by its channel) and close its channel.

        Later messages on it go to the inbox. What the channel still holds stays
        receivable from it. An unknown topic is ignored.
        """

    @abc.abstractmethod
    async def receive(
        self, timeout: float | None = None, *, match: Callable[[Message], bool] | None = None
    ) -> Message:
        """The next inbox :class:`Message`, waiting for one if need be.

        With ``match`` (a plain function of a message), the oldest message for which
        ``match(msg)`` is true: a *selective receive*, as Erlang's ``receive`` with
        patterns. The messages before it stay in the inbox, in order, for a later
        receive. ``match`` must not block or await; what it raises propagates and takes
        nothing.

        Raises :class:`Timeout` when no (matching) message arrives within ``timeout``
        seconds (a durable timer in workflows); the mailbox is unchanged then.
        """

    @abc.abstractmethod
    async def select(
        self, channels: Sequence[ChannelLike], timeout: float | None = None
    ) -> tuple[ChannelLike, Any] | None:
        """Wait until one of ``channels`` has an item and take it.

        Returns ``(channel, item)`` (``item`` is ``CLOSED`` for a closed, drained
        channel), or ``None`` when ``timeout`` seconds pass first; then nothing is taken.
        """

    # -- processes ----------------------------------------------------------------

    @abc.abstractmethod
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
        """Start ``target`` on ``host``; monitor/link are attached before it can exit.

        ``target`` is an async function ``body(ctx, *args, **kwargs)``, a
        :class:`~beamish.Server` class, or a process entry ID. ``args`` follow the
        context; keyword arguments of the body go in ``kwargs`` (a mapping, copied like
        ``args``), so they never collide with these options. ``kwargs`` are checked
        against the body's signature at spawn, and are for Python bodies on process
        hosts only (Lua bodies and workflows take positional arguments).

        With ``name``: if the name is taken on that host, no process starts; the
        existing PID is returned, ``messages`` are delivered to it (spawn-or-signal)
        and ``monitor``/``link`` attach to it.

        Raises ``Error(RATE_LIMITED)`` (retryable) when this process already has its
        host's ``limits.children`` live children, and ``Error(INVALID)`` when
        ``messages`` has more than ``limits.spawn_messages``; nothing starts then.
        """

    def spawn_monitored(self, target: Target, *args: Any, **kw: Any) -> Pid:
        return self.spawn(target, *args, monitor=True, **kw)

    def spawn_linked(self, target: Target, *args: Any, **kw: Any) -> Pid:
        return self.spawn(target, *args, link=True, **kw)

    def spawn_linked_monitored(self, target: Target, *args: Any, **kw: Any) -> Pid:
        return self.spawn(target, *args, link=True, monitor=True, **kw)

    @overload
    async def exec(
        self, target: Callable[..., Coroutine[Any, Any, T]], *args: Any, **kw: Any
    ) -> T: ...
    @overload
    async def exec(self, target: Target, *args: Any, **kw: Any) -> Any: ...
    @abc.abstractmethod
    async def exec(self, target: Target, *args: Any, **kw: Any) -> Any:
        """Spawn ``target`` (keywords as :meth:`spawn`) and wait for it to exit.

        Returns its return value (typed as the body's, for an async function). Raises
        :class:`ProcessExit` carrying the child's :class:`Error` when it fails, and what
        :meth:`spawn` raises when it cannot start.
        """

    @abc.abstractmethod
    def monitor(self, pid: Pid | str, *, strict: bool = False) -> None:
        """Watch ``pid``: when it exits, an EXIT :class:`Event` with its result arrives
        on :meth:`events`. Monitoring twice is one monitor.

        A PID that is not alive gets an EXIT at once, with an ``Error(NOT_FOUND)`` whose
        ``details["reason"]`` is ``"noproc"`` (OTP's ``DOWN ... noproc``), so a watcher
        never races the exit. With ``strict=True`` (Wippy's ``process.monitor``) it
        raises :class:`ProcessNotFound` instead; an unknown name always does.
        ``Error(INVALID)`` where not :attr:`can_monitor`.
        """

    @abc.abstractmethod
    def unmonitor(self, pid: Pid | str) -> None:
        """Stop watching ``pid``; no EXIT from it arrives afterwards. Idempotent."""

    @abc.abstractmethod
    def link(self, pid: Pid | str) -> None:
        """Link with ``pid`` both ways: when either exits with an error, the other gets
        a LINK_DOWN event if it traps links (:attr:`trap_links`), else it is stopped
        with that error. A normal exit only removes the link.

        Raises :class:`ProcessNotFound` when ``pid`` is not alive, ``Error(INVALID)``
        where not :attr:`can_link`.
        """

    @abc.abstractmethod
    def unlink(self, pid: Pid | str) -> None:
        """Remove the link with ``pid`` (both directions). Idempotent."""

    #: When True, a linked process's failure arrives as a LINK_DOWN event instead of
    #: stopping this process (Erlang's ``trap_exit``).
    trap_links: bool = False

    @abc.abstractmethod
    def cancel(self, dest: Pid | str, reason: str = "") -> None:
        """Ask ``dest`` to stop: a CANCEL event with ``reason`` (cooperative).

        Raises ``Error(RATE_LIMITED)`` like :meth:`send` when ``dest``'s mailbox is full.
        """

    @abc.abstractmethod
    def terminate(self, dest: Pid | str) -> None:
        """Stop ``dest`` now; it exits with ``Error("process terminated")``."""

    @abc.abstractmethod
    def register(self, name: str, pid: Pid | None = None) -> None:
        """Register ``name`` for ``pid`` (default: this process) until it exits or the
        name is unregistered; :meth:`send` and :meth:`lookup` then accept the name.

        Raises ``Error(ALREADY_EXISTS)`` when the name is taken, ``Error(INVALID)``
        where not :attr:`has_names`.
        """

    def pg(self, scope: str) -> Groups:
        """Process groups of ``scope`` (Erlang's ``pg``) as this process uses them:
        ``ctx.pg("app:pg").join("workers")``, ``.get_members("workers")``,
        ``.broadcast("workers", "topic", ...)``, ``.monitor("workers")``. Groups span
        the cluster; see :class:`~beamish.actors.PgScope`."""
        raise Error("process groups are not available here", kind=ErrorKind.INVALID,
                    retryable=False)

    async def register_global(self, name: str, pid: Pid | None = None) -> None:
        """Register ``name`` for ``pid`` (default: this process) across the cluster, and
        wait for it to be
        confirmed: of several processes (on any nodes) racing for one name, exactly one
        wins and the others get ``Error(ALREADY_EXISTS)`` naming the holder. (Plain
        :meth:`register` is cluster-wide too but answers at once; a name another node
        claimed first is then revoked with a CANCEL ``"name revoked: ..."``.) On a node
        outside any cluster it is :meth:`register`.
        """
        raise Error("register_global is not available here", kind=ErrorKind.INVALID,
                    retryable=False)

    @abc.abstractmethod
    def lookup(self, name: str) -> Pid:
        """The PID registered as ``name``. Raises :class:`ProcessNotFound` (kind
        ``NOT_FOUND``) when none is."""

    @abc.abstractmethod
    def unregister(self, name: str) -> bool:
        """Release ``name``. Returns whether it was registered."""

    # -- calls to servers (OTP's gen_server:call / cast) -----------------------------

    #: True where :meth:`ask`/:meth:`cast` work (kernel processes and function frames;
    #: not workflows, whose replies would not be history).
    can_ask: bool = False

    async def ask(self, dest: Pid | str, request: Any, *, timeout: float | None = 5.0) -> Any:
        """Send ``request`` to the server ``dest`` and wait for its reply.

        ``dest`` is a PID or a registered name. The server receives a
        :class:`~beamish.actors.Call` (topic ``"@call"``; a
        :class:`~beamish.supervision.Server` hands it to ``handle_call``) and answers
        with ``call.reply(value)``, which is what this returns. Like OTP's
        ``gen_server:call``, the caller watches the server while it waits.

        Raises :class:`ProcessNotFound` at once when ``dest`` is not alive,
        :class:`ProcessExit` (with the server's error) when it exits before replying,
        the server's :class:`Error` when it answers with ``call.fail(error)``,
        :class:`Timeout` after ``timeout`` seconds (``None``: wait for ever; a late reply
        is dropped, never delivered to the mailbox), and ``Error(INVALID)`` for a call
        to itself, to a workflow, or where not :attr:`can_ask`.
        """
        raise Error(
            f"ask is not available in a {self.kind} context: a reply cannot be recorded; "
            "call a function (ctx.call) instead",
            kind=ErrorKind.INVALID,
            retryable=False,
        )

    def cast(self, dest: Pid | str, request: Any) -> None:
        """Send ``request`` to the server ``dest`` without waiting (``handle_cast``).

        Fails like :meth:`send` (:class:`ProcessNotFound` for a dead ``dest``); the
        server's outcome is not reported. ``Error(INVALID)`` where not :attr:`can_ask`.
        """
        raise Error(
            f"cast is not available in a {self.kind} context; use send",
            kind=ErrorKind.INVALID,
            retryable=False,
        )

    # -- functions ----------------------------------------------------------------

    @abc.abstractmethod
    async def call(
        self,
        func_id: str,
        *args: Any,
        timeout: float | None = None,
        context: Mapping[str, Any] | None = None,
        options: Mapping[str, Any] | None = None,
    ) -> Any:
        """Call function ``func_id`` (``"ns:name"``) with ``args`` and return its result.

        The function runs in this caller's context (an activity in workflows) and is
        cancelled with the caller. ``context`` adds values the callee sees; ``options``
        are backend options (activity timeouts and retries in workflows).

        Raises the callee's :class:`Error` with its kind kept, :class:`Timeout` after
        ``timeout`` seconds, ``Error(INVALID)`` for a malformed ID and
        ``Error(NOT_FOUND)`` for an unknown one.
        """

    @abc.abstractmethod
    def call_async(
        self,
        func_id: str,
        *args: Any,
        timeout: float | None = None,
        context: Mapping[str, Any] | None = None,
        options: Mapping[str, Any] | None = None,
    ) -> Future:
        """Start :meth:`call` without waiting and return its :class:`Future`.

        The future's channel delivers the result once; it is cancelled when this
        process exits. A malformed ID raises at once; every other failure arrives
        through the future.
        """

    # -- hibernation --------------------------------------------------------------

    def hibernate(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Return this from the body to wait for the next message without holding a
        task: ``return ctx.hibernate(fn, *args)`` runs ``fn(ctx, *args)`` on wake-up.
        Only where :attr:`can_hibernate`."""
        raise Error(f"hibernate is not supported in a {self.kind} context", kind=ErrorKind.INVALID)

    # -- time and ids -------------------------------------------------------------

    @abc.abstractmethod
    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` (a durable timer in workflows). Cancelled with the caller."""

    @abc.abstractmethod
    def after(self, seconds: float) -> ChannelLike:
        """A channel that receives :meth:`now` once, ``seconds`` from now."""

    @abc.abstractmethod
    def now(self) -> datetime.datetime:
        """Wall-clock time, timezone-aware UTC (the workflow clock in workflows)."""

    @abc.abstractmethod
    def monotonic(self) -> float:
        """Seconds on a clock that never goes back (workflow time in workflows)."""

    @abc.abstractmethod
    def uuid4(self) -> str:
        """A random (version 4) UUID string; recorded in workflows, so replay sees it again."""

    @abc.abstractmethod
    def uuid7(self) -> str:
        """A time-ordered (version 7) UUID string; recorded in workflows."""

    @abc.abstractmethod
    def random(self) -> float:
        """A random float in [0, 1); seeded from history in workflows (same on replay)."""

    # -- workflows ------------------------------------------------------------------

    def version(self, change_id: str, min_version: int, max_version: int) -> int:
        """Which version of the code at ``change_id`` this run follows (Wippy's
        ``workflow.version``): a new run gets ``max_version``, a replayed run the one it
        recorded. Only where :attr:`durable`; elsewhere ``Error(INVALID)``."""
        raise _not_durable("version", self.kind)

    def workflow_info(self) -> dict[str, Any]:
        """Facts about the running workflow (id, run id, type, task queue, namespace,
        attempt, history length and size). Only where :attr:`durable`."""
        raise _not_durable("workflow_info", self.kind)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.pid}>"


def _not_durable(op: str, kind: str) -> Error:
    return Error(
        f"{op} works only inside a workflow, not in a {kind} context: spawn the code on "
        "a temporal.worker host to run it durably",
        kind=ErrorKind.INVALID,
        retryable=False,
    )


# -- the current context (for functions) ---------------------------------------------

_current: ContextVar[tuple[Context, Mapping[str, Any]] | None] = ContextVar(
    "beamish_context", default=None
)


def current_context() -> Context:
    """The context of the caller, inside a function called through beamish.

    Functions run in their caller's context; a Python function body uses this to send,
    spawn or call further. Process bodies already hold their context (their first
    argument), so the kernel does not pay for a context variable per process; this
    raises ``Error(INTERNAL)`` outside a function call.
    """
    cur = _current.get()
    if cur is None:
        raise Error(
            "no beamish context here: current_context() works inside a function called "
            "through Node.call / Context.call; a process body uses its ctx argument",
            kind=ErrorKind.INTERNAL,
            retryable=False,
        )
    return cur[0]


def current_values() -> Mapping[str, Any]:
    """The context values visible to the running code (``ctx.get`` in Lua)."""
    cur = _current.get()
    if cur is None:
        return {}
    return cur[1]
