"""Awaiting asyncio-only code from trio: :func:`run_asyncio`.

What it is for
    beamish runs on trio, and a process waits only through trio. Many libraries
    (database drivers, HTTP clients, SDKs) are written for asyncio and need a running
    asyncio loop. ``await run_asyncio(fetch, url)`` runs ``fetch(url)`` as a task on an
    asyncio loop and returns its result (or raises its exception) in the calling trio
    task, which may be a process, a function or plain code under ``trio.run``.

Design chosen
    * **One asyncio loop in a thread of its own per** ``trio.run``, started on the first
      call and stopped when that run ends (a trio system task owns it: system tasks are
      cancelled when the main task returns, and its ``finally`` cancels the loop's
      remaining tasks, stops the loop and joins the thread). No thread outlives the run.
    * Crossings: ``loop.call_soon_threadsafe`` starts the task; its done-callback wakes
      the trio task through ``TrioToken.run_sync_soon``. The trio task parks with
      ``wait_task_rescheduled``, so a waiting call costs no thread of its own.
    * **Cancellation is structured**: cancelling the trio caller cancels the asyncio task
      and waits for it to finish (its ``finally`` blocks and ``except CancelledError``
      handlers run) before ``Cancelled`` reaches the caller. A task that swallows the
      cancellation and returns a value returns it. A task cancelled from the asyncio
      side raises ``Error(CANCELED)`` in the caller.

Alternatives rejected
    * ``trio-asyncio`` (an asyncio loop running on top of trio in the same thread): no
      thread hop, but one more dependency that replaces the thread's asyncio event loop
      policy, and an asyncio library that blocks its loop then stalls every process.
      A separate thread keeps the two schedulers independent; it is the crossing the
      Temporal bridge already uses (temporalio is asyncio-only too).
    * ``trio.to_thread.run_sync(asyncio.run, coro)``: a new loop and a thread per call,
      and clients that cache their loop (connection pools) break between calls.

Invariants
    * Calls from any number of trio tasks share the one loop, so asyncio objects made
      by one call (a client, a pool) can be used by the next.
    * The asyncio loop never runs trio code; values cross by reference (no copy), as
      with any function call.
"""

from __future__ import annotations

import asyncio
import inspect
import threading
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

import outcome
import trio

from ._errors import Error, ErrorKind

__all__ = ["run_asyncio"]

T = TypeVar("T")


class _AsyncioThread:
    """An asyncio loop running forever in a daemon thread until :meth:`stop`."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name="beamish-asyncio", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        loop = self.loop
        asyncio.set_event_loop(loop)
        try:
            loop.run_forever()
            tasks = asyncio.all_tasks(loop)
            for task in tasks:
                task.cancel()
            loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            loop.close()

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join()


_BRIDGE: trio.lowlevel.RunVar[_AsyncioThread] = trio.lowlevel.RunVar("beamish_asyncio")


async def _own(bridge: _AsyncioThread) -> None:
    try:
        await trio.sleep_forever()
    finally:
        bridge.stop()


def _bridge() -> _AsyncioThread:
    try:
        return _BRIDGE.get()
    except LookupError:
        bridge = _AsyncioThread()
        _BRIDGE.set(bridge)
        trio.lowlevel.spawn_system_task(_own, bridge, name="beamish asyncio loop")
        return bridge


async def run_asyncio(
    fn: Callable[..., Awaitable[T]] | Coroutine[Any, Any, T], *args: Any, **kwargs: Any
) -> T:
    """Run ``fn(*args, **kwargs)`` on beamish's asyncio loop and return its result.

    ``fn`` is an async function (or an unstarted coroutine object, then with no
    arguments). It runs as an asyncio task in the loop's thread, so asyncio-only
    libraries work inside it; the calling trio task waits without blocking other
    processes.

    Returns what the coroutine returns. Raises what it raises (the exception object
    itself). When the caller is cancelled (a trio cancel scope, a process terminate),
    the asyncio task is cancelled and awaited before ``trio.Cancelled`` propagates.
    Raises ``Error(CANCELED)`` when the task is cancelled from the asyncio side, and
    ``Error(INVALID)`` when ``fn`` is neither an async function nor a coroutine.
    """
    if inspect.iscoroutine(fn):
        if args or kwargs:
            raise Error("run_asyncio: pass arguments with an async function, not with a "
                        "coroutine object", kind=ErrorKind.INVALID, retryable=False)
        coro: Coroutine[Any, Any, T] = fn
    elif callable(fn):
        coro = _call(fn, args, kwargs)
    else:
        raise Error(f"run_asyncio needs an async function or a coroutine, got "
                    f"{type(fn).__name__}", kind=ErrorKind.INVALID, retryable=False)
    bridge = _bridge()
    loop = bridge.loop
    trio_task = trio.lowlevel.current_task()
    token = trio.lowlevel.current_trio_token()
    started: list[asyncio.Task[T]] = []
    raise_cancel: list[Callable[[], Any]] = []

    def wake(task: asyncio.Task[T]) -> None:
        if task.cancelled():
            if raise_cancel:
                trio.lowlevel.reschedule(trio_task, outcome.capture(raise_cancel[0]))
            else:
                trio.lowlevel.reschedule(trio_task, outcome.Error(Error(
                    "the asyncio task was cancelled on the asyncio side",
                    kind=ErrorKind.CANCELED, retryable=False)))
        else:
            trio.lowlevel.reschedule(trio_task, outcome.capture(task.result))

    def start() -> None:
        task = loop.create_task(coro)
        started.append(task)
        task.add_done_callback(lambda t: token.run_sync_soon(wake, t))

    def abort(cancel: Callable[[], Any]) -> trio.lowlevel.Abort:
        raise_cancel.append(cancel)
        # Runs after start(): call_soon_threadsafe callbacks run in order.
        loop.call_soon_threadsafe(lambda: started[0].cancel())
        return trio.lowlevel.Abort.FAILED  # wake() reschedules once the task is done

    loop.call_soon_threadsafe(start)
    return await trio.lowlevel.wait_task_rescheduled(abort)  # type: ignore[no-any-return]


async def _call(fn: Callable[..., Awaitable[T]], args: tuple[Any, ...],
                kwargs: dict[str, Any]) -> T:
    result = fn(*args, **kwargs)
    if not inspect.isawaitable(result):
        raise Error(f"run_asyncio: {getattr(fn, '__qualname__', fn)!r} is not an async "
                    "function (it returned a non-awaitable value)",
                    kind=ErrorKind.INVALID, retryable=False)
    return await result
