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
:func:`command`. This module is the registry, and the contract between handlers and
the driver: :class:`LuaProcess` is what a handler sees of the ``driver`` it gets. So
handler modules and the driver never import each other (not even for types): the
driver builds on the handlers, the handlers on this contract.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, Final, Protocol

from beamish.actors import Context, Error, ErrorKind, Event, Future, Pid

from ._channels import LChannel, TaskOwner
from ._convert import ConversionError

if TYPE_CHECKING:
    from ._runtime import Sandbox

__all__ = [
    "BLOCKED",
    "COMMANDS",
    "HANDLERS",
    "OPCODES",
    "ArgumentError",
    "DirectAwait",
    "LuaProcess",
    "command",
    "raises",
]


class LuaProcess(TaskOwner, Protocol):
    """What a command handler (and a module callback) sees of the Lua process it serves:
    the driver (``_driver.Driver``), through this contract only.

    Its sandbox and its :class:`~beamish.actors.Context` (every effect goes through the
    context), the per-process state handlers keep, and the task operations they need;
    plus what a channel needs of its owner (:class:`~._channels.TaskOwner`).
    """

    #: The sandbox the process's tasks run in.
    sb: Sandbox
    #: The context every effect goes through (kernel process, workflow, function frame).
    ctx: Context
    #: Per-process objects handed to Lua once (events, listen channels, timer slots...).
    cache: dict[Any, Any] | None
    #: Futures of the process's ``funcs.async`` calls (``limits.calls``).
    calls: list[Future] | None
    #: The inbox as a channel, once a task needed one.
    inbox: LChannel | None

    @property
    def values(self) -> Mapping[str, Any]:
        """The context values the Lua code runs with (``ctx.get``)."""

    def add_task(self, tid: int) -> None:
        """Queue a ``coroutine.spawn``-ed task."""

    def park_on(self, ch: LChannel) -> None:
        """Remember that a task parked on ``ch`` needs its source read."""

    def inbox_channel(self) -> LChannel:
        """The process's inbox as a channel (made on first need)."""

    def wait_exit(self, pid: Pid, tid: int, events: LChannel,
                  resume_of: Callable[[Event], tuple[Any, ...]]) -> None:
        """Park task ``tid`` until ``pid``'s EXIT event; resume it with ``resume_of``."""

    def perform(self, op: int | str, tid: int, args: tuple[Any, ...]) -> Any:
        """Run the handler of command ``op`` for task ``tid`` (errors as ``(1, err)``)."""


class ArgumentError(Error):
    """A Lua caller passed a bad argument: raised in the script (Wippy raises these)."""

    kind = ErrorKind.INVALID

    def __init__(self, message: str, **kw: Any) -> None:
        kw.setdefault("retryable", False)
        super().__init__(message, **kw)


def raises(exc: Error) -> bool:
    """Whether ``exc`` is raised in the script rather than returned as ``nil, err``."""
    return isinstance(exc, ArgumentError | ConversionError)


class _Blocked:
    __slots__ = ()

    def __repr__(self) -> str:
        return "BLOCKED"


#: Returned by a handler that parked its task.
BLOCKED: Final = _Blocked()

#: ``handler(driver, tid, *lua_args)``: what it returns is listed in the module docstring.
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
        fallback: Callable[[LuaProcess, int], Any] | None = None,
    ) -> None:
        self.factory = factory
        self.fallback = fallback
