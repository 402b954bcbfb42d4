"""Hosts: the named places processes are spawned on.

A ``process.host`` entry is a named scheduler: ``spawn(id, "app:processes")`` puts the
process there and its PID reads ``{app:processes|0x0000a}``. A host also carries the
resource limits of its processes (:attr:`LocalHost.limits`, a :class:`Limits`, from the
entry's ``limits:`` mapping; see ``_limits.py``): the kernel reads the mailbox and
children quotas from it, the Lua bridge the rest. In beamish every
:class:`LocalHost` shares the node's trio loop (trio already multiplexes thousands of
tasks; separate worker pools buy nothing in one Python thread), so a local host is a
namespace with its own PID counter and statistics.

:class:`Host` is the seam for hosts whose processes do *not* live in the node's
process table — a ``temporal.worker`` host in ``beamish.durable``, whose "processes"
are Temporal workflows. The node keeps local processes in one dict for speed and routes
any operation on a PID it does not hold to ``node.host(pid.host)``; a foreign host
implements the operations below with the same outcomes as the kernel (``send`` to a
finished workflow raises :class:`ProcessNotFound`, EXIT reaches monitors, LINK_DOWN
reaches links on abnormal exit). A foreign host reports exits back with
:meth:`Node.notify_exit`.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ._errors import Error
from ._limits import DEFAULT_LIMITS, Limits
from ._message import Event, Message
from ._pid import Pid

if TYPE_CHECKING:
    from ._node import Node

__all__ = [
    "Host",
    "LocalHost",
    "PendingStart",
    "SpawnRequest",
    "pending_start",
    "set_pending_start",
]

#: ``when(done)``: the caller will be told of the start's outcome: ``done(None)`` when the
#: host accepted it, ``done(error)`` when it refused it (on the trio thread, at once if
#: already known). Calling it *claims* the outcome: a refused start then sends no EXIT.
PendingStart = Callable[[Callable[[Error | None], None]], None]

#: Starts still being confirmed by a foreign host, by PID: see :func:`pending_start`.
_PENDING_STARTS: dict[Pid, PendingStart] = {}


def set_pending_start(pid: Pid, when: PendingStart | None) -> None:
    """For hosts whose ``spawn`` returns before the start is confirmed (a workflow start
    is an RPC): register ``when`` for the spawn of ``pid`` that just returned, or drop
    the registration (``None``) once the outcome is known. The latest spawn wins."""
    if when is None:
        _PENDING_STARTS.pop(pid, None)
    else:
        _PENDING_STARTS[pid] = when


def pending_start(pid: Pid) -> PendingStart | None:
    """How to hear the outcome of the spawn that just returned ``pid`` (a
    :data:`PendingStart`), or ``None`` when that spawn cannot be refused later (every
    local spawn) or its outcome is known already.

    Ask on the trio thread right after ``spawn`` returned (no ``await`` between), and
    call it then. ``Context.spawn`` stays synchronous; yielding callers (``process.spawn``
    in Lua) wait for the outcome to return ``nil, err`` when the host refused the start.
    """
    return _PENDING_STARTS.get(pid)


@dataclass(slots=True)
class SpawnRequest:
    """Everything ``spawn`` was asked to do, handed to the host that starts the process."""

    target: str | Callable[..., Any]
    args: tuple[Any, ...]
    host: str
    name: str | None = None
    messages: Sequence[tuple[str, tuple[Any, ...]]] = ()
    context: Mapping[str, Any] | None = None
    parent: Pid | None = None
    monitor: bool = False
    link: bool = False
    options: Mapping[str, Any] = field(default_factory=dict)
    #: Keyword arguments of the body (local Python bodies only; see ``Context.spawn``).
    kwargs: Mapping[str, Any] | None = None


class Host(abc.ABC):
    """A place processes run. Subclass for hosts outside the node's process table."""

    name: str
    kind: str = "process.host"

    def attach(self, node: Node) -> None:
        """Called once when the host is added to ``node``."""
        self.node = node

    @abc.abstractmethod
    def spawn(self, request: SpawnRequest) -> Pid:
        """Start a process. Monitor/link from ``request.parent`` must be in place before it
        can exit; with ``request.name`` the host applies spawn-or-signal semantics."""

    # Operations on a PID of this host that the node does not hold itself.
    def deliver(self, pid: Pid, message: Message) -> None:
        raise self.node.not_found(pid)

    def deliver_event(self, pid: Pid, event: Event) -> None:
        """Deliver a kernel event to ``pid``; dead targets are ignored."""

    def cancel(self, pid: Pid, reason: str, sender: Pid | None) -> None:
        raise self.node.not_found(pid)

    def terminate(self, pid: Pid) -> None:
        raise self.node.not_found(pid)

    def add_monitor(self, target: Pid, watcher: Pid) -> None:
        raise self.node.not_found(target)

    def remove_monitor(self, target: Pid, watcher: Pid) -> None:
        """Forget a monitor; never fails."""

    def add_link(self, pid: Pid, peer: Pid) -> None:
        raise self.node.not_found(pid)

    def remove_link(self, pid: Pid, peer: Pid) -> None:
        """Forget a link; never fails."""

    def link_exit(self, pid: Pid, peer: Pid, error: Error | None) -> None:
        """``peer`` (linked to ``pid``) exited; dead ``pid`` is ignored."""

    def on_exit(self, pid: Pid, callback: Callable[[Any, Error | None], None]) -> None:
        raise self.node.not_found(pid)

    def is_alive(self, pid: Pid) -> bool:
        return False

    async def aclose(self) -> None:
        """Stop the host's machinery (threads, servers); called at node shutdown."""

    def statistics(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind}

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"


class LocalHost(Host):
    """A named scheduler on the node's trio loop (a ``process.host`` entry)."""

    def __init__(
        self, name: str, *, options: Mapping[str, Any] | None = None, limits: Limits | None = None
    ) -> None:
        self.name = name
        self.options = dict(options or {})
        #: Resource limits of the processes of this host (``process.host`` ``limits:``).
        self.limits = limits if limits is not None else DEFAULT_LIMITS
        self._next_id = 0
        self.spawned = 0
        self.live = 0

    def next_pid(self) -> Pid:
        self._next_id += 1
        return Pid(self.name, f"0x{self._next_id:05x}", self.node.node_name)

    def spawn(self, request: SpawnRequest) -> Pid:
        return self.node._spawn_local(self, request)

    def statistics(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "live": self.live, "spawned": self.spawned}

    def __repr__(self) -> str:
        return f"<LocalHost {self.name} live={self.live}>"
