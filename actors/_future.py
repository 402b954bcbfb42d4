"""Futures: the result of an asynchronous function call, shared by every backend.

``call_async`` returns a :class:`Future` whatever runs the call: a kernel task
(:class:`beamish.actors.KernelFuture`) or a Temporal activity inside a workflow
(``beamish.durable.WorkflowFuture``). This module holds the completion logic they
share and nothing loop-specific, so it imports neither trio nor asyncio: workflow code,
which Temporal's sandbox re-imports, can use it.

Invariant: ``channel`` receives exactly one ``(value, error)`` item, then closes;
``_done`` is set at the same moment and never unset.
"""

from __future__ import annotations

from typing import Any

from ._channel import ChannelLike
from ._errors import Error, ErrorKind

__all__ = ["Future"]


class Future:
    """An asynchronous call. ``channel`` receives ``(value, error)`` once, then closes.

    Outcomes: :meth:`result` returns the value or raises the error, and leaves the
    channel readable; a cancelled future raises ``Error(CANCELED)``. :meth:`cancel` is
    best-effort: a call that already finished keeps its result and ``cancel`` returns
    False.

    This class holds the completion logic every backend shares. A backend subclasses
    it, gives it a channel, and implements :meth:`_abort` (stop the running call) and
    :meth:`_wait` (park until complete without taking from the channel): the kernel's
    is :class:`KernelFuture`, a workflow's runs an activity.
    """

    __slots__ = ("_done", "_error", "_value", "canceled", "channel", "func_id")

    def __init__(self, func_id: str, channel: ChannelLike) -> None:
        self.func_id = func_id
        self.channel = channel
        self._done = False
        self._value: Any = None
        self._error: Error | None = None
        self.canceled = False

    def _abort(self) -> None:
        raise NotImplementedError

    async def _wait(self) -> None:
        raise NotImplementedError

    def _set(self, value: Any, error: Error | None) -> None:
        if self._done:
            return
        self._done = True
        self._value, self._error = value, error
        self.channel.put_nowait((value, error))
        self.channel.close()

    def is_complete(self) -> bool:
        return self._done

    def is_canceled(self) -> bool:
        return self.canceled

    def cancel(self) -> bool:
        if self._done:
            return False
        self.canceled = True
        self._abort()
        self._set(None, Error(f"call to {self.func_id} was canceled", kind=ErrorKind.CANCELED))
        return True

    def error(self) -> Error | None:
        """The call's error once complete (``Error(CANCELED)`` if cancelled), else None."""
        return self._error

    def result_nowait(self) -> tuple[Any, Error | None]:
        """``(value, error)``; ``(None, None)`` while not complete."""
        return self._value, self._error

    async def result(self) -> Any:
        if not self._done:
            await self._wait()
        if self._error is not None:
            raise self._error
        return self._value

    def __repr__(self) -> str:
        state = "canceled" if self.canceled else ("done" if self._done else "pending")
        return f"<{type(self).__name__} {self.func_id} {state}>"
