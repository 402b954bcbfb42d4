"""Process identifiers.

A :class:`Pid` names one process for its whole life and is never reused while the node
runs. The string form is Wippy's, so PIDs can cross into Lua, JSON and Temporal as plain
strings and come back: ``{host|0x0000a}`` on a standalone node, ``{node@host|0x0000a}``
when the node has a name, and ``{client@worker|workflow_id}`` for durable workflows.

Design: a tiny immutable value object with ``__slots__`` and a precomputed hash, because
PIDs are dict keys on every send. Parsing follows Wippy's tolerance: braces and one pipe
are required; if there are two pipes only the text after the last one is the id.

Invariant: ``Pid.parse(str(p)) == p`` for every PID whose parts contain none of ``{}|@``
(host names may contain ``@`` only when a node part is present).
"""

from __future__ import annotations

from typing import Any

from ._errors import Error, ErrorKind

__all__ = ["Pid"]


class Pid:
    """An immutable, hashable process identifier: ``host``, ``id`` and an optional ``node``."""

    __slots__ = ("_hash", "host", "id", "node")

    host: str
    id: str
    node: str
    _hash: int

    def __init__(self, host: str, id: str, node: str = "") -> None:
        object.__setattr__(self, "host", host)
        object.__setattr__(self, "id", id)
        object.__setattr__(self, "node", node)
        object.__setattr__(self, "_hash", hash((node, host, id)))

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("Pid is immutable")

    def __hash__(self) -> int:
        return self._hash

    def __eq__(self, other: object) -> bool:
        if other.__class__ is Pid:
            return (
                self._hash == other._hash  # type: ignore[attr-defined]
                and self.id == other.id  # type: ignore[attr-defined]
                and self.host == other.host  # type: ignore[attr-defined]
                and self.node == other.node  # type: ignore[attr-defined]
            )
        return NotImplemented

    def __str__(self) -> str:
        if self.node:
            return f"{{{self.node}@{self.host}|{self.id}}}"
        return f"{{{self.host}|{self.id}}}"

    def __repr__(self) -> str:
        return f"Pid({self!s})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (Pid, (self.host, self.id, self.node))

    def __copy__(self) -> Pid:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> Pid:
        return self

    @classmethod
    def parse(cls, text: str) -> Pid:
        """Parse ``{host|id}`` or ``{node@host|id}``; raise ``Error(INVALID)`` otherwise."""
        if not isinstance(text, str) or len(text) < 3 or text[0] != "{" or text[-1] != "}":
            raise Error(
                f"invalid PID {text!r}: expected '{{host|id}}' or '{{node@host|id}}'",
                kind=ErrorKind.INVALID,
                retryable=False,
            )
        inner = text[1:-1]
        head, sep, uid = inner.rpartition("|")
        if not sep or not uid:
            raise Error(
                f"invalid PID {text!r}: missing '|' between host and id",
                kind=ErrorKind.INVALID,
                retryable=False,
            )
        head = head.split("|", 1)[0]  # tolerate Wippy's old three-part form
        node, at, host = head.partition("@")
        if not at:
            node, host = "", head
        return cls(host, uid, node)

    @staticmethod
    def looks_like(text: object) -> bool:
        """True when ``text`` is a string in PID form (braces and a pipe)."""
        return isinstance(text, str) and text[:1] == "{" and text[-1:] == "}" and "|" in text
