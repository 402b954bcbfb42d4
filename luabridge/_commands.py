"""The command table: what each Lua module yield means to the driver.

Lua module functions yield ``CMD, op, args...``; the driver looks ``op`` up here and
calls ``handler(driver, tid, *args)`` with the raw Lua arguments. A handler returns:

* a tuple — the task resumes at once with it. The first item is the status: ``0`` and
  the values the Lua function returns, or ``1`` and an error value to *raise* in the
  task (programming errors, as Wippy raises them);
* :data:`BLOCKED` — the handler parked the task on a channel; someone will wake it;
* an :class:`~._channels.LChannel` with a source — a receive that must wait for the
  context: the driver awaits the source itself when the task is alone, else parks it;
* a :class:`DirectAwait` — a wait on the outside world (see ``_driver.py``).

Handlers never let exceptions escape to Lua: the driver turns an :class:`Error` into a
raised Lua error object. Each ``_lib_*`` module registers its handlers with
:func:`command`. This module is the registry only, so handler modules and the driver
do not import each other.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Final

from beamish.actors._errors import Error, ErrorKind

__all__ = [
    "BLOCKED",
    "COMMANDS",
    "HANDLERS",
    "OPCODES",
    "ArgumentError",
    "DirectAwait",
    "command",
    "raises",
]


class ArgumentError(Error):
    """A Lua caller passed a bad argument: raised in the script (Wippy raises these)."""

    kind = ErrorKind.INVALID

    def __init__(self, message: str, **kw: Any) -> None:
        kw.setdefault("retryable", False)
        super().__init__(message, **kw)


def raises(exc: Error) -> bool:
    """Whether ``exc`` is raised in the script rather than returned as ``nil, err``."""
    from ._convert import ConversionError

    return isinstance(exc, ArgumentError | ConversionError)


class _Blocked:
    __slots__ = ()

    def __repr__(self) -> str:
        return "BLOCKED"


#: Returned by a handler that parked its task.
BLOCKED: Final = _Blocked()

Handler = Callable[..., Any]
#: op name -> handler(driver, tid, *lua_args)
COMMANDS: dict[str, Handler] = {}
#: op number -> handler: the prelude's step reports commands by number (a Lua table
#: maps names to numbers, filled by ``install_modules`` from :data:`OPCODES`).
HANDLERS: list[Handler] = []
#: op name -> number
OPCODES: dict[str, int] = {}


def command(name: str) -> Callable[[Handler], Handler]:
    """Register a handler for the Lua command ``name``."""

    def deco(fn: Handler) -> Handler:
        COMMANDS[name] = fn
        code = OPCODES.get(name)
        if code is None:
            OPCODES[name] = len(HANDLERS)
            HANDLERS.append(fn)
        else:
            HANDLERS[code] = fn
        return fn

    return deco


class DirectAwait:
    """A wait on the outside world.

    ``factory()`` returns an awaitable giving the resume tuple (used when the task is
    the only one of its process). ``fallback(driver, tid)`` parks the task on a channel
    instead (returns ``BLOCKED``) or resumes it at once (a tuple); ``None`` means there
    is no such form, so the driver awaits ``factory()`` even with other tasks around.
    """

    __slots__ = ("factory", "fallback")

    def __init__(
        self,
        factory: Callable[[], Awaitable[tuple[Any, ...]]],
        fallback: Callable[[Any, int], Any] | None = None,
    ) -> None:
        self.factory = factory
        self.fallback = fallback
