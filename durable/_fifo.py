"""Per-destination FIFO of asynchronous operations on one asyncio loop.

What it is for
    Both sides of the durable layer promise the kernel's ordering rule — what one
    sender sends to one destination arrives in the order it was sent — over Temporal
    calls that are asynchronous and may each take a round trip. The workflow context
    (signals, cancels and local sends issued by a workflow body, on the workflow's
    deterministic loop) and the ``temporal.worker`` host (starts, signals, cancels and
    terminates issued by kernel processes, on the bridge loop) both queue every such
    operation here under its destination's key. Operations to different keys run
    concurrently.

Design chosen
    One asyncio task per operation, which first waits for the task queued before it
    under the same key; the map keeps only the *last* task per key, so a key costs
    nothing once its chain has drained. Chaining tasks (rather than one consumer task
    per key) keeps the idle cost zero and needs no shutdown; inside a workflow every
    step is an ordinary task of the deterministic loop, so replay re-creates the same
    order.

Invariants
    * ``_last[key]``, when present, is the most recent *barrier* queued for ``key``; it
      is removed once it is done (if nothing newer replaced it).
    * An operation starts only after every barrier queued before it for the same key is
      done, whether that barrier succeeded or failed: a failed operation is reported to
      ``on_error`` (or, unreported, is its task's result) and never stops the chain.
    * A non-barrier operation (an exit watcher that waits for the start before it) waits
      like the others but nothing waits for it.
    * Every running task is referenced (``_tasks``) until it ends, so none is collected
      mid-flight.

Trio-free: it runs inside workflows.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

__all__ = ["FifoChains"]


class FifoChains:
    """Operations queued per key, each run after the previous one for its key.

    ``on_error(what, exc)`` is called (on the loop) for an operation that raised;
    ``what`` is the description given with it. Cancellation is never reported.
    """

    __slots__ = ("_last", "_on_error", "_tasks")

    def __init__(self, on_error: Callable[[str, Exception], None]) -> None:
        self._on_error = on_error
        self._last: dict[str, asyncio.Future[Any]] = {}
        self._tasks: set[asyncio.Future[Any]] = set()

    def run_after(
        self,
        key: str,
        op: Callable[[], Awaitable[Any]],
        what: str,
        *,
        barrier: bool = True,
        report: bool = True,
    ) -> asyncio.Task[Exception | None]:
        """Queue ``op()`` for ``key`` behind everything queued for it so far; its task,
        whose result is the exception ``op`` raised (``None`` if it succeeded).

        Call on the loop that runs the operations. ``barrier=False``: ``op`` waits for
        the earlier operations, but later ones do not wait for it. ``report=False``: a
        failure is not passed to ``on_error``; the caller reads it from the task.
        """
        prev = self._last.get(key)

        async def run() -> Exception | None:
            if prev is not None and not prev.done():
                await asyncio.wait((prev,))
            try:
                await op()
            except asyncio.CancelledError:
                raise
            except Exception as e:  # an undeliverable operation is not the sender's failure
                if report:
                    self._on_error(what, e)
                return e
            return None

        task = asyncio.get_running_loop().create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        if barrier:
            self._push(key, task)
        return task

    def hold(self, key: str) -> asyncio.Future[None]:
        """A gate for ``key`` that the caller opens (``set_result(None)``) when ready:
        operations queued for ``key`` after this call wait for it (and for whatever was
        queued before it). A child workflow's start-up messages use it: they must
        follow its start, which completes later."""
        gate: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        prev = self._last.get(key)
        if prev is None or prev.done():
            self._push(key, gate)
        else:  # behind earlier operations: a barrier that waits for them, then the gate
            self.run_after(key, lambda: gate, f"hold {key}")
        return gate

    def pending(self) -> list[asyncio.Future[Any]]:
        """The last barrier of every key that has not finished yet."""
        return [f for f in self._last.values() if not f.done()]

    def __len__(self) -> int:
        """Keys with a chain that has not drained."""
        return len(self._last)

    def _push(self, key: str, fut: asyncio.Future[Any]) -> None:
        self._last[key] = fut

        def forget(f: asyncio.Future[Any]) -> None:
            if self._last.get(key) is f:
                del self._last[key]

        fut.add_done_callback(forget)

    def __repr__(self) -> str:
        return f"<FifoChains keys={len(self._last)} running={len(self._tasks)}>"
