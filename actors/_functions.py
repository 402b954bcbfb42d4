"""Functions: stateless calls by ID, run in the caller's task and cancel scope.

A function is any Python callable, sync or async, registered under an ID ``ns:name``.
``call`` runs it *in the calling task*: no task is spawned, so cancelling or
terminating the caller cancels the call (trio's cancel scopes do the work), and the
call costs little more than the Python call itself. The callee sees its caller through
:func:`current_context` and the merged context values through :func:`current_values`.

``call_async`` is the one place a call leaves the caller's task: it runs in the node's
system nursery under a cancel scope that the calling process cancels when it exits, and
reports through a :class:`Future` whose channel receives ``(value, error)`` once.

Errors: an unknown ID is ``Error(NOT_FOUND)``; a malformed ID ``Error(INVALID)``; a
timeout :class:`Timeout`; an :class:`Error` raised by the callee crosses unchanged (kind
and retryable flag preserved); any other exception becomes ``Error(INTERNAL)`` with the
Python traceback as its stack.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any

import trio

from ._channel import Channel
from ._context import Context, _current
from ._errors import Error, ErrorKind, Timeout, as_error
from ._future import Future
from ._isolate import isolate, isolate_args

__all__ = ["Function", "FunctionRegistry", "Future", "KernelFuture", "check_function_id"]


def check_function_id(func_id: object) -> str:
    """Validate ``ns:name`` (one colon, both parts non-empty)."""
    if not isinstance(func_id, str) or not func_id:
        raise Error("function ID must be a non-empty 'ns:name' string", kind=ErrorKind.INVALID,
                    retryable=False)
    ns, sep, name = func_id.partition(":")
    if not sep or not ns or not name or ":" in name:
        raise Error(
            f"invalid function ID {func_id!r}: expected 'namespace:name' (e.g. 'app.math:add')",
            kind=ErrorKind.INVALID,
            retryable=False,
        )
    return func_id


class Function:
    """A registered function: the callable, whether it is async, and its metadata."""

    __slots__ = ("fn", "id", "is_async", "meta")

    def __init__(self, func_id: str, fn: Callable[..., Any], meta: Mapping[str, Any]) -> None:
        self.id = func_id
        self.fn = fn
        self.is_async = inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(
            getattr(fn, "__call__", None)  # noqa: B004
        )
        self.meta = dict(meta)


class FunctionRegistry:
    """Function ID → callable. Lookups are plain dict reads."""

    def __init__(self) -> None:
        self._funcs: dict[str, Function] = {}

    def register(
        self, func_id: str, fn: Callable[..., Any], *, meta: Mapping[str, Any] | None = None
    ) -> None:
        check_function_id(func_id)
        if not callable(fn):
            raise Error(
                f"function {func_id!r} must be callable, got {fn!r}", kind=ErrorKind.INVALID
            )
        self._funcs[func_id] = Function(func_id, fn, meta or {})

    def unregister(self, func_id: str) -> bool:
        return self._funcs.pop(func_id, None) is not None

    def get(self, func_id: str) -> Function:
        f = self._funcs.get(func_id)
        if f is None:
            check_function_id(func_id)
            raise Error(
                f"function {func_id!r} is not registered; check the entry ID and that its "
                "YAML entry (function.py / function.lua) was loaded",
                kind=ErrorKind.NOT_FOUND,
                retryable=False,
            )
        return f

    def __contains__(self, func_id: object) -> bool:
        return func_id in self._funcs

    def ids(self) -> list[str]:
        return sorted(self._funcs)

    async def invoke(
        self,
        caller: Context,
        values: Mapping[str, Any],
        func_id: str,
        args: tuple[Any, ...],
        timeout: float | None,
    ) -> Any:
        """Run ``func_id(*args)`` in this task with ``caller`` as the current context."""
        f = self.get(func_id)
        args = isolate_args(args)
        token = _current.set((caller, values))
        try:
            if timeout is None:
                return isolate(await f.fn(*args) if f.is_async else _sync(f, args))
            with trio.fail_after(timeout):
                if f.is_async:
                    return isolate(await f.fn(*args))
                return isolate(_sync(f, args))
        except trio.TooSlowError:
            raise Timeout(f"call to {func_id} timed out after {timeout:g}s") from None
        except Error:
            raise
        except Exception as exc:
            raise as_error(exc) from exc
        finally:
            _current.reset(token)


def _sync(f: Function, args: tuple[Any, ...]) -> Any:
    result = f.fn(*args)
    if inspect.isawaitable(result):
        if inspect.iscoroutine(result):
            result.close()
        raise Error(
            f"function {f.id} returned an awaitable from a sync call; declare it 'async def'",
            kind=ErrorKind.INVALID,
        )
    return result


class KernelFuture(Future):
    """A call running in the node's system nursery under its own cancel scope."""

    __slots__ = ("_scope",)

    channel: Channel

    def __init__(self, func_id: str) -> None:
        super().__init__(func_id, Channel(f"future:{func_id}"))
        self._scope = trio.CancelScope()

    def _abort(self) -> None:
        self._scope.cancel()

    async def _wait(self) -> None:
        await self.channel.wait_readable()
