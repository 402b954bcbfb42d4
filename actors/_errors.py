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

Two kinds of stack, kept apart because scripts are untrusted: a *script stack* (a Lua
traceback, with chunk names relative to the app, or any stack passed as ``stack=``) and
a *host traceback* (a Python traceback captured by :meth:`Error.capture`, full of
absolute host paths: site-packages, the project, the app). :attr:`Error.stack` is either,
for Python-side readers and logs; :attr:`Error.script_stack` and :meth:`Error.for_script`
never show a host traceback, and are what may cross into a Lua script.
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
        #: True when the stack is a Python traceback (host paths), see :meth:`capture`.
        self._host_stack = False

    @property
    def stack(self) -> str | None:
        """The stack trace where the failure happened (Python or Lua), or None.

        A Python traceback is captured cheaply at exit (file, line, function: no frames
        kept alive, no source read) and formatted only when someone asks. It names host
        files: show it to operators, never to scripts (use :attr:`script_stack`).
        """
        if self._stack is None and self._summary is not None:
            self._stack = "".join(self._summary.format())
            self._summary = None
        return self._stack

    @stack.setter
    def stack(self, value: str | None) -> None:
        """Set a script stack (e.g. a Lua traceback); it replaces any host traceback."""
        self._stack, self._summary, self._host_stack = value, None, False

    @property
    def has_host_stack(self) -> bool:
        """Whether :attr:`stack` is a Python traceback captured on the host."""
        return self._host_stack

    @property
    def script_stack(self) -> str | None:
        """The stack an untrusted script may read: the script stack, or ``None`` when the
        stack is a host traceback (it would show host file paths)."""
        return None if self._host_stack else self._stack

    def for_script(self, origin: str | None = None) -> Error:
        """This error as an untrusted script may see it.

        ``self`` when its stack is already a script stack (or there is none); otherwise a
        plain :class:`Error` with the same kind, message, retryable flag and details whose
        stack is ``origin`` (e.g. the ID of the Python function that failed) or ``None``.
        The host traceback stays on ``self`` for logs.
        """
        if not self._host_stack:
            return self
        return Error(
            self.message,
            kind=self.kind,
            retryable=self.retryable,
            details=self.details,
            stack=origin,
        )

    def capture(self, exc: BaseException) -> Error:
        """Remember where ``exc`` was raised (a host traceback) and drop its frames;
        returns self. An error that already has a stack keeps it."""
        tb = exc.__traceback__
        if tb is not None and self._stack is None and self._summary is None:
            self._summary = traceback.StackSummary.extract(
                traceback.walk_tb(tb), lookup_lines=False
            )
            self._host_stack = True
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
        )
        # The child's stack, still lazy, and whether it is a host traceback.
        self._stack, self._summary = error._stack, error._summary
        self._host_stack = error._host_stack
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
