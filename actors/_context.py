"""The context: the only door through which a process body acts on the world.

This is beamish's one key abstraction (``ARCHITECTURE.md``). A process body — a Python
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

* ``send`` never blocks. To a dead PID or an unknown name it raises
  :class:`ProcessNotFound`; a topic starting with ``@`` raises ``Error(INVALID)``.
* ``receive``/``select`` with a timeout raise :class:`Timeout` / return ``None`` and leave
  the mailbox unchanged.
* ``call`` raises the callee's :class:`Error` (kind preserved), ``Timeout`` on timeout,
  and is cancelled with the caller.
* ``exec`` returns the child's result or raises :class:`ProcessExit` with its error.
"""

from __future__ import annotations

import abc
import datetime
from collections.abc import Callable, Mapping, Sequence
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, Protocol

from ._errors import Error, ErrorKind
from ._pid import Pid

if TYPE_CHECKING:
    from ._future import Future

__all__ = [
    "ChannelLike",
    "Context",
    "current_context",
    "current_values",
]


class ChannelLike(Protocol):
    """What a backend's channels offer a driver (kernel: :class:`Channel`)."""

    name: str

    def put_nowait(self, value: Any) -> None: ...
    def close(self) -> None: ...
    def receive_nowait(self) -> Any: ...
    async def receive(self, timeout: float | None = None) -> Any: ...

    @property
    def closed(self) -> bool: ...


Target = str | Callable[..., Any]
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

        Never blocks. Raises ``Error(RATE_LIMITED)`` (retryable) when the receiver's
        mailbox is at its host's ``limits.mailbox_messages``; nothing is queued then.
        """

    def send_sized(self, dest: Pid | str, topic: str, size: int, *payload: Any) -> None:
        """:meth:`send` a payload whose encoded size the caller knows (``size`` bytes).

        A backend that keeps a byte quota on mailboxes (the kernel's
        ``limits.mailbox_bytes``) counts ``size`` against the receiver's while the
        message is queued and fails the send (``RATE_LIMITED``; ``INVALID`` when ``size``
        alone is over the limit) when it would go over. Others just :meth:`send`.
        """
        self.send(dest, topic, *payload)

    @abc.abstractmethod
    def inbox(self) -> ChannelLike:
        """The inbox channel (same one every call): messages on topics nobody listens to."""

    @abc.abstractmethod
    def events(self) -> ChannelLike:
        """The events channel: :class:`Event` objects (EXIT, LINK_DOWN, CANCEL)."""

    @abc.abstractmethod
    def listen(self, topic: str) -> ChannelLike:
        """Subscribe to ``topic``; queued messages on it move there in order."""

    @abc.abstractmethod
    def unlisten(self, topic_or_channel: str | ChannelLike) -> None:
        """Drop a subscription and close its channel; later messages go to the inbox."""

    @abc.abstractmethod
    async def receive(self, timeout: float | None = None) -> Any:
        """The next inbox :class:`Message`; :class:`Timeout` after ``timeout`` seconds."""

    @abc.abstractmethod
    async def select(
        self, channels: Sequence[ChannelLike], timeout: float | None = None
    ) -> tuple[ChannelLike, Any] | None:
        """``(channel, item)`` for the first ready channel, or ``None`` on timeout."""

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
    ) -> Pid:
        """Start ``target`` on ``host``; monitor/link are attached before it can exit.

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

    @abc.abstractmethod
    async def exec(self, target: Target, *args: Any, **kw: Any) -> Any:
        """Spawn ``target`` and wait for its result (:class:`ProcessExit` on error)."""

    @abc.abstractmethod
    def monitor(self, pid: Pid | str) -> None: ...

    @abc.abstractmethod
    def unmonitor(self, pid: Pid | str) -> None: ...

    @abc.abstractmethod
    def link(self, pid: Pid | str) -> None: ...

    @abc.abstractmethod
    def unlink(self, pid: Pid | str) -> None: ...

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
    def register(self, name: str, pid: Pid | None = None) -> None: ...

    @abc.abstractmethod
    def lookup(self, name: str) -> Pid: ...

    @abc.abstractmethod
    def unregister(self, name: str) -> bool: ...

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
        """Call function ``func_id`` in this context; cancelled with the caller."""

    @abc.abstractmethod
    def call_async(
        self,
        func_id: str,
        *args: Any,
        timeout: float | None = None,
        context: Mapping[str, Any] | None = None,
        options: Mapping[str, Any] | None = None,
    ) -> Future:
        """Start a call and return a future; it is cancelled when this process exits."""

    # -- hibernation --------------------------------------------------------------

    def hibernate(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Return this from the body to wait for the next message without holding a
        task: ``return ctx.hibernate(fn, *args)`` runs ``fn(ctx, *args)`` on wake-up.
        Only where :attr:`can_hibernate`."""
        raise Error(f"hibernate is not supported in a {self.kind} context", kind=ErrorKind.INVALID)

    # -- time and ids -------------------------------------------------------------

    @abc.abstractmethod
    async def sleep(self, seconds: float) -> None: ...

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
