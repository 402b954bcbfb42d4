"""The driver: runs a Lua entry as a process body (or a function call) against a Context.

What it is for: the issue's one idea (``ARCHITECTURE.md``) — a process body talks only
to its context. A Lua process is a set of Lua coroutines ("tasks": the main one running
the entry's ``method``, plus any ``coroutine.spawn``-ed ones) in the host's shared
:class:`~beamish.luabridge.Sandbox`. The driver resumes a task; the task runs until a
module function *yields a command* (``send``, ``ch_recv``, ``call``, ``sleep``...); the
driver performs it through the context and resumes the task with the answer. So the
same driver runs under the kernel (trio) and inside a Temporal workflow (asyncio): it
imports neither, and every wait is ``await`` on a context method or a context channel.

Scheduling (Wippy's engine, ``wippy-internals.md`` §1.5): a FIFO ready queue of tasks,
non-preemptive; every :data:`FAIR_STEPS` resumes in a row the driver checkpoints
(``ctx.sleep(0)``) and feeds parked tasks from their sources, so tasks that keep
yielding to each other starve neither other processes nor their own siblings. A task
keeps the processor while its commands complete at once (a send, a buffered channel op,
``process.pid()``...). A task that cannot proceed parks on an
:class:`~._channels.LChannel`. When no task is ready the driver waits for the outside
world: one ``await`` on the context channels that parked tasks need (``ctx.select`` over
several, ``ch.receive`` for one), delivers the item, and runs again.

Blocking calls that are not channels (``funcs.call``, ``process.exec``, ``time.sleep``)
come back from their command handler as a :class:`DirectAwait`. When the task is the
only one in its process the driver simply awaits it (the fast path: no extra channel,
and in a workflow exactly one Temporal command); otherwise the handler's channel-based
fallback is used so the other tasks keep running (``call`` becomes ``call_async`` + its
future channel, ``sleep`` an ``after`` channel). ``exec`` has no fallback: the context
offers no asynchronous exec, so it blocks the other tasks of its process while it waits.

Outcomes:

* The process ends when the main task returns. Its first value is the result; a second
  value that is a string or an error object makes it an error exit (``return nil, err``;
  ``return 42, false`` is a success). Other tasks are dropped.
* A Lua error in any task, an exhausted instruction budget or the memory cap ends the
  process with an :class:`~beamish.actors.Error` (kind and retryable kept, Lua stack in
  ``stack``).
* All tasks parked on channels nothing can feed: ``Error(INTERNAL)`` "deadlock".
* Cancellation (terminate, a linked failure, shutdown) arrives as the backend's
  cancellation at an ``await``; the driver drops its tasks and lets it propagate.

Invariants: ``Sandbox.current`` is this driver exactly while one of its tasks runs;
``live`` counts the tasks from creation until they return or fail; a parked task is in
no ready queue.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from beamish.actors import WouldBlock
from beamish.actors._errors import Error, ErrorKind, as_error

from ._channels import LChannel, Waiter
from ._commands import BLOCKED, COMMANDS, HANDLERS
from ._runtime import LuaMemoryError, Sandbox

__all__ = ["FAIR_STEPS", "Driver", "result_of"]

#: Resumes in a row after which the driver checkpoints (see Driver._checkpoint).
FAIR_STEPS = 64


class Driver:
    """Runs the tasks of one Lua process (see the module docstring)."""

    __slots__ = (
        "P",
        "cache",
        "ctx",
        "inbox",
        "kind",
        "live",
        "main_tid",
        "ready",
        "reuse",
        "sb",
        "values",
        "watch",
    )

    def __init__(
        self,
        sb: Sandbox,
        ctx: Any,
        P: Any,
        *,
        values: Mapping[str, Any] | None = None,
        kind: str = "process",
        reuse: bool = False,
    ) -> None:
        self.sb = sb
        #: A pooled function worker: the caller ends the call (``Sandbox.end_call``).
        self.reuse = reuse
        self.ctx = ctx
        self.P = P
        self.values = values if values is not None else getattr(ctx, "values", None) or {}
        self.kind = kind
        # Memory per idle process matters (10k idle Lua processes): a list, not a
        # deque (624 B empty); a task count, not a set; the dicts on first use.
        #: Tasks to resume, FIFO: (tid, resume values).
        self.ready: list[tuple[int, tuple[Any, ...]]] = []
        #: Number of tasks alive (created, not yet returned or failed).
        self.live = 0
        self.main_tid = 0
        #: Source channels with parked receivers (insertion-ordered: select priority).
        self.watch: dict[LChannel, None] | None = None
        #: Per-process objects handed to Lua once (events, listen channels...).
        self.cache: dict[Any, Any] | None = None
        #: The Lua inbox channel, once asked for (the common case, without a dict).
        self.inbox: Any = None

    def __repr__(self) -> str:
        return f"<Driver {getattr(self.ctx, 'pid', '?')} tasks={self.live}>"

    # -- tasks ----------------------------------------------------------------------------

    def start_main(self, method: str, args: tuple[Any, ...]) -> None:
        tid = self.sb.start_entry(self.P, method, args)
        self.main_tid = tid
        self.live += 1
        self.ready.append((tid, ()))

    def call_worker(self, tid: int | None, method: str, args: tuple[Any, ...]) -> int:
        """Run one call on a function worker's task (created when ``tid`` is None)."""
        if tid is None:
            tid = self.sb.start_worker(self.P, method, args)
            resume: tuple[Any, ...] = ()
        else:
            resume = self.sb.call_args(method, args)
        self.main_tid = tid
        self.live += 1
        self.ready.append((tid, resume))
        return tid

    def start_call(self, fn: Any, args: tuple[Any, ...]) -> None:
        tid = self.sb.start_function(self.P, fn, args)
        self.main_tid = tid
        self.live += 1
        self.ready.append((tid, ()))

    def add_task(self, tid: int) -> None:
        """A ``coroutine.spawn``-ed task: queued behind the ready ones."""
        self.live += 1
        self.ready.append((tid, ()))

    def wake(self, tid: int, resume: tuple[Any, ...]) -> None:
        self.ready.append((tid, resume))

    def park_on(self, ch: LChannel) -> None:
        """Remember that a parked task needs ``ch``'s source (the wait loop reads it)."""
        if ch.source is not None:
            if self.watch is None:
                self.watch = {}
            self.watch[ch] = None

    def send_on_closed_error(self) -> Any:
        return self.sb.convert.error_to_lua(
            Error("send on closed channel", kind=ErrorKind.INVALID, retryable=False)
        )

    # -- the loop -------------------------------------------------------------------------

    async def run(self, *, result: bool = False) -> Any:
        """Run until the main task returns; its raw Lua return values, or with
        ``result=True`` its result under the return convention (:func:`result_of`).

        (One coroutine for the whole process: a process body may return
        ``driver.run(result=True)`` itself, saving a frame per idle process.)
        """
        sb = self.sb
        P = self.P
        lstep = sb._step
        ready = self.ready
        handlers = HANDLERS
        steps = 0
        try:
            while True:
                while ready:
                    tid, resume = ready.pop(0)
                    while True:
                        steps += 1
                        if steps >= FAIR_STEPS:  # resumes in a row without a wait
                            steps = 0
                            await self._checkpoint()
                            if ready:  # round robin: the others go first now
                                ready.append((tid, resume))
                                break
                        # No restore needed: whoever steps a task of this sandbox next
                        # sets it first, and nothing steps a task inside a step.
                        sb.current = self
                        try:
                            r = lstep(P, tid, *resume)
                        except LuaMemoryError as exc:
                            r = ("M", str(exc))
                        if type(r) is int:  # 3: a bare coroutine.yield(): requeue
                            ready.append((tid, ()))
                            break
                        tag = r[0]
                        if tag == 1:
                            op = r[1]
                            try:
                                if type(op) is int:
                                    out = handlers[op](self, tid, *r[2:])
                                else:
                                    out = self._perform(COMMANDS.get(op), op, tid, r[2:])
                            except Error as exc:
                                out = (1, sb.convert.error_to_lua(exc))
                            except Exception as exc:  # never leak Python objects to Lua
                                out = (1, sb.convert.error_to_lua(as_error(exc)))
                            if type(out) is tuple:
                                resume = out
                                continue
                            if out is BLOCKED:
                                break
                            if type(out) is LChannel:  # a receive from a context channel
                                if self.live == 1 and not ready:
                                    src = out.source
                                    del r  # nothing from the last step kept while idle
                                    resume = out.resume_from_source(await src.receive())
                                    steps = 0
                                    continue
                                out = self._park_receive(out, tid)
                                if out is BLOCKED:
                                    break
                                resume = out
                                continue
                            if (self.live == 1 and not ready) or out.fallback is None:
                                resume = await out.factory()
                                continue
                            out = out.fallback(self, tid)
                            if out is BLOCKED:
                                break
                            resume = out
                            continue
                        if tag == 3:
                            ready.append((tid, ()))
                            break
                        if tag == 2:
                            self.live -= 1
                            if tid == self.main_tid:
                                if result:
                                    return result_of(sb, r[2:])
                                return r[2:]
                            break
                        raise sb.step_failure(P, r)
                await self._wait()
        finally:
            if not self.reuse:
                sb.kill(P)

    async def _checkpoint(self) -> None:
        """Let other processes run, then hand parked tasks what their sources hold.

        Without it, tasks that keep requeueing (``coroutine.yield()``, ``time.sleep(0)``)
        would hold the thread and starve both other processes and their own siblings
        waiting on the inbox or a timer (the wait loop runs only when nothing is ready).
        """
        await self.ctx.sleep(0)
        for ch in list(self.watch or ()):
            while ch.source is not None and ch.has_receivers():
                try:
                    item = ch.source.receive_nowait()
                except WouldBlock:
                    break
                ch.deliver(item)

    def _park_receive(self, ch: LChannel, tid: int) -> Any:
        r = ch.try_receive()
        if r is not None:
            return (0, *r)
        ch.park_receiver(Waiter(self, tid))
        self.park_on(ch)
        return BLOCKED

    def _perform(self, handler: Callable[..., Any] | None, op: Any, tid: int,
                 args: tuple[Any, ...]) -> Any:
        if handler is None:
            return (1, self.sb.convert.error_to_lua(Error(
                f"unknown Lua bridge command {op!r}", kind=ErrorKind.INTERNAL)))
        try:
            return handler(self, tid, *args)
        except Error as exc:
            return (1, self.sb.convert.error_to_lua(exc))
        except Exception as exc:  # a bug in a handler must not leak Python objects to Lua
            return (1, self.sb.convert.error_to_lua(as_error(exc)))

    async def _wait(self) -> None:
        chans: list[LChannel] = []
        watch = self.watch or {}
        for ch in list(watch):
            if ch.source is not None and ch.has_receivers():
                chans.append(ch)
            else:
                del watch[ch]
        if not chans:
            raise Error(
                "deadlock: every coroutine of this Lua process is blocked on a channel "
                "that nothing can send to",
                kind=ErrorKind.INTERNAL,
                retryable=False,
            )
        if len(chans) == 1:
            ch = chans[0]
            src = ch.source
            item = await src.receive()
            if ch.source is src:
                ch.deliver(item)
            return
        sources = [c.source for c in chans]
        got = await self.ctx.select(sources)
        if got is None:  # pragma: no cover - no timeout given
            return
        src, item = got
        for c in chans:
            if c.source is src:
                c.deliver(item)
                return


def result_of(sb: Sandbox, values: tuple[Any, ...]) -> Any:
    """Apply the return convention to a main task's raw values (raise on error)."""
    if not values:
        return None
    if len(values) > 1:
        err = values[1]
        if isinstance(err, str):
            raise Error(err, kind=ErrorKind.UNKNOWN)
        if err is not None and sb.is_error(err):
            e = sb.from_lua(err)
            raise e
    return sb.from_lua(values[0])


Awaitable_ = Awaitable  # re-exported name for type checkers of handler modules
