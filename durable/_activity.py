"""Activities: every kernel function is an activity named by its function ID.

What it is for
    Inside a workflow ``ctx.call("app.math:add", 1, 2)`` schedules an activity of type
    ``app.math:add``. One *dynamic* activity serves them all: it reads the type from
    ``activity.info().activity_type`` and calls that function in the kernel, with the
    context values the workflow sent in the ``wippy-context`` header. Three more
    (local) activities let a workflow reach ordinary processes exactly once:
    ``@beamish.send``, ``@beamish.cancel``, ``@beamish.terminate``.

Design chosen
    * The dispatcher knows nothing of trio: it talks to a :class:`KernelPort`, whose
      implementation (in ``_host.py``) crosses the bridge. So the dispatcher is testable
      with any port and the activity code never blocks the asyncio loop.
    * Errors keep their kind: an :class:`~beamish.actors.Error` from the function becomes
      an ``ApplicationError`` with ``type`` = kind and ``non_retryable`` = not retryable;
      anything else is kind INTERNAL. Temporal's retry policy then reads the kind.
    * When the activity has a heartbeat timeout, the dispatcher heartbeats at a third of
      it while the function runs, so Temporal can deliver cancellation (an async
      activity learns of cancellation only through heartbeats); cancellation then
      crosses the bridge and cancels the function in the kernel.
    * ``allowed`` (optional) restricts which function IDs may run as activities on this
      worker (Wippy registers only entries with ``meta.temporal.activity.worker``). A
      refused or unregistered ID fails with kind NOT_FOUND, *retryable*, as Wippy maps
      Temporal's "activity not registered" (a worker that serves it may come up); the
      activity's retry policy bounds the attempts.
    * A result too large for Temporal (``_convert.MAX_PAYLOAD_BYTES``) or not JSON data
      fails the activity with kind INVALID, non-retryable, instead of a later gRPC error.

Invariant: the local-op activities never raise for a dead target (that is not the
workflow's failure); they return ``False`` instead, recorded in history.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any, Protocol

import temporalio.activity as activity
import temporalio.common

from beamish.actors import Error, ErrorKind, as_error

from ._context import CANCEL_ACTIVITY, SEND_ACTIVITY, TERMINATE_ACTIVITY
from ._convert import check_size, to_failure, to_wire
from ._interceptors import activity_values

__all__ = ["ActivityDispatcher", "KernelPort"]


class KernelPort(Protocol):
    """What activities need from the kernel; every method runs on the asyncio loop."""

    async def call(self, func_id: str, args: Sequence[Any], values: Mapping[str, Any]) -> Any:
        """Call function ``func_id``; raise its :class:`Error`."""

    async def send(self, dest: str, topic: str, payload: Sequence[Any], sender: str) -> bool:
        """Kernel send; False if ``dest`` is not alive."""

    async def cancel(self, dest: str, reason: str, sender: str) -> bool: ...

    async def terminate(self, dest: str) -> bool: ...


class ActivityDispatcher:
    """Builds the worker's activities over a :class:`KernelPort`."""

    def __init__(self, port: KernelPort, *, allowed: Collection[str] | None = None) -> None:
        self.port = port
        self.allowed = frozenset(allowed) if allowed is not None else None
        self.calls = 0  # statistics: activities dispatched

    def activities(self) -> list[Callable[..., Any]]:
        port = self.port

        @activity.defn(dynamic=True)
        async def dispatch(args: Sequence[temporalio.common.RawValue]) -> Any:
            func_id = activity.info().activity_type
            if self.allowed is not None and func_id not in self.allowed:
                raise to_failure(
                    Error(
                        f"function {func_id!r} is not an activity of this worker; give its "
                        "entry meta.temporal.activity.worker",
                        kind=ErrorKind.NOT_FOUND,
                        retryable=True,
                    )
                )
            if not _registered(port, func_id):
                raise to_failure(
                    Error(
                        f"activity {func_id!r} is not registered on this worker: no function "
                        "of that ID is loaded; check the entry ID and that its entry loaded",
                        kind=ErrorKind.NOT_FOUND,
                        retryable=True,
                    )
                )
            conv = activity.payload_converter()
            values = [conv.from_payload(a.payload) for a in args]
            self.calls += 1
            try:
                result = to_wire(
                    await _with_heartbeat(port.call(func_id, values, activity_values.get())),
                    f"the result of activity {func_id}",
                )
                check_size([result], f"the result of activity {func_id}")
                return result
            except asyncio.CancelledError:
                raise
            except Exception as e:
                raise to_failure(_kind_or_internal(e)) from None

        @activity.defn(name=SEND_ACTIVITY)
        async def send(dest: str, topic: str, payload: list[Any], sender: str) -> bool:
            return await port.send(dest, topic, payload, sender)

        @activity.defn(name=CANCEL_ACTIVITY)
        async def cancel(dest: str, reason: str, sender: str) -> bool:
            return await port.cancel(dest, reason, sender)

        @activity.defn(name=TERMINATE_ACTIVITY)
        async def terminate(dest: str, reason: str, sender: str) -> bool:
            return await port.terminate(dest)

        return [dispatch, send, cancel, terminate]


def _kind_or_internal(exc: Exception) -> Exception:
    """An activity failure without a kind (a Lua ``error("…")``, a Python exception) is
    INTERNAL, as in Wippy, whose failure converter types a kindless root error
    ``Internal``; errors with a kind keep it."""
    error = as_error(exc)
    if error.kind is ErrorKind.UNKNOWN:
        return Error(error.message, kind=ErrorKind.INTERNAL, retryable=error.retryable,
                     details=error.details, stack=error.stack)
    return exc


def _registered(port: KernelPort, func_id: str) -> bool:
    """Whether ``func_id`` is a loaded function, when the port can tell (a port over a
    node can; others are trusted and report through ``call``)."""
    node = getattr(port, "node", None)
    functions = getattr(node, "functions", None)
    return functions is None or func_id in functions


async def _with_heartbeat(coro: Any) -> Any:
    """Await ``coro``; heartbeat meanwhile if the activity has a heartbeat timeout."""
    timeout = activity.info().heartbeat_timeout
    if not timeout:
        return await coro
    interval = max(timeout.total_seconds() / 3, 0.05)

    async def beat() -> None:
        while True:
            activity.heartbeat()
            await asyncio.sleep(interval)

    beater = asyncio.get_running_loop().create_task(beat())
    try:
        return await coro
    finally:
        beater.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await beater
