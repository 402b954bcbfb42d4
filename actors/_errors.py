"""Errors with a kind: the one error type every layer of beamish raises.

Why one base type: callers decide what to do from *what kind* of failure happened
(retry it, report it, give up), never from message text. Wippy's error objects carry a
kind, a message, a retryable flag and details; the Temporal SDK's ``ApplicationError``
carries a ``type`` and ``non_retryable``. :class:`Error` is the meeting point: its
``kind`` crosses the Lua boundary as ``err:kind()`` and Temporal as the error type.

The tree (subclasses only where callers must catch them apart)::

    Error                       kind, message, retryable, details
    ├── ProcessNotFound         NOT_FOUND: a send/link/monitor to a dead PID or unknown name
    ├── Timeout                 TIMEOUT: receive/call/exec ran out of time
    ├── ProcessExit             the error a process exited with (exec re-raises it)
    └── LoadError               INVALID: a registry/YAML/script problem, names file + entry

Messages name the subject (a PID, an entry ID, a file) and say what to do.
"""

from __future__ import annotations

import enum
import traceback
from typing import Any

__all__ = [
    "Error",
    "ErrorKind",
    "LoadError",
    "ProcessExit",
    "ProcessNotFound",
    "Timeout",
    "as_error",
]


class ErrorKind(enum.StrEnum):
    """Wippy's error kinds. The value is the CamelCase string seen on the wire."""

    UNKNOWN = "Unknown"
    INVALID = "Invalid"
    NOT_FOUND = "NotFound"
    ALREADY_EXISTS = "AlreadyExists"
    PERMISSION_DENIED = "PermissionDenied"
    TIMEOUT = "Timeout"
    CANCELED = "Canceled"
    UNAVAILABLE = "Unavailable"
    INTERNAL = "Internal"
    CONFLICT = "Conflict"
    RATE_LIMITED = "RateLimited"

    def __str__(self) -> str:
        return self.value


#: Kinds that are worth retrying when the raiser did not say (Wippy's convention).
RETRYABLE_KINDS = frozenset({ErrorKind.TIMEOUT, ErrorKind.UNAVAILABLE, ErrorKind.RATE_LIMITED})


class Error(Exception):
    """A failure with a kind, a message, a retryable flag and optional details.

    ``retryable`` is ``True``/``False`` when the raiser knows, ``None`` when unknown
    (then :attr:`should_retry` falls back to the kind's convention).
    """

    kind: ErrorKind = ErrorKind.UNKNOWN

    def __init__(
        self,
        message: str,
        *,
        kind: ErrorKind | str | None = None,
        retryable: bool | None = None,
        details: Any = None,
        stack: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if kind is not None:
            self.kind = _coerce_kind(kind)
        self.retryable = retryable
        self.details = details
        self._stack = stack
        self._summary: traceback.StackSummary | None = None

    @property
    def stack(self) -> str | None:
        """The stack trace where the failure happened (Python or Lua), or None.

        A Python traceback is captured cheaply at exit (file, line, function: no frames
        kept alive, no source read) and formatted only when someone asks.
        """
        if self._stack is None and self._summary is not None:
            self._stack = "".join(self._summary.format())
            self._summary = None
        return self._stack

    @stack.setter
    def stack(self, value: str | None) -> None:
        self._stack, self._summary = value, None

    def capture(self, exc: BaseException) -> Error:
        """Remember where ``exc`` was raised and drop its frames; returns self."""
        tb = exc.__traceback__
        if tb is not None and self._stack is None and self._summary is None:
            self._summary = traceback.StackSummary.extract(
                traceback.walk_tb(tb), lookup_lines=False
            )
        exc.__traceback__ = None
        return self

    @property
    def should_retry(self) -> bool:
        """The retryable flag, or the kind's convention when the flag is unknown."""
        if self.retryable is not None:
            return self.retryable
        return self.kind in RETRYABLE_KINDS

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, kind={self.kind.value})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Error):
            return NotImplemented
        return (self.kind, self.message, self.retryable) == (
            other.kind,
            other.message,
            other.retryable,
        )

    def __hash__(self) -> int:
        return hash((self.kind, self.message))

    def to_dict(self) -> dict[str, Any]:
        """Plain-data form, for the wire (msgpack/JSON) and for Lua."""
        return {
            "kind": self.kind.value,
            "message": self.message,
            "retryable": self.retryable,
            "details": self.details,
        }


def _coerce_kind(kind: ErrorKind | str) -> ErrorKind:
    if isinstance(kind, ErrorKind):
        return kind
    try:
        return ErrorKind(kind)
    except ValueError:
        pass
    try:
        return ErrorKind[kind.upper()]
    except KeyError:
        return ErrorKind.UNKNOWN


class ProcessNotFound(Error):
    """The destination PID is not alive, or the name is not registered."""

    kind = ErrorKind.NOT_FOUND

    def __init__(self, message: str, **kw: Any) -> None:
        kw.setdefault("retryable", False)
        super().__init__(message, **kw)


class Timeout(Error):
    """An operation with a timeout did not finish in time."""

    kind = ErrorKind.TIMEOUT

    def __init__(self, message: str, **kw: Any) -> None:
        kw.setdefault("retryable", True)
        super().__init__(message, **kw)


class ProcessExit(Error):
    """Raised by ``exec`` when the child exited with an error; wraps that error."""

    def __init__(self, pid: Any, error: Error) -> None:
        super().__init__(
            f"process {pid} exited with error: {error.message}",
            kind=error.kind,
            retryable=error.retryable,
            details=error.details,
            stack=error.stack,
        )
        self.pid = pid
        self.error = error


class LoadError(Error):
    """The app could not be loaded: names the file and entry and says what to fix."""

    kind = ErrorKind.INVALID

    def __init__(self, message: str, **kw: Any) -> None:
        kw.setdefault("retryable", False)
        super().__init__(message, **kw)


def as_error(exc: BaseException) -> Error:
    """Turn any exception into an :class:`Error` (kind INTERNAL for foreign ones).

    The traceback is kept as a cheap summary (see :attr:`Error.stack`) and the frames
    are released, so an exit error held by a monitor or supervisor does not keep the
    dead process's locals alive.
    """
    if isinstance(exc, Error):
        return exc.capture(exc)
    err = Error(
        f"{type(exc).__name__}: {exc}",
        kind=ErrorKind.INTERNAL,
        details={"type": type(exc).__name__},
    )
    return err.capture(exc)
