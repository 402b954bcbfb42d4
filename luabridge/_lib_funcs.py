"""The ``funcs`` Lua module (``require("funcs")``): calling functions by entry ID.

Wippy's documented API:

=====================================  ====================================================
``funcs.call(id, ...)``                ``result`` | ``nil, err``; runs in the caller's
                                       context (values inherited, cancelled with it)
``funcs.async(id, ...)``               a Future (``nil, err`` if the ID is unknown)
``funcs.new()``                        an immutable Executor
``ex:with_context(t)``                 merged over the caller's values (explicit wins)
``ex:with_options(t)``                 ``{timeout = ms}``; other keys pass to the context
``ex:with_actor(a)``/``with_scope(s)``  the callee's security actor / scope (carried,
                                       not enforced: :mod:`._lib_security`)
``ex:call(id, ...)``/``ex:async(...)``  as above with the executor's settings
=====================================  ====================================================

Future: ``f:response()`` / ``f:channel()`` -> a channel that yields one payload
(``:data()``) and then closes; ``f:is_complete()``, ``f:is_canceled()``; ``f:result()``
-> ``nil, nil`` while running, ``payload, nil`` when done, ``nil, err`` on failure or
cancel (kind CANCELED); ``f:error()`` -> ``err, true`` | ``nil, false``;
``f:cancel()`` -> ``true`` | ``false, err`` (best effort).

Both Lua and Python functions are reachable: the context's function registry holds
both, and values cross with the converter's rules.

Errors a call returns to Lua go through :func:`_script_error`: a Python traceback (host
paths: site-packages, the project, the app) never reaches the script; ``err:stack()``
then reads ``[python]: in function '<id>'``. The full traceback stays on the Python
side (``Error.stack``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from beamish.actors import Error, ErrorKind, Future, check_function_id

from ._channels import LChannel, Waiter
from ._commands import BLOCKED, DirectAwait, LuaProcess, command
from ._lib_security import child_security
from ._lua_sources import HostLua

if TYPE_CHECKING:
    from ._runtime import Sandbox

__all__ = ["FUNCS_LUA"]

#: Privileged Lua, ``lua/funcs.lua``: called with (core); returns the module table.
FUNCS_LUA = HostLua("beamish.luabridge", "funcs.lua")


class _FutureRef:
    """What Lua holds for a future: the context's future and its channel (lazily)."""

    __slots__ = ("channel", "future")

    def __init__(self, future: Future) -> None:
        self.future = future
        #: The wrapped Lua channel of ``f:channel()``, made on first use.
        self.channel: Any = None


def _call_settings(drv: LuaProcess, ex: Any) -> dict[str, Any]:
    kw: dict[str, Any] = {}
    if ex is None:
        return kw
    spec = drv.sb.from_lua(ex)
    if not isinstance(spec, dict):
        return kw
    # The caller's own actor/scope reach the callee through its values; an executor's
    # with_actor/with_scope replace them.
    context = child_security(drv.values, spec.get("context"), spec)
    if context:
        kw["context"] = context
    options = dict(spec.get("options") or {})
    timeout = options.pop("timeout", None)
    if timeout is not None:
        if not isinstance(timeout, int | float) or timeout <= 0:
            raise Error("option 'timeout' must be a positive number of milliseconds",
                        kind=ErrorKind.INVALID)
        kw["timeout"] = timeout / 1000.0
    if options:
        kw["options"] = options
    return kw


def _script_error(sb: Sandbox, exc: Error, func_id: Any = None) -> Any:
    """The Lua error object for ``exc``, without its host traceback (if it has one)."""
    origin = f"[python]: in function '{func_id}'" if isinstance(func_id, str) else None
    return sb.convert.error_to_lua(exc.for_script(origin))


def _nil_err(drv: LuaProcess, exc: Error, func_id: Any = None) -> tuple[Any, ...]:
    return (0, None, _script_error(drv.sb, exc, func_id))


