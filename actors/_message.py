"""What arrives in mailboxes: messages and lifecycle events.

A :class:`Message` is one ``send``: a topic, the sender's PID and a tuple of payload
values. An :class:`Event` is what the kernel itself says about other processes on a
process's events channel: EXIT (to monitors, on every exit), LINK_DOWN (to linked
processes, on abnormal exits only) and CANCEL (a cooperative request to stop).

Both are plain ``__slots__`` objects, built once per delivery: they are on the hot path.
``Event.kind`` values are Wippy's strings (``"pid.exit"`` …), so the Lua bridge hands
them to scripts unchanged.
"""

from __future__ import annotations

import enum
from typing import Any

from ._errors import Error
from ._pid import Pid

__all__ = ["Event", "EventKind", "Message"]


class Message:
    """One message: ``topic``, ``sender`` (a :class:`Pid` or ``None``) and ``payload``.

    Positional patterns match ``topic``, :attr:`data`, ``sender``::

        match await ctx.receive():
            case Message("add", [a, b]): ...
            case Message("stop"): ...
    """

    __slots__ = ("payload", "sender", "topic")
    __match_args__ = ("topic", "data", "sender")

    def __init__(self, topic: str, sender: Pid | None, payload: tuple[Any, ...]) -> None:
        self.topic = topic
        self.sender = sender
        self.payload = payload

    @property
    def data(self) -> Any:
        """The payload as one value: the value itself if one, a list if several, else None."""
        p = self.payload
        if len(p) == 1:
            return p[0]
        if not p:
            return None
        return list(p)

    def __repr__(self) -> str:
        return f"Message(topic={self.topic!r}, sender={self.sender}, payload={self.payload!r})"


class EventKind(enum.StrEnum):
    """Lifecycle event kinds; the values are Wippy's ``process.event.*`` strings."""

    EXIT = "pid.exit"
    LINK_DOWN = "pid.link.down"
    CANCEL = "pid.cancel"

    def __str__(self) -> str:
        return self.value


class Event:
    """A lifecycle event about process ``sender``.

    EXIT and LINK_DOWN carry the exit result: ``value`` on a normal exit, ``error`` (an
    :class:`Error`) on an abnormal one. CANCEL carries ``reason``.

    Positional patterns match ``kind``, ``sender``, ``value``, ``error``:
    ``case Event(EventKind.EXIT, pid, _, None)`` is a normal exit of ``pid``.
    """

    __slots__ = ("error", "kind", "reason", "sender", "value")
    __match_args__ = ("kind", "sender", "value", "error")

    def __init__(
        self,
        kind: EventKind,
        sender: Pid,
        *,
        value: Any = None,
        error: Error | None = None,
        reason: str = "",
    ) -> None:
        self.kind = kind
        self.sender = sender
        self.value = value
        self.error = error
        self.reason = reason

    def __repr__(self) -> str:
        if self.kind is EventKind.CANCEL:
            return f"Event({self.kind.value}, from={self.sender}, reason={self.reason!r})"
        outcome = f"error={self.error!r}" if self.error is not None else f"value={self.value!r}"
        return f"Event({self.kind.value}, from={self.sender}, {outcome})"
