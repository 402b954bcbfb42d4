"""The server behaviour: OTP's ``gen_server`` as a Python class.

A server is a process that keeps a state and answers requests. Writing its loop by
hand (receive, dispatch on the topic, remember to reply, handle CANCEL) is the same
forty lines every time and easy to get subtly wrong; OTP folds it into a behaviour and
so does beamish. Subclass :class:`Server`, override the callbacks you need, and spawn
the class itself::

    class Counter(Server):
        async def init(self, start=0):
            return start                       # the initial state

        async def handle_call(self, request, call, state):
            if request == "get":
                return state, state            # (reply, new state)
            if request == "incr":
                return state + 1, state + 1
            raise ValueError(request)          # crashes the server, as in OTP

        async def handle_cast(self, request, state):
            return 0 if request == "reset" else state

    pid = ctx.spawn(Counter, 10)
    await ctx.ask(pid, "incr")                 # 11
    ctx.cast(pid, "reset")

Contract (the runtime keeps the state; ``self`` holds only what ``init`` puts there and
:attr:`Server.ctx`):

* ``init(*args) -> state`` runs first, in the new process. Raising stops the process
  with that error before any request is handled. Return :class:`Stop` to exit at once.
* ``handle_call(request, call, state)`` returns ``(reply, new_state)``;
  :class:`NoReply` ``(new_state)`` to answer later with ``call.reply(value)`` (from
  this or any process); or :class:`Stop` (with ``reply=`` to answer first). To give
  the caller an error and keep running, ``call.fail(error)`` and return
  ``NoReply(state)``. An exception crashes the server: the caller gets
  :class:`~beamish.ProcessExit`, supervisors restart it.
* ``handle_cast(request, state)`` and ``handle_info(message, state)`` return the new
  state or :class:`Stop`. ``handle_info`` gets every other inbox :class:`Message` and
  every :class:`Event` except CANCEL (EXIT from monitors, LINK_DOWN when
  ``self.ctx.trap_links``).
* CANCEL (a cooperative stop: supervisor shutdown, ``ctx.cancel``) ends the loop;
  :meth:`Server.terminate` then runs with ``reason=None``. After :class:`Stop` it runs
  with ``None``; after a crash with the :class:`Error`, then the crash goes on. A
  forced ``terminate`` stops the process without it (the process has no say then).
* Callbacks may be ``async def`` or plain ``def``.

The process's exit value is :attr:`Stop.value` (``None`` after CANCEL).
"""

from __future__ import annotations

import inspect
import types
from typing import Any, Generic, TypeVar

from beamish.actors import (
    CALL_TOPIC,
    CAST_TOPIC,
    CLOSED,
    Call,
    Context,
    Error,
    ErrorKind,
    Event,
    EventKind,
    Message,
    as_error,
)

__all__ = ["NoReply", "Server", "Stop"]

S = TypeVar("S")


class NoReply:
    """From ``handle_call``: keep ``state``; the call is answered later (``call.reply``)."""

    __slots__ = ("state",)
    __match_args__ = ("state",)

    def __init__(self, state: Any) -> None:
        self.state = state


_NO_REPLY: Any = object()


class Stop:
    """From any callback: stop the server normally with exit ``value``.

    From ``handle_call``, ``reply=`` answers the call first (else the caller gets
    :class:`~beamish.ProcessExit`, the server having exited without replying).
    """

    __slots__ = ("reply", "value")

    def __init__(self, value: Any = None, *, reply: Any = _NO_REPLY) -> None:
        self.value = value
        self.reply = reply


async def _run(fn: Any, *args: Any, **kwargs: Any) -> Any:
    result = fn(*args, **kwargs)
    if inspect.isawaitable(result):
        result = await result
    return result


_Coroutine = types.CoroutineType


class Server(Generic[S]):
    """Base class of server behaviours; see the module docstring for the contract.

    Spawn the class (``ctx.spawn(MyServer, *init_args)``, ``node.spawn``, a
    :class:`ChildSpec`'s ``start``, or ``handler: "mod:MyServer"`` of a ``process.py``
    entry); the runtime makes one instance per process.
    """

    #: The process's context, set before :meth:`init` runs.
    ctx: Context

    async def init(self, *args: Any) -> S:
        """Return the initial state. Default: the first argument, or ``None``."""
        return args[0] if args else None  # type: ignore[return-value]

    async def handle_call(self, request: Any, call: Call, state: S) -> Any:
        """Answer ``request``. Default: fail the call with ``Error(INVALID)``."""
        call.fail(
            Error(
                f"{type(self).__name__} does not handle calls (got {request!r}): "
                "define handle_call",
                kind=ErrorKind.INVALID,
                retryable=False,
            )
        )
        return NoReply(state)

    async def handle_cast(self, request: Any, state: S) -> Any:
        """Handle a cast. Default: ignore it."""
        return state

    async def handle_info(self, message: Message | Event, state: S) -> Any:
        """Handle any other message or event. Default: ignore it."""
        return state

    async def terminate(self, reason: Error | None, state: S) -> None:
        """Clean up before the process exits (see the module docstring for when)."""

    # -- the loop -------------------------------------------------------------------

    @classmethod
    async def __beamish_body__(cls, ctx: Context, *args: Any, **kwargs: Any) -> Any:
        """The process body the runtime spawns for this class (spawn arguments and
        ``kwargs`` go to :meth:`init`)."""
        self = cls()
        self.ctx = ctx
        state = await _run(self.init, *args, **kwargs)
        if isinstance(state, Stop):
            return state.value
        inbox, events = ctx.inbox(), ctx.events()
        channels = [events, inbox]  # a CANCEL first: see select's tie rule
        handle_call, handle_cast, handle_info = self.handle_call, self.handle_cast, self.handle_info
        try:
            while True:
                picked = await ctx.select(channels)
                assert picked is not None
                ch, item = picked
                if item is CLOSED:  # pragma: no cover - mailbox channels do not close
                    continue
                if ch is inbox:
                    topic = item.topic
                    if topic == CALL_TOPIC:
                        result = handle_call(item.payload[0], item, state)
                        if type(result) is _Coroutine:
                            result = await result
                        if type(result) is tuple and len(result) == 2:
                            item.reply(result[0])
                            state = result[1]
                            continue
                        if isinstance(result, NoReply):
                            state = result.state
                            continue
                        if isinstance(result, Stop):
                            if result.reply is not _NO_REPLY:
                                item.reply(result.reply)
                            await _run(self.terminate, None, state)
                            return result.value
                        raise _bad_return(cls, "handle_call", result)
                    if topic == CAST_TOPIC:
                        result = handle_cast(item.payload[0], state)
                        if type(result) is _Coroutine:
                            result = await result
                    else:
                        result = handle_info(item, state)
                        if type(result) is _Coroutine:
                            result = await result
                elif item.kind is EventKind.CANCEL:
                    await _run(self.terminate, None, state)
                    return None
                else:
                    result = handle_info(item, state)
                    if type(result) is _Coroutine:
                        result = await result
                if isinstance(result, Stop):
                    await _run(self.terminate, None, state)
                    return result.value
                state = result
        except Exception as exc:
            await _run(self.terminate, as_error(exc), state)
            raise


def _bad_return(cls: type, callback: str, result: Any) -> Error:
    return Error(
        f"{cls.__name__}.{callback} returned {result!r}: return (reply, new_state), "
        "NoReply(state) or Stop(...)",
        kind=ErrorKind.INVALID,
        retryable=False,
    )
