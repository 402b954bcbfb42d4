"""The local name registry: names for PIDs, released when the owner exits.

Semantics follow Wippy's LOCAL scope (and Erlang's ``register/2``): one name maps to
one PID; registering the same name for the same PID again is a no-op; a name taken by
another PID is ``Error(ALREADY_EXISTS)`` naming the holder; every name a process holds
is released when it exits. Names that look like PIDs are rejected, because ``send``
parses PID-shaped strings before it looks names up.

In a cluster the registry also holds the names of other nodes' processes (the cluster
layer copies them in with :meth:`put` and :meth:`drop`, told nothing), so a name is
unique across the cluster and ``send`` by name is one dict lookup; local changes are
reported to :attr:`NameRegistry.listener`, which tells the other nodes.

Invariant: ``pid in _by_pid`` iff some name maps to ``pid``, and
``_by_name[n] == p`` iff ``n in _by_pid[p]``.
"""

from __future__ import annotations

from typing import Protocol

from ._errors import Error, ErrorKind
from ._pid import Pid


class NameListener(Protocol):
    """Told of every name registered or released through the registry's own methods."""

    def name_claimed(self, name: str, pid: Pid) -> None: ...
    def name_released(self, name: str, pid: Pid) -> None: ...

__all__ = ["NameRegistry"]


class NameRegistry:
    """name → PID, with the reverse index used to release names on exit."""

    __slots__ = ("_by_name", "_by_pid", "listener")

    def __init__(self) -> None:
        self._by_name: dict[str, Pid] = {}
        self._by_pid: dict[Pid, set[str]] = {}
        self.listener: NameListener | None = None

    def register(self, name: str, pid: Pid) -> None:
        if not isinstance(name, str) or not name:
            raise Error("a process name must be a non-empty string", kind=ErrorKind.INVALID)
        if Pid.looks_like(name):
            raise Error(
                f"name {name!r} looks like a PID; choose a name without braces and '|'",
                kind=ErrorKind.INVALID,
            )
        holder = self._by_name.get(name)
        if holder is not None:
            if holder == pid:
                return
            raise Error(
                f"name {name!r} is already registered to {holder}; "
                "unregister it first or pick another name",
                kind=ErrorKind.ALREADY_EXISTS,
                retryable=False,
                details={"pid": str(holder)},
            )
        self.put(name, pid)
        if self.listener is not None:
            self.listener.name_claimed(name, pid)

    def put(self, name: str, pid: Pid) -> None:
        """Map ``name`` to ``pid`` without checks or report (a peer's name)."""
        old = self._by_name.get(name)
        if old is not None:
            self.drop(name, old)
        self._by_name[name] = pid
        self._by_pid.setdefault(pid, set()).add(name)

    def drop(self, name: str, pid: Pid | None = None) -> bool:
        """Remove ``name`` (only while it maps to ``pid``, when given), unreported."""
        holder = self._by_name.get(name)
        if holder is None or (pid is not None and holder != pid):
            return False
        del self._by_name[name]
        names = self._by_pid[holder]
        names.discard(name)
        if not names:
            del self._by_pid[holder]
        return True

    def pids(self) -> list[Pid]:
        """Every PID that holds a name."""
        return list(self._by_pid)

    def names_of(self, pid: Pid) -> list[str]:
        return list(self._by_pid.get(pid, ()))

    def names_held(self, pid: Pid) -> int:
        """How many names ``pid`` holds."""
        return len(self._by_pid.get(pid, ()))

    def lookup(self, name: str) -> Pid | None:
        return self._by_name.get(name)

    def unregister(self, name: str) -> bool:
        pid = self._by_name.get(name)
        if pid is None or not self.drop(name, pid):
            return False
        if self.listener is not None:
            self.listener.name_released(name, pid)
        return True

    def release(self, pid: Pid) -> None:
        """Drop every name ``pid`` holds (called when it exits)."""
        names = self._by_pid.pop(pid, ())
        for name in names:
            del self._by_name[name]
        if names and self.listener is not None:
            for name in names:
                self.listener.name_released(name, pid)

    def __len__(self) -> int:
        return len(self._by_name)

    def __repr__(self) -> str:
        return f"<NameRegistry {len(self._by_name)} names>"
