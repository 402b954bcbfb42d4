"""The trio <-> asyncio bridge: one asyncio loop in a dedicated thread.

What it is for
    temporalio is asyncio-only; the beamish kernel is trio. The Temporal ``Client`` and
    ``Worker`` live on *one* asyncio loop in a thread of their own (``Worker(...)`` must
    even be constructed on it: it calls ``asyncio.get_running_loop()``). Kernel code
    reaches that loop with :meth:`AsyncioBridge.run`; activities running on the loop reach
    the kernel with :meth:`AsyncioBridge.to_trio` / :meth:`AsyncioBridge.to_trio_sync`.

Design chosen (measured: ~45 us per crossing)
    * trio -> asyncio: the coroutine is started as an asyncio task with
      ``loop.call_soon_threadsafe``; the trio task parks
      (``wait_task_rescheduled``) and the task's done-callback wakes it with
      ``TrioToken.run_sync_soon(trio.lowlevel.reschedule, task, outcome)``.
    * asyncio -> trio: ``TrioToken.run_sync_soon`` starts a task in the bridge's kernel
      nursery; its outcome is posted back with ``loop.call_soon_threadsafe``. Neither
      side ever blocks its loop waiting for the other.
    * Cancellation crosses both ways and is *confirmed*: cancelling the trio caller of
      :meth:`run` cancels the asyncio task and the caller waits until that task has
      finished, so a cancelled call leaves nothing running behind it. If the task
      completed anyway (it ignored or outran the cancel), its outcome is returned as
      trio's abort-failed rule says, and the caller's cancel scope raises at its next
      checkpoint: a result that exists is never thrown away.
      Cancelling the asyncio caller of :meth:`to_trio` cancels the trio task's scope and
      waits for it likewise.

Alternatives rejected
    * ``trio.from_thread.run`` on the asyncio thread: blocks the whole loop (and with it
      every workflow and activity of the worker) for the duration of the trio call.
    * trio-asyncio: needs ``workflow_task_executor=TrioExecutor()``, measured slower and
      fragile under temporalio.
    * ``asyncio.run_coroutine_threadsafe`` alone: its ``concurrent.futures.Future``
      reports CANCELLED the moment cancel is *requested*, losing the confirmation above.

Invariants
    * One loop, one thread per bridge; the loop runs only between ``open()`` and its exit.
    * The kernel nursery outlives the loop: on exit the loop is stopped first (its tasks
      cancelled, so their pending ``to_trio`` calls are cancelled too), then the nursery.
    * After close, every crossing raises :class:`~beamish.actors.Error` (kind
      UNAVAILABLE) instead of hanging.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import outcome
import trio

from beamish.actors import Error, ErrorKind

__all__ = ["AsyncioBridge"]

T = TypeVar("T")

#: Bound on how long closing waits for leftover asyncio tasks to finish cancelling.
_CLOSE_TIMEOUT = 10.0


class _Cancelled:
    """Outcome marker: the asyncio task ended cancelled."""


def _closed_error(what: str) -> Error:
    return Error(
        f"the Temporal bridge is closed: cannot {what}; the durable layer was shut down",
        kind=ErrorKind.UNAVAILABLE,
        retryable=False,
    )


class AsyncioBridge:
    """An asyncio event loop in its own thread, bridged to the current trio run.

    Open it from trio (it needs the trio token and a nursery)::

        async with AsyncioBridge.open() as bridge:
            client = await bridge.run(Client.connect, address)

    Closing stops the loop (cancelling tasks still on it, bounded by
    ``_CLOSE_TIMEOUT``), joins the thread and closes the loop: no thread survives.
    """

    def __init__(self, name: str = "beamish-temporal") -> None:
        self.name = name
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._trio_token: trio.lowlevel.TrioToken | None = None
        self._nursery: trio.Nursery | None = None
        self._closed = False
        self._stats_to_asyncio = 0
        self._stats_to_trio = 0

    # ------------------------------------------------------------------ lifecycle

    @classmethod
    @contextlib.asynccontextmanager
    async def open(cls, name: str = "beamish-temporal") -> AsyncIterator[AsyncioBridge]:
        """Run a bridge for the duration of the ``async with`` block (own nursery)."""
        bridge = cls(name)
        async with trio.open_nursery() as nursery:
            await bridge.start(nursery)
            try:
                yield bridge
            finally:
                with trio.CancelScope(shield=True):
                    await bridge.aclose()
                nursery.cancel_scope.cancel()

    async def start(self, nursery: trio.Nursery) -> None:
        """Start the loop thread; kernel tasks for :meth:`to_trio` run in ``nursery``.

        ``nursery`` must outlive the bridge (call :meth:`aclose` before it closes).
        """
        if self._thread is not None:
            raise Error(
                f"the Temporal bridge {self.name!r} was already started",
                kind=ErrorKind.INVALID,
                retryable=False,
            )
        self._trio_token = trio.lowlevel.current_trio_token()
        self._nursery = nursery
        await self._start_thread()

    async def aclose(self) -> None:
        """Stop the loop (cancelling leftover tasks, bounded) and join the thread.

        Idempotent; safe before start.
        """
        await self._stop_thread()

    async def _start_thread(self) -> None:
        ready = trio.Event()
        token = self._trio_token
        assert token is not None
        started_error: list[BaseException] = []

        def thread_main() -> None:
            loop = asyncio.new_event_loop()
            try:
                asyncio.set_event_loop(loop)
                self._loop = loop
            except BaseException as e:  # pragma: no cover - defensive
                started_error.append(e)
                token.run_sync_soon(ready.set)
                loop.close()
                return
            loop.call_soon(token.run_sync_soon, ready.set)
            try:
                loop.run_forever()
            finally:
                _shutdown_loop(loop)

        self._thread = threading.Thread(target=thread_main, name=self.name, daemon=True)
        self._thread.start()
        await ready.wait()
        if started_error:  # pragma: no cover - defensive
            raise started_error[0]

    async def _stop_thread(self) -> None:
        self._closed = True
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        with contextlib.suppress(RuntimeError):  # loop already closed
            loop.call_soon_threadsafe(loop.stop)
        await trio.to_thread.run_sync(thread.join)

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None or self._closed:
            raise _closed_error("reach its asyncio loop")
        return self._loop

    @property
    def thread(self) -> threading.Thread | None:
        return self._thread

    def __repr__(self) -> str:
        state = "closed" if self._closed else ("open" if self._loop else "new")
        return (
            f"<AsyncioBridge {self.name} {state} to_asyncio={self._stats_to_asyncio} "
            f"to_trio={self._stats_to_trio}>"
        )

    # ------------------------------------------------------------------ trio -> asyncio

    async def run(self, fn: Callable[..., Awaitable[T]], *args: Any) -> T:
        """From trio: run ``await fn(*args)`` on the asyncio loop and return its result.

        The coroutine is created *on the loop*, so it may call
        ``asyncio.get_running_loop()`` at once. Exceptions propagate unchanged.
        Cancellation of the trio caller cancels the asyncio task and waits for it.
        """
        if self._closed or self._loop is None:
            raise _closed_error(f"run {getattr(fn, '__qualname__', fn)!r}")
        loop = self._loop
        token = self._trio_token
        assert token is not None
        trio_task = trio.lowlevel.current_task()
        holder: dict[str, asyncio.Task[Any]] = {}
        self._stats_to_asyncio += 1

        def wake(atask: asyncio.Task[Any]) -> None:
            if atask.cancelled():
                result: outcome.Outcome[Any] = outcome.Value(_Cancelled)
            else:
                exc = atask.exception()
                result = outcome.Error(exc) if exc is not None else outcome.Value(atask.result())
            try:
                token.run_sync_soon(trio.lowlevel.reschedule, trio_task, result)
            except trio.RunFinishedError:  # pragma: no cover - trio already gone
                pass

        def start() -> None:  # on the loop
            try:
                atask = loop.create_task(fn(*args))  # type: ignore[arg-type,var-annotated]
            except BaseException as e:
                token.run_sync_soon(trio.lowlevel.reschedule, trio_task, outcome.Error(e))
                return
            holder["task"] = atask
            atask.add_done_callback(wake)

        def abort(_raise_cancel: Any) -> trio.lowlevel.Abort:
            def cancel() -> None:
                atask = holder.get("task")
                if atask is not None:
                    atask.cancel()

            try:
                loop.call_soon_threadsafe(cancel)
            except RuntimeError:  # pragma: no cover - loop closed under us
                return trio.lowlevel.Abort.SUCCEEDED
            return trio.lowlevel.Abort.FAILED  # wait for the task to confirm

        try:
            loop.call_soon_threadsafe(start)
        except RuntimeError as e:  # loop closed between the check and here
            raise _closed_error("start a call") from e
        value = await trio.lowlevel.wait_task_rescheduled(abort)
        if value is _Cancelled:
            await trio.lowlevel.checkpoint()  # raises Cancelled if we were cancelled
            raise Error(
                f"the asyncio call {getattr(fn, '__qualname__', fn)!r} was cancelled on the "
                "Temporal loop (the bridge is shutting down)",
                kind=ErrorKind.CANCELED,
                retryable=False,
            )
        return value  # type: ignore[no-any-return]

    def submit(self, fn: Callable[..., Awaitable[Any]], *args: Any) -> None:
        """From any thread: start ``fn(*args)`` on the loop without waiting (fire and forget).

        Exceptions are reported by asyncio's exception handler. Starts are FIFO.
        """
        if self._closed or self._loop is None:
            raise _closed_error(f"submit {getattr(fn, '__qualname__', fn)!r}")
        loop = self._loop
        self._stats_to_asyncio += 1

        def start() -> None:
            loop.create_task(fn(*args))  # type: ignore[arg-type]

        try:
            loop.call_soon_threadsafe(start)
        except RuntimeError as e:
            raise _closed_error("submit a call") from e

    def call_soon(self, fn: Callable[..., Any], *args: Any) -> None:
        """From any thread: run the plain callable ``fn(*args)`` on the loop, FIFO."""
        if self._closed or self._loop is None:
            raise _closed_error(f"call {getattr(fn, '__qualname__', fn)!r}")
        try:
            self._loop.call_soon_threadsafe(fn, *args)
        except RuntimeError as e:
            raise _closed_error("call on the loop") from e

    # ------------------------------------------------------------------ asyncio -> trio

    def trio_soon(self, fn: Callable[..., Any], *args: Any) -> None:
        """From any thread: run the plain callable ``fn(*args)`` on the trio thread,
        without waiting (FIFO with other ``trio_soon`` calls). Dropped silently once
        the trio run has finished (nobody is left to be told)."""
        token = self._trio_token
        if token is None:
            raise _closed_error(f"call {getattr(fn, '__qualname__', fn)!r} in the kernel")
        with contextlib.suppress(trio.RunFinishedError):
            token.run_sync_soon(fn, *args)

    async def to_trio(self, fn: Callable[..., Awaitable[T]], *args: Any) -> T:
        """From the asyncio loop: run ``await fn(*args)`` as a task in the kernel nursery.

        Exceptions propagate unchanged. Cancelling the asyncio caller cancels the trio
        task's scope and waits for it to finish, then raises ``CancelledError``.
        """
        if self._closed:
            raise _closed_error(f"call {getattr(fn, '__qualname__', fn)!r} in the kernel")
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[Any] = loop.create_future()
        token = self._trio_token
        nursery = self._nursery
        assert token is not None and nursery is not None
        scope_box: dict[str, Any] = {}
        self._stats_to_trio += 1

        def post(result: outcome.Outcome[Any]) -> None:
            def set_it() -> None:
                if fut.done():
                    return
                if isinstance(result, outcome.Error):
                    fut.set_exception(result.error)
                else:
                    fut.set_result(result.value)  # type: ignore[attr-defined]

            with contextlib.suppress(RuntimeError):  # loop closed: nobody waits any more
                loop.call_soon_threadsafe(set_it)

        async def runner() -> None:
            with trio.CancelScope() as scope:
                scope_box["scope"] = scope
                if scope_box.get("cancel"):
                    scope.cancel()
                try:
                    value = await fn(*args)
                except trio.Cancelled:
                    post(outcome.Error(asyncio.CancelledError()))
                    raise
                except BaseException as e:  # everything else goes back to the caller
                    post(outcome.Error(e))
                    return
                post(outcome.Value(value))
                return
            post(outcome.Error(asyncio.CancelledError()))  # our own scope caught it

        def spawn() -> None:  # on the trio thread
            try:
                nursery.start_soon(runner)
            except RuntimeError:  # nursery closed
                post(outcome.Error(_closed_error("start a kernel task")))

        def cancel_trio() -> None:  # on the trio thread
            scope = scope_box.get("scope")
            if scope is not None:
                scope.cancel()
            else:
                scope_box["cancel"] = True

        try:
            token.run_sync_soon(spawn)
        except trio.RunFinishedError as e:
            raise _closed_error("call into the finished kernel") from e
        try:
            return await asyncio.shield(fut)
        except asyncio.CancelledError:
            if not fut.done():
                with contextlib.suppress(trio.RunFinishedError):
                    token.run_sync_soon(cancel_trio)
                with contextlib.suppress(BaseException):
                    await asyncio.shield(fut)  # confirm: the trio side has finished
            raise

    async def to_trio_sync(self, fn: Callable[..., T], *args: Any) -> T:
        """From the asyncio loop: run the plain callable ``fn(*args)`` on the trio thread.

        For synchronous kernel operations (``send``, ``lookup``): no task, one hop each
        way. Not cancellable once scheduled (it never blocks).
        """
        if self._closed:
            raise _closed_error(f"call {getattr(fn, '__qualname__', fn)!r} in the kernel")
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[Any] = loop.create_future()
        token = self._trio_token
        assert token is not None
        self._stats_to_trio += 1

        def run_it() -> None:
            result = outcome.capture(fn, *args)

            def set_it() -> None:
                if not fut.done():
                    if isinstance(result, outcome.Error):
                        fut.set_exception(result.error)
                    else:
                        fut.set_result(result.value)

            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(set_it)

        try:
            token.run_sync_soon(run_it)
        except trio.RunFinishedError as e:
            raise _closed_error("call into the finished kernel") from e
        return await fut  # type: ignore[no-any-return]


def _shutdown_loop(loop: asyncio.AbstractEventLoop) -> None:
    """Cancel what is left on the loop (bounded), then close it. Runs on the loop thread."""
    try:
        pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
        for t in pending:
            t.cancel()
        if pending:
            loop.run_until_complete(
                asyncio.wait(pending, timeout=_CLOSE_TIMEOUT)  # type: ignore[arg-type]
            )
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.run_until_complete(loop.shutdown_default_executor())
    finally:
        asyncio.set_event_loop(None)
        loop.close()