@command("call")
def _call(drv: LuaProcess, tid: int, ex: Any, func_id: Any = None, *args: Any) -> Any:
    sb = drv.sb
    try:
        func_id = check_function_id(func_id)  # the kernel's rule: INVALID as nil, err
        kw = _call_settings(drv, ex)
        payload = tuple(sb.from_lua(a) for a in args)
    except Error as exc:
        return _nil_err(drv, exc)
    ctx = drv.ctx

    async def direct() -> tuple[Any, ...]:
        try:
            value = await ctx.call(func_id, *payload, **kw)
        except Error as exc:
            return _nil_err(drv, exc, func_id)
        return (0, sb.to_lua(value))

    def via_future(drv_: LuaProcess, tid_: int) -> Any:
        try:
            fut = ctx.call_async(func_id, *payload, **kw)
        except Error as exc:
            return _nil_err(drv, exc, func_id)

        def adapt(item: Any) -> tuple[Any, ...]:
            value, error = item
            if error is not None:
                return (None, _script_error(sb, error, func_id))
            return (sb.to_lua(value),)

        ch = LChannel(source=fut.channel, adapt=adapt, kind=f"call:{func_id}")
        ch.park_receiver(Waiter(drv, tid_))
        drv.park_on(ch)
        return BLOCKED

    return DirectAwait(direct, via_future)


@command("call_async")
def _call_async(drv: LuaProcess, tid: int, ex: Any, func_id: Any = None, *args: Any) -> Any:
    sb = drv.sb
    try:
        func_id = check_function_id(func_id)
        kw = _call_settings(drv, ex)
        payload = tuple(sb.from_lua(a) for a in args)
        pending = _calls_room(drv)
        fut = drv.ctx.call_async(func_id, *payload, **kw)
    except Error as exc:
        return _nil_err(drv, exc, func_id)
    pending.append(fut)
    return (0, _FutureRef(fut))


def _calls_room(drv: LuaProcess) -> list[Future]:
    """The process's in-flight async calls, with room for one more (``limits.calls``)."""
    pending = drv.calls
    if pending is None:
        pending = drv.calls = []
    limit = drv.sb.limits.calls
    if len(pending) >= limit:
        pending[:] = [f for f in pending if not f.is_complete()]
        if len(pending) >= limit:
            raise Error(
                f"cannot start a call: this process already has {len(pending)} calls in "
                f"flight (limits.calls of its host is {limit}); wait for some to complete, "
                "or raise the limit", kind=ErrorKind.RATE_LIMITED, retryable=True,
                details={"limit": "calls", "value": limit})
    return pending


def _ref(h: Any) -> _FutureRef:
    if type(h) is not _FutureRef:
        raise Error("future expected", kind=ErrorKind.INVALID)
    return h


@command("future_channel")
def _future_channel(drv: LuaProcess, tid: int, h: Any) -> tuple[Any, ...]:
    ref = _ref(h)
    if ref.channel is None:
        sb = drv.sb
        new_payload = sb.lib.new_payload
        func_id = ref.future.func_id

        def adapt(item: Any) -> tuple[Any, ...]:
            value, error = item
            if error is not None:  # the error value itself, as Wippy's future channel
                return (_script_error(sb, error, func_id), True)
            return (new_payload(sb.to_lua(value)), True)

        lch = LChannel(1, source=ref.future.channel, adapt=adapt, kind="future")
        ref.channel = sb.lib.wrap_channel(lch)
    return (0, ref.channel)


@command("future_state")
def _future_state(drv: LuaProcess, tid: int, h: Any, which: Any) -> tuple[Any, ...]:
    fut = _ref(h).future
    if which == "canceled":
        return (0, bool(fut.is_canceled()))
    return (0, bool(fut.is_complete()))


@command("future_result")
def _future_result(drv: LuaProcess, tid: int, h: Any) -> tuple[Any, ...]:
    fut = _ref(h).future
    if not fut.is_complete():
        return (0, False, None, None)
    value, error = fut.result_nowait()
    if error is not None:
        return (0, True, None, _script_error(drv.sb, error, fut.func_id))
    return (0, True, drv.sb.to_lua(value), None)


@command("future_cancel")
def _future_cancel(drv: LuaProcess, tid: int, h: Any) -> tuple[Any, ...]:
    fut = _ref(h).future
    if fut.cancel():
        return (0, True)
    return (0, False, drv.sb.convert.error_to_lua(
        Error("the call already finished", kind=ErrorKind.INVALID, retryable=False)))
