"""The driver: runs a Lua entry as a process body (or a function call) against a Context.

What it is for: beamish's one key abstraction — a process body talks only to its
context. A Lua process is a set of Lua coroutines ("tasks": the main one running
the entry's ``method``, plus any ``coroutine.spawn``-ed ones) in the host's shared
:class:`~beamish.luabridge.Sandbox`. The driver resumes a task; the task runs until a
module function *yields a command* (``send``, ``ch_recv``, ``call``, ``sleep``...); the
driver performs it through the context and resumes the task with the answer. So the
same driver runs under the kernel (trio) and inside a Temporal workflow (asyncio): it
imports neither, and every wait is ``await`` on a context method or a context channel.

Scheduling (as in Wippy's engine): a FIFO ready queue of tasks,
non-preemptive; every :data:`FAIR_STEPS` resumes in a row the driver checkpoints
(``ctx.sleep(0)``) and feeds parked tasks from their sources, so tasks that keep
yielding to each other starve neither other processes nor their own siblings. A task
keeps the processor while its commands complete at once (a send, a buffered channel op,
``process.pid()``...). A task that cannot proceed parks on an
:class:`~._channels.LChannel`. When no task is ready the driver waits for the outside
world: one ``await`` on the context channels that parked tasks need (``ctx.select`` over
several, ``ch.receive`` for one), delivers the item, and runs again.

Idle memory (10k idle Lua processes are the target case): a lone task receiving from a
context channel is not parked at all — the driver awaits that channel itself inside
:meth:`Driver.run` (the one coroutine frame of the process). For the inbox there is not
even a channel object: ``process.inbox()`` is one handle for all processes
(``_channels.INBOX``), resolved to an :class:`~._channels.LChannel` only when a second
task, a ``select`` or a ``close`` needs one. Per idle process (measured, 10k processes
in ``inbox:receive()``): the Lua coroutine ~1.2 KB, its Lua tables/closures ~0.45 KB, and
in Python this object (~130 B), the ``run`` frame (~310 B), ``P``'s handle and the ready
list (~120 B), on top of the kernel process. With hibernation (below) the ``run``
frame, the trio task and its cancel scope are gone too: ~3.5 KB per idle Lua process
in all (``benchmarks``, ``lua_memory``), against ~5.7 KB without.

Hibernation (kernel processes only: :attr:`Driver.hib`, set by
``LuaScripts.process_body`` when ``ctx.can_hibernate``; never in workflows, functions or
:func:`~._scripts.run_lua_process`): when every task of the process waits only on kernel
mailbox channels (the inbox, the events, listened topics; :func:`is_mailbox`) with no
timer, future, exec or internal-channel wait among them, ``run`` returns
``ctx.hibernate(_wake, self)``. The trio task, its frames and its cancel scope are freed
(~2.2 KB per idle process); the Lua coroutines stay in the sandbox and this object keeps
what they wait for (:attr:`Driver.parked`). The next delivery runs ``run(woken=True)``
on the same state: :meth:`Driver._woken` hands the parked task(s) what arrived. If what
woke the process is something no task waits for (an unread CANCEL), it turns warm
(below) and waits in the task: hibernating again would be woken at once by that item,
in a loop.
Timers and futures never wake a hibernating process, hence the "mailbox only" rule.
Ping-pong partners must not pay a task start per message: a process woken less than
:data:`HIBERNATE_IDLE` after it hibernated turns *warm* and waits in its task until one
wait lasts that long (Erlang's ``hibernate_after`` in spirit, with no timer: a warm
process that then stays idle forever keeps its task).

Blocking calls that are not channels (``funcs.call``, ``process.exec``, ``time.sleep``)
come back from their command handler as a :class:`DirectAwait`. When the task is the
only one in its process the driver simply awaits it (the fast path: no extra channel,
and in a workflow exactly one Temporal command); otherwise the handler's channel-based
fallback is used so the other tasks keep running (``call`` becomes ``call_async`` + its
future channel, ``sleep`` an ``after`` channel).

``exec`` with siblings (:meth:`Driver.wait_exit`): the context has no asynchronous exec,
so the handler spawns the child *monitored* and parks the task until the child's EXIT
event arrives on the context's events channel (in a workflow every child's EXIT arrives
there anyway). That channel is shared with the script's ``process.events()``, so while
execs may be pending the driver reads it through an :class:`ExitRouter`: EXITs of
awaited children wake their task and never reach the script; every other event is kept,
in order, for the script's events channel. The wait loop reads the real events channel
whenever an exec is pending, even if no task receives from ``process.events()``.

The loop, one idea per method: :meth:`Driver.run` schedules (the ready queue, what
to do with each task's outcome, the idle wait, hibernation); :meth:`Driver._resume`
resumes one task until it yields; :meth:`Driver.perform` dispatches the command it
yielded to its handler; a lone task's receive from a context channel is one branch of
``run`` (it must wait in ``run``'s own frame) over :meth:`Driver._receive_nowait`,
:meth:`Driver._source` and :meth:`Driver._resume_of`, which :meth:`Driver._woken`
shares: a task woken without its item goes back to the ready queue with its channel
and takes the same path.

Outcomes:

* The process ends when the main task returns. Its first value is the result; a second
  value that is a string or an error object makes it an error exit (``return nil, err``;
  ``return 42, false`` is a success). Other tasks are dropped.
* A Lua error in any task, or a limit of the host (instruction budget, step timeout,
  process memory, the runtime's memory cap: ``details["reason"]`` names it) ends the
  process with an :class:`~beamish.actors.Error` (kind and retryable kept, Lua stack in
  ``stack``).
* All tasks parked on channels nothing can feed: ``Error(INTERNAL)`` "deadlock".
* Cancellation (terminate, a linked failure, shutdown) arrives as the backend's
  cancellation at an ``await``; the driver drops its tasks and lets it propagate.

Invariants: ``Sandbox.current`` is this driver exactly while one of its tasks runs;
``live`` counts the tasks from creation until they return or fail; a parked task is in
no ready queue (a ready entry holding a channel is a task about to receive, not a
parked one); ``parked`` is set exactly while the process hibernates (and its ``P`` is
then not killed: a terminated hibernating process leaves it to the Lua GC).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping
from time import perf_counter as _clock
from typing import Any, Final

from beamish.actors import (
    CLOSED,
    ChannelLike,
    Context,
    Error,
    ErrorKind,
    Event,
    EventKind,
    Future,
    Pid,
    WouldBlock,
    as_error,
)

from ._channels import INBOX, LChannel, Receivable, Source, Waiter
from ._commands import BLOCKED, COMMANDS, HANDLERS, DirectAwait
from ._lib_core import OP_RECV
from ._runtime import LuaMemoryError, Sandbox

__all__ = [
    "FAIR_STEPS",
    "HIBERNATE_IDLE",
    "Driver",
    "ExitRouter",
    "Sleepers",
    "is_mailbox",
    "result_of",
]

#: Resumes in a row after which the driver checkpoints (see Driver._checkpoint).
FAIR_STEPS = 64
#: Seconds: a process woken from hibernation sooner than this waits in its task from
#: then on, until one of its waits lasts this long (see Driver._woken). 0: always
#: hibernate.
HIBERNATE_IDLE = 0.001


class _AllParked:
    """``Driver.parked`` when every task waits on mailbox channels (the wait loop's case)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "ALL_PARKED"


_ALL: Final = _AllParked()
_NO_VALUES: Mapping[str, Any] = {}
#: The step result a receive on the inbox stands for (the prelude answers it as 4).
_INBOX_RECV = (1, OP_RECV, INBOX)


class _Returned:
    """The outcome that ends :meth:`Driver.run`: the main task returned, its raw values
    are in :attr:`Driver.returned` (a sentinel, not an object per return: function
    calls end a run each, and an allocation there measurably slows them)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "RETURNED"


_RETURNED: Final = _Returned()


#: What the driver does with a task next (see :meth:`Driver._resume`): resume it with
#: these values (a tuple), nothing for now (BLOCKED), await a DirectAwait, receive from
#: a context channel (a Receivable), or end the run (_RETURNED).
Outcome = Any


class Driver:
    """Runs the tasks of one Lua process (see the module docstring).

    ``sb`` is the sandbox the process lives in, ``ctx`` the context every effect goes
    through, ``P`` the process's Lua state (:meth:`Sandbox.new_process`). ``values``:
    the context values of a function call (else the context's own); ``reuse``: a
    pooled function worker, whose Lua state the caller keeps.
    """

    __slots__ = (
        "P",
        "_values",
        "cache",
        "calls",
        "ctx",
        "held",
        "hib",
        "inbox",
        "live",
        "main_tid",
        "nap",
        "parked",
        "ready",
        "returned",
        "reuse",
        "router",
        "sb",
        "warm",
        "watch",
    )

    def __init__(
        self,
        sb: Sandbox,
        ctx: Context,
        P: Any,
        *,
        values: Mapping[str, Any] | None = None,
        reuse: bool = False,
    ) -> None:
        self.sb = sb
        #: A pooled function worker: the caller ends the call (``Sandbox.end_call``).
        self.reuse = reuse
        self.ctx = ctx
        self.P = P
        #: Context values given for this run (functions); else the context's own.
        self._values = values
        # Memory per idle process matters (10k idle Lua processes): a list, not a
        # deque (624 B empty); a task count, not a set; the dicts on first use.
        #: Tasks to run, FIFO: ``(tid, resume values)``, or ``(tid, outcome)`` for a task
        #: whose last command is still to be carried out by :meth:`run` (a receive
        #: after a wake-up, or what :meth:`call_nowait` got).
        self.ready: list[tuple[int, Outcome]] = []
        #: Number of tasks alive (created, not yet returned or failed).
        self.live = 0
        self.main_tid = 0
        #: Source channels with parked receivers (insertion-ordered: select priority).
        self.watch: dict[LChannel, None] | None = None
        #: Per-process objects handed to Lua once (events, listen channels...).
        self.cache: dict[Any, Any] | None = None
        #: The inbox as a channel, once a task needs one (see ``_channels.INBOX``).
        self.inbox: LChannel | None = None
        #: Bytes of strings this process's channels buffer (Python copies: outside the
        #: Lua heap, so counted here against ``limits.process_memory``).
        self.held = 0
        #: Futures of the ``funcs.async`` calls this process started (``limits.calls``).
        self.calls: list[Future] | None = None
        #: The events demultiplexer, from the first exec that waits beside siblings.
        self.router: ExitRouter | None = None
        #: May this driver hibernate its process (a kernel process body, see below).
        self.hib = False
        #: Recently woken after a short idle spell: wait in the task, not hibernated.
        self.warm = False
        #: ``time.perf_counter()`` when the process last hibernated.
        self.nap = 0.0
        #: What the hibernated process waits for: ``(tid, INBOX or LChannel)`` of a lone
        #: task, or :data:`_ALL` (every task parked on mailbox channels).
        self.parked: tuple[int, Receivable] | _AllParked | None = None
        #: The main task's raw return values, once it returned.
        self.returned: tuple[Any, ...] = ()

    def __repr__(self) -> str:
        return f"<Driver {self.ctx.pid} tasks={self.live}>"

    @property
    def values(self) -> Mapping[str, Any]:
        """The context values the Lua code runs with (``ctx.get``)."""
        v = self._values
        if v is None:
            v = self.ctx.values
        return v if v is not None else _NO_VALUES

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

    def call_nowait(self) -> tuple[Any, ...] | None:
        """Resume the call :meth:`call_worker` queued, once, without waiting: the raw
        values it returned, or None when it has not returned yet (then ``await run()``
        goes on from where it stopped). A function that returns without waiting, as
        most do, then costs no coroutine of its own."""
        tid, out = self.ready.pop(0)
        out = self._resume(tid, out)
        if out is _RETURNED:
            return self.returned
        if out is not BLOCKED:  # a command to carry out: run() takes it from here
            self.ready.insert(0, (tid, out))
        return None

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

    def inbox_channel(self) -> LChannel:
        """The process's inbox as an :class:`LChannel` (made on first need)."""
        ch = self.inbox
        if ch is None:
            ch = self.inbox = self.sb.lib.new_inbox(self)
        return ch

    def hold(self, value: Any, *, force: bool = False) -> None:
        """Count a string a channel of this process buffers; over the quota, refuse."""
        tv = type(value)
        if tv is not str and tv is not bytes:
            return
        held = self.held + len(value)
        limit = self.sb.limits.process_memory
        if held > limit and not force:
            raise Error(
                f"channel buffers of this process would hold {held} bytes, more than "
                f"its limit of {limit} (limits.process_memory of its host); receive "
                "from the channel or buffer less", kind=ErrorKind.INTERNAL, retryable=False,
                details={"reason": "process_memory"})
        self.held = held

    def release(self, value: Any) -> None:
        tv = type(value)
        if tv is str or tv is bytes:
            self.held -= len(value)

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

    def wait_exit(self, pid: Pid, tid: int, events: LChannel,
                  resume_of: Callable[[Event], tuple[Any, ...]]) -> None:
        """Park task ``tid`` until the EXIT event of ``pid`` arrives; resume it with
        ``resume_of(event)``. ``events`` is the script's events channel: from now on
        it reads the context's events through the router (see the module docstring)."""
        r = self.router
        if r is None:
            r = self.router = ExitRouter(self.ctx.events(), events)
            if not events.closed:
                events.source = r
        r.waits[pid] = (Waiter(self, tid), resume_of)

    # -- the loop -------------------------------------------------------------------------

    async def run(self, *, result: bool = False, woken: bool = False) -> Any:
        """Run until the main task returns; its raw Lua return values, or with
        ``result=True`` its result under the return convention (:func:`result_of`).

        (One coroutine for the whole process: a process body may return
        ``driver.run(result=True)`` itself, saving a frame per idle process.)

        With :attr:`hib` set it may instead return ``ctx.hibernate(...)`` (see
        :meth:`_hibernate`); ``woken=True`` is the run the kernel starts on wake-up.

        The scheduler: take a ready task, resume it (:meth:`_resume`) while what it
        asks completes at once, act on the outcome; with nothing ready, wait for the
        outside world (:meth:`_wait`) or hibernate. A lone task's receive from a context
        channel waits *here*, in this frame (no callee frame kept while idle).
        """
        # Few locals: each is 8 bytes in the frame every idle process keeps.
        ready = self.ready
        steps = 0
        asleep = False
        try:
            if woken:
                self._woken()
            while True:
                while ready:
                    tid, out = ready.pop(0)
                    while True:
                        if type(out) is tuple:  # resume the task with these values
                            steps += 1
                            if steps >= FAIR_STEPS:  # resumes in a row without a wait
                                steps = 0
                                await self._checkpoint()
                                if ready:  # round robin: the others go first now
                                    ready.append((tid, out))
                                    break
                            out = self._resume(tid, out)
                        elif out is BLOCKED:  # parked, requeued or ended
                            break
                        elif out is INBOX or type(out) is LChannel:
                            # A receive from a context channel (the inbox, or a channel
                            # with a source). Beside other tasks: park on the channel.
                            if self.live != 1 or ready:
                                out = self._park_receive(
                                    self.inbox_channel() if out is INBOX else out, tid)  # type: ignore[arg-type]
                            # Alone: the lone-receive fast path, written once.
                            elif self.hib and not self.warm and is_mailbox(out):
                                got = self._receive_nowait(out)
                                if got is None:  # nothing yet: hibernate until it comes
                                    self.parked = (tid, out)
                                    asleep = True
                                    return self._hibernate()
                                out = got
                                del got  # nothing from a step kept while idle
                            else:  # wait in the task, measured (_waited, inline)
                                since = _clock()
                                src = self.ctx.inbox() if out is INBOX else out.source  # type: ignore[union-attr]
                                out = self._resume_of(await src.receive(), out)  # type: ignore[union-attr]
                                if self.warm and _clock() - since >= HIBERNATE_IDLE:
                                    self.warm = False
                                steps = 0
                        elif out is _RETURNED:
                            out = self.returned
                            return result_of(self.sb, out) if result else out
                        else:  # a DirectAwait: a wait on the outside world
                            assert type(out) is DirectAwait, out
                            if (self.live == 1 and not ready) or out.fallback is None:
                                out = await out.factory()
                            else:  # the other tasks keep running: the channel form
                                out = out.fallback(self, tid)
                # Nothing is ready: every task waits on the outside world.
                if self.warm:
                    await self._warm_wait()
                elif self.hib and self._all_on_mailbox():
                    self.parked = _ALL
                    asleep = True
                    return self._hibernate()
                else:
                    await self._wait()
        finally:
            if not self.reuse and not asleep:
                self.sb.kill(self.P)

    def _resume(self, tid: int, resume: tuple[Any, ...]) -> Outcome:
        """Resume task ``tid`` with ``resume`` (Lua values) until it yields; perform the
        command it yields (:meth:`perform`). Returns the outcome for :meth:`run`: resume
        values (the command completed), BLOCKED (the task is parked, requeued, or ended
        if it is not the main one), a :class:`DirectAwait`, a context channel to receive
        from, or ``_RETURNED`` (the main task returned: its values are in
        :attr:`returned`). A failed step raises the process's exit error."""
        sb = self.sb
        # No restore needed: whoever steps a task of this sandbox next sets it first,
        # and nothing steps a task inside a step.
        sb.current = self
        try:
            r = sb._step(self.P, tid, *resume)
        except LuaMemoryError as exc:
            r = ("M", str(exc))
        if type(r) is int:
            if r == 3:  # a bare coroutine.yield(): requeue
                self.ready.append((tid, ()))
                return BLOCKED
            # 4: a receive on the inbox (the hottest command, as one int)
            if self.inbox is None:
                return INBOX  # _ch_recv's answer, without the call
            r = _INBOX_RECV
        tag = r[0]
        if tag == 1:
            op = r[1]
            if type(op) is not int:
                return self.perform(op, tid, r[2:])
            try:  # (perform's fast path, inline: the prelude numbers the commands)
                return HANDLERS[op](self, tid, *r[2:])
            except Error as exc:
                return (1, self.sb.convert.error_to_lua(exc))
            except Exception as exc:  # never leak Python objects to Lua
                return (1, self.sb.convert.error_to_lua(as_error(exc)))
        if tag == 3:
            self.ready.append((tid, ()))
            return BLOCKED
        if tag == 2:
            self.live -= 1
            if tid == self.main_tid:
                self.returned = r[2:]
                return _RETURNED
            return BLOCKED
        raise sb.step_failure(self.P, r)

    def perform(self, op: int | str, tid: int, args: tuple[Any, ...]) -> Outcome:
        """Run the handler of command ``op`` (its number or name) for task ``tid``:
        what it returns (see ``_commands``). An :class:`Error` it raises comes back as
        ``(1, error)`` to raise in the task, as does any other exception (a handler bug
        must not leak Python objects to Lua); an unknown command is ``Error(INTERNAL)``.
        """
        try:
            if type(op) is int:
                return HANDLERS[op](self, tid, *args)
            handler = COMMANDS.get(op)  # type: ignore[arg-type]
            if handler is None:
                raise Error(f"unknown Lua bridge command {op!r}", kind=ErrorKind.INTERNAL)
            return handler(self, tid, *args)
        except Error as exc:
            return (1, self.sb.convert.error_to_lua(exc))
        except Exception as exc:  # never leak Python objects to Lua
            return (1, self.sb.convert.error_to_lua(as_error(exc)))

    # -- a lone task's receive ----------------------------------------------------------------

    def _source(self, ch: Receivable) -> Source:
        """What a receive from ``ch`` reads: the context's inbox for INBOX, else the
        channel's source (an events router may stand for the events channel: it holds
        events the kernel cannot see)."""
        if ch is INBOX:
            return self.ctx.inbox()  # (also moves in messages queued before it existed)
        src = ch.source  # type: ignore[union-attr]
        assert src is not None, "a context receive on a channel without a source"
        return src

    def _receive_nowait(self, ch: Receivable) -> tuple[Any, ...] | None:
        """The resume values of a receive from ``ch`` if its source holds an item now."""
        try:
            item = self._source(ch).receive_nowait()
        except WouldBlock:
            return None
        return self._resume_of(item, ch)

    def _resume_of(self, item: Any, ch: Receivable) -> tuple[Any, ...]:
        """The resume values of a receive from ``ch`` that got ``item``."""
        if ch is INBOX:
            return (0, None, False) if item is CLOSED else self.sb.lib.message_resume(item)
        return ch.resume_from_source(item)  # type: ignore[union-attr]

    def _waited(self, since: float) -> None:
        """A wait in the task, begun at ``since``, ended: a warm process whose wait
        lasted :data:`HIBERNATE_IDLE` or more hibernates again at its next wait."""
        if self.warm and _clock() - since >= HIBERNATE_IDLE:
            self.warm = False

    # -- hibernation (kernel processes only) ------------------------------------------------

    def _hibernate(self) -> Any:
        """The kernel's hibernation request: the process's trio task ends (its frames
        and cancel scope are freed); the next delivery runs :func:`_wake`, which runs
        this driver again on the same Lua state (the tasks live in the sandbox)."""
        self.nap = _clock()
        sleepers = self.sb.sleepers
        if sleepers is None:
            sleepers = self.sb.sleepers = Sleepers()
        sleepers.add(self)
        return self.ctx.hibernate(_wake, self)

    def _woken(self) -> None:
        """First thing after a wake-up: hand the parked task(s) what arrived.

        A process woken after less than :data:`HIBERNATE_IDLE` seconds turns *warm*: it
        waits in its task (a ping-pong partner would otherwise pay a task start per
        message) until one wait lasts longer. If what woke it is not what its tasks wait
        for (an event nobody reads), it turns warm too: hibernating again would only be
        woken at once by that unread item. A lone task then goes back to the ready queue
        with its channel, and :meth:`run` makes its receive (the lone-receive path).
        """
        if _clock() - self.nap < HIBERNATE_IDLE:
            self.warm = True
        parked, self.parked = self.parked, None
        sleepers = self.sb.sleepers
        if sleepers is not None:
            sleepers.discard(self)
        if parked is _ALL:
            self._feed_parked()
            if not self.ready:  # woken by something nobody waits for: wait in the task
                self.warm = True
            return
        assert isinstance(parked, tuple)
        tid, ch = parked
        resume = self._receive_nowait(ch)
        if resume is None:  # woken by something this task does not wait for
            self.warm = True
            self.ready.append((tid, ch))
        else:
            self.ready.append((tid, resume))

    async def _warm_wait(self) -> None:
        """:meth:`_wait` in the task, measured (see :meth:`_waited`)."""
        since = _clock()
        await self._wait()
        self._waited(since)

    def _all_on_mailbox(self) -> bool:
        """Every live task parked as a receiver on kernel mailbox channels only (inbox,
        events, listened topics: deliveries wake a hibernating process; timers, futures,
        internal channels and waiting execs do not)."""
        r = self.router
        if r is not None and r.waits:
            return False
        tids: set[int] = set()
        for ch in self.watch or ():
            if ch.source is None or not ch.has_receivers():
                continue
            if not is_mailbox(ch):
                return False
            for w, _ in ch.recvq or ():
                if not w.fired:
                    tids.add(w.tid)
        return bool(tids) and len(tids) == self.live

    # -- waiting on the outside world --------------------------------------------------------

    async def _checkpoint(self) -> None:
        """Let other processes run, then hand parked tasks what their sources hold.

        Without it, tasks that keep requeueing (``coroutine.yield()``, ``time.sleep(0)``)
        would hold the thread and starve both other processes and their own siblings
        waiting on the inbox or a timer (the wait loop runs only when nothing is ready).
        """
        await self.ctx.sleep(0)
        self._feed_parked()
        r = self.router
        if r is not None and r.waits:
            r.pump()

    def _feed_parked(self) -> None:
        """Hand tasks parked on context channels what those channels hold now (no wait)."""
        for ch in list(self.watch or ()):
            while ch.source is not None and ch.has_receivers():
                try:
                    item = ch.source.receive_nowait()
                except WouldBlock:
                    break
                ch.deliver(item)

    def _park_receive(self, ch: LChannel, tid: int) -> Outcome:
        """A receive from ``ch`` beside other tasks: its values now, else park the task.

        A context that selects by arrival (a workflow's: ``select_by_arrival``) is not
        polled here: the task parks and :meth:`_wait` hands out the context's items
        oldest first, once every task has run, so the coroutines of a script see the
        messages in the order they came, whichever coroutine listened first."""
        r = ch.try_receive(not getattr(self.ctx, "select_by_arrival", False))
        if r is not None:
            return (0, *r)
        ch.park_receiver(Waiter(self, tid))
        self.park_on(ch)
        return BLOCKED

    async def _wait(self) -> None:
        """Every task is parked: await the context channels they need (one ``receive``,
        or ``ctx.select`` over several) and deliver what arrives. Raises the deadlock
        error when nothing can ever wake them."""
        chans: list[LChannel] = []
        watch = self.watch or {}
        for ch in list(watch):
            if ch.source is not None and ch.has_receivers():
                chans.append(ch)
            else:
                del watch[ch]
        r = self.router
        pump = r is not None and bool(r.waits)
        if not chans and not pump:
            raise Error(
                "deadlock: every coroutine of this Lua process is blocked on a channel "
                "that nothing can send to",
                kind=ErrorKind.INTERNAL,
                retryable=False,
            )
        if len(chans) == 1 and not pump:
            ch = chans[0]
            src = ch.source
            assert src is not None
            item = await src.receive()
            if ch.source is src:
                ch.deliver(item)
            return
        # The context's own channels: the router stands for the events channel.
        sources: list[Any] = []
        if pump:
            assert r is not None
            sources.append(r.real)
        for c in chans:
            s = c.source
            if type(s) is ExitRouter:
                s = s.real
            if not any(s is x for x in sources):
                sources.append(s)
        if len(sources) == 1:
            src = sources[0]
            item = await src.receive()
        else:
            got = await self.ctx.select(sources)
            if got is None:  # pragma: no cover - no timeout given
                return
            src, item = got
        if r is not None and src is r.real:
            r.route(item)
            return
        for c in chans:
            if c.source is src:
                c.deliver(item)
                return


class ExitRouter:
    """The context's events channel, seen by a process whose tasks may wait in exec.

    Stands in as the ``source`` of the script's events channel: it hands out the events
    the script may see (those it set aside first, in order) and routes the EXIT of an
    awaited child to the task waiting for it. Kernel channel interface for a source:
    ``receive_nowait()`` / ``receive()``; :attr:`real` is what the wait loop awaits.
    """

    __slots__ = ("channel", "pending", "real", "waits")

    def __init__(self, real: ChannelLike, channel: LChannel) -> None:
        self.real = real
        self.channel = channel
        #: Events read for the script while none of its tasks was receiving them.
        self.pending: deque[Any] | None = None
        #: Awaited child PID -> (parked task, resume values from its EXIT event).
        self.waits: dict[Pid, tuple[Waiter, Callable[[Event], tuple[Any, ...]]]] = {}

    def __repr__(self) -> str:
        return f"<ExitRouter waits={len(self.waits)} pending={len(self.pending or ())}>"

    def take(self, item: Any) -> bool:
        """Wake the exec waiting for ``item`` if it is such an EXIT; True if taken."""
        waits = self.waits
        if not waits:
            return False
        if item is CLOSED:  # no EXIT can come any more: fail the waiting execs
            err = Error("the events channel closed while exec was waiting",
                        kind=ErrorKind.INTERNAL, retryable=False)
            for pid in list(waits):
                w, resume_of = waits.pop(pid)
                w.wake(resume_of(Event(EventKind.EXIT, pid, error=err)))
            return False
        if type(item) is not Event or item.kind is not EventKind.EXIT:
            return False
        got = waits.pop(item.sender, None)
        if got is None:
            return False
        w, resume_of = got
        w.wake(resume_of(item))
        return True

    def route(self, item: Any) -> None:
        """An item read from :attr:`real`: to its exec, else to the script (in order)."""
        if self.take(item):
            return
        if self.pending is None:
            self.pending = deque()
        self.pending.append(item)
        self.feed()

    def feed(self) -> None:
        """Hand set-aside events to tasks parked on the script's events channel."""
        ch, pending = self.channel, self.pending
        while pending and ch.source is self and ch.has_receivers():
            ch.deliver(pending.popleft())

    def pump(self) -> None:
        """Route everything the real channel holds now (no wait)."""
        while self.waits:
            try:
                item = self.real.receive_nowait()
            except WouldBlock:
                return
            self.route(item)
            if item is CLOSED:
                return

    # -- source interface (the script's events channel reads through these) ------------

    def receive_nowait(self) -> Any:
        pending = self.pending
        if pending:
            return pending.popleft()
        while True:
            item = self.real.receive_nowait()
            if not self.take(item):
                return item

    async def receive(self, timeout: float | None = None) -> Any:
        pending = self.pending
        if pending:
            return pending.popleft()
        while True:
            item = await self.real.receive(timeout)
            if not self.take(item):
                return item


class Sleepers:
    """The drivers of one sandbox's hibernating processes, to free killed ones.

    A hibernating process that is terminated (or killed by a link) ends without running
    any code, so its driver's ``finally`` never kills its Lua state ``P``. Usually that
    is garbage anyway, but not when Lua holds Python objects that hold the driver (a
    parked task's channel -> its Waiter -> the driver -> ``P`` -> the task): a cycle
    through the Lua heap that neither collector can see. So hibernating drivers are
    kept here and, whenever the set has doubled since the last sweep, the ones whose
    process is dead are killed (amortised O(1); at most 2x the live ones are kept).
    (A kernel hook run when a hibernating process is killed would free them at once.)
    """

    __slots__ = ("drivers", "limit")

    def __init__(self) -> None:
        self.drivers: dict[Driver, None] = {}
        self.limit = 64

    def __repr__(self) -> str:
        return f"<Sleepers {len(self.drivers)}>"

    def add(self, drv: Driver) -> None:
        drivers = self.drivers
        drivers[drv] = None
        if len(drivers) >= self.limit:
            self.sweep()

    def discard(self, drv: Driver) -> None:
        self.drivers.pop(drv, None)

    def sweep(self) -> None:
        """Kill the Lua state of every driver whose process ended while hibernating."""
        drivers = self.drivers
        for drv in [d for d in drivers if not d.ctx.is_alive()]:
            del drivers[drv]
            drv.parked = None
            drv.sb.kill(drv.P)
            # and every Python -> Lua reference of the driver (wrapped channels...)
            drv.cache = drv.watch = drv.inbox = drv.router = None
        self.limit = max(64, 2 * len(drivers))


def _wake(ctx: Context, drv: Driver) -> Any:
    """The body the kernel runs when a hibernated Lua process is woken."""
    return drv.run(result=True, woken=True)


def is_mailbox(ch: Receivable) -> bool:
    """Whether ``ch`` reads a kernel mailbox channel (a delivery to it wakes a
    hibernating process): the inbox (:data:`INBOX` or its channel), the events, a
    listened topic."""
    kind = ch.kind
    return kind == "inbox" or kind == "events" or kind.startswith("listen:")


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

