"""The local name registry: names for PIDs, released when the owner exits.

Semantics follow Wippy's LOCAL scope (and Erlang's ``register/2``): one name maps to
one PID; registering the same name for the same PID again is a no-op; a name taken by
another PID is ``Error(ALREADY_EXISTS)`` naming the holder; every name a process holds
is released when it exits. Names that look like PIDs are rejected, because ``send``
parses PID-shaped strings before it looks names up.

Invariant: ``pid in _by_pid`` iff some name maps to ``pid``, and
``_by_name[n] == p`` iff ``n in _by_pid[p]``.
"""

from __future__ import annotations

from ._errors import Error, ErrorKind
from ._pid import Pid

__all__ = ["NameRegistry"]


class NameRegistry:
    """name → PID, with the reverse index used to release names on exit."""

    __slots__ = ("_by_name", "_by_pid")

    def __init__(self) -> None:
        self._by_name: dict[str, Pid] = {}
        self._by_pid: dict[Pid, set[str]] = {}

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
        self._by_name[name] = pid
        self._by_pid.setdefault(pid, set()).add(name)

    def names_held(self, pid: Pid) -> int:
        """How many names ``pid`` holds."""
        return len(self._by_pid.get(pid, ()))

    def lookup(self, name: str) -> Pid | None:
        return self._by_name.get(name)

    def unregister(self, name: str) -> bool:
        pid = self._by_name.pop(name, None)
        if pid is None:
            return False
        names = self._by_pid[pid]
        names.discard(name)
        if not names:
            del self._by_pid[pid]
        return True

    def release(self, pid: Pid) -> None:
        """Drop every name ``pid`` holds (called when it exits)."""
        for name in self._by_pid.pop(pid, ()):
            del self._by_name[name]

    def __len__(self) -> int:
        return len(self._by_name)

    def __repr__(self) -> str:
        return f"<NameRegistry {len(self._by_name)} names>"
