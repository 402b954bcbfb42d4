"""Per-host resource limits: what one process may make its host hold, and what a Lua
step may cost.

Why one object: every limit that protects a host from one of its processes (a Lua
script's memory, a flooded mailbox, a spawn loop, a timer bomb, a runaway step) is
configured in one place, the ``limits:`` mapping of a ``process.host`` entry, and
travels with the host (:attr:`LocalHost.limits`). The kernel reads the mailbox,
children, processes, listens and names limits; the Lua bridge reads the rest. Values
here are plain numbers (bytes, seconds, counts); the app shell parses the YAML forms
(``"64MiB"``, ``"1s"``).

Each limit fails the operation that would cross it, in the process that attempts it,
with an :class:`~beamish.actors.Error` naming the limit and the setting to change; the
receiver, the siblings and the host are never the ones harmed. ``SECURITY.md`` lists
every limit with its default and the reasoning behind it.

How each quota is kept (all O(1) on the hot paths):

* ``mailbox_messages``: every local :class:`~beamish.actors.Process` keeps a count of
  what the kernel holds for it and it has not received yet (inbox, listened topics,
  backlog, events). Deliveries add one, the mailbox channels subtract one per item taken,
  ``unlisten`` subtracts what its channel still held. ``send`` (and ``cancel``) to a
  process whose count is at the limit raises :func:`mailbox_full_error` at the sender;
  kernel events (EXIT, LINK_DOWN) and start-up messages are counted but never refused.
* ``mailbox_bytes``: a sender that knows its payload's size (the Lua bridge) sends a
  :class:`SizedMessage`; the receiver keeps the sum of queued sizes the same way.
* ``children``: a process counts its live children; the child's exit gives the slot back.
  Only local children count (a workflow started on a ``temporal.worker`` host does not).
* ``timers``: counted by the Lua ``time`` module per Lua process, or per call of a Lua
  function (Python bodies are trusted code and are not limited).
* ``processes``: the host's live count (:attr:`LocalHost.live`), checked by ``spawn``.
* ``listens``, ``names``: the process's topic table and the names held for a PID.
* ``calls``: the Lua bridge keeps a process's ``funcs.async`` futures in flight.
* ``spawn_messages``: checked by ``spawn`` before anything is created.

Per-process quotas multiply along a tree of spawners (each child may spawn its own
``children``); ``processes`` bounds the host's total.

Which host's limits apply: the *receiver's* host for the mailbox limits (the receiver's
mailbox is what fills up), the *spawner's* host for ``children``, ``spawn_messages``
and ``timers`` (the quota of the process that asks); a spawn from outside any process
uses the target host's ``spawn_messages``.

Errors: kind ``RateLimited`` (Wippy's kind for "too many, back off": gRPC's
RESOURCE_EXHAUSTED maps to the same HTTP 429), ``retryable=True`` when waiting can help
(a mailbox drains, children exit, timers stop); a request that can never fit (more
start-up messages than allowed, one payload larger than the whole mailbox limit) is
``Invalid`` and not retryable. ``details`` carry ``limit`` (the setting name),
``value`` (the limit), ``host`` and, where there is one, ``pid``.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

from ._errors import Error, ErrorKind
from ._message import Message

__all__ = [
    "DEFAULT_LIMITS",
    "Limits",
    "SizedMessage",
    "children_error",
    "limit_error",
    "limits_of",
    "mailbox_bytes_error",
    "mailbox_full_error",
    "spawn_messages_error",
]

MiB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Limits:
    """Resource limits of one host (all fields keyword-only in :meth:`with_`).

    Lua (per host runtime, per process, per step):

    ``memory``
        Bytes the host's Lua runtime may allocate, all its processes together.
    ``process_memory``
        Bytes one Lua process may hold at the end of a step; over it, the process is
        stopped (its own fault, never a sibling's).
    ``step_timeout``
        Seconds one Lua step (the run between two yields) may take, whatever it calls.
    ``instruction_budget``
        Lua VM instructions one step may run (the cheap first line of the timeout).
    ``max_payload``
        Bytes of string data in one value crossing a Lua process's boundary (a message,
        spawn arguments, a call's arguments or result, a return value).

    Kernel (per process, every process of the host, Python or Lua):

    ``mailbox_messages``
        Messages (and events) queued for one process and not received yet; a send
        that would go over it fails at the sender. Default 250,000: the one-way
        throughput benchmark queues up to its n = 200,000 messages in one consumer; a
        small message costs ~145 B in the kernel, so the default bounds a flooded
        mailbox at ~36 MB of overhead.
    ``mailbox_bytes``
        Payload bytes queued for one process, for payloads whose size is known (Lua
        senders: their string bytes); a send that would go over it fails at the sender.
    ``children``
        Live processes one process may have spawned at a time (its own spawns, not its
        children's). Default 25,000: the spawn benchmark has one parent holding 20,000
        live monitored children; a Python child costs ~5 KB, so a spawn loop stops at
        ~120 MB.
    ``processes``
        Live processes of the whole host (every spawner together, so a tree of
        spawners, a "fork bomb", stops too). Default 250,000: above the memory
        benchmark's 100,000 idle processes on one host.
    ``timers``
        Live timers, tickers, ``after`` channels and sleeps (those beside other tasks)
        of one Lua process: a slot is held until the value is received, the timer is
        stopped, or its channel is garbage-collected (a live kernel timer costs
        ~7 KB: a trio task, its cancel scope and the channels).
    ``calls``
        Function calls in flight that one Lua process started with ``funcs.async``
        (each is a task on the host until it completes).
    ``listens``
        Topics one process listens to at a time (``listen``; ``unlisten`` frees one).
    ``names``
        Names registered for one process at a time (released when it exits).
    ``spawn_messages``
        Start-up messages one spawn may carry (``with_message`` in Lua, ``messages=``
        in Python).
    """

    memory: int = 512 * MiB
    process_memory: int = 64 * MiB
    step_timeout: float = 1.0
    instruction_budget: int = 100_000_000
    max_payload: int = 16 * MiB
    mailbox_messages: int = 250_000
    mailbox_bytes: int = 64 * MiB
    children: int = 25_000
    processes: int = 250_000
    timers: int = 10_000
    calls: int = 10_000
    listens: int = 10_000
    names: int = 100
    spawn_messages: int = 1_000

    def with_(self, **changes: Any) -> Limits:
        """A copy with ``changes`` applied (unknown names raise ``TypeError``)."""
        return replace(self, **changes)

    @classmethod
    def settings(cls) -> tuple[str, ...]:
        """The setting names, in declaration order (the keys of ``limits:``)."""
        return tuple(f.name for f in fields(cls))

    @staticmethod
    def unit(name: str) -> str:
        """What setting ``name`` measures: ``"bytes"``, ``"seconds"`` or ``"count"``."""
        if name in _BYTES:
            return "bytes"
        if name in _SECONDS:
            return "seconds"
        return "count"


_BYTES = frozenset({"memory", "process_memory", "max_payload", "mailbox_bytes"})
_SECONDS = frozenset({"step_timeout"})


#: The limits of a host that configures none.
DEFAULT_LIMITS = Limits()


def limits_of(ctx: Any) -> Limits:
    """The limits that apply to the process behind ``ctx``: its host's, when the context
    knows them (kernel processes: :attr:`Process.limits`), else :data:`DEFAULT_LIMITS`
    (workflow contexts, test doubles)."""
    limits = getattr(ctx, "limits", None)
    return limits if isinstance(limits, Limits) else DEFAULT_LIMITS


class SizedMessage(Message):
    """A :class:`Message` whose payload size (bytes) the sender knew: it counts against
    the receiver's ``mailbox_bytes`` while queued. Receivers see an ordinary message."""

    __slots__ = ("size",)

    def __init__(
        self, topic: str, sender: Any, payload: tuple[Any, ...], size: int
    ) -> None:
        self.topic = topic
        self.sender = sender
        self.payload = payload
        self.size = size


def limit_error(
    setting: str,
    host: str,
    limit: int,
    what: str,
    fix: str,
    *,
    pid: Any = None,
    retryable: bool = True,
) -> Error:
    """The error of a reached limit: ``"{what} (limits.{setting} of host {host!r} is
    {limit}); {fix}"``, kind ``RateLimited`` when waiting can help, else ``Invalid``."""
    details: dict[str, Any] = {"limit": setting, "value": limit, "host": host}
    if pid is not None:
        details["pid"] = str(pid)
    return Error(
        f"{what} (limits.{setting} of host {host!r} is {limit}); {fix}",
        kind=ErrorKind.RATE_LIMITED if retryable else ErrorKind.INVALID,
        retryable=retryable,
        details=details,
    )


def mailbox_full_error(pid: Any, limits: Limits, queued: int, *, what: str = "send to") -> Error:
    """A send (``what``: ``"cancel"`` for a CANCEL) refused because ``pid`` already holds
    ``queued`` unreceived messages and events."""
    return limit_error(
        "mailbox_messages",
        pid.host,
        limits.mailbox_messages,
        f"cannot {what} {pid}: its mailbox is full, {queued} messages not yet received",
        "the receiver must take some first, or raise the limit",
        pid=pid,
    )


def mailbox_bytes_error(pid: Any, limits: Limits, queued: int, size: int) -> Error:
    """A send of ``size`` payload bytes refused: ``pid`` already holds ``queued``."""
    limit = limits.mailbox_bytes
    if size > limit:
        return limit_error(
            "mailbox_bytes",
            pid.host,
            limit,
            f"cannot send {size} payload bytes to {pid}: more than its whole mailbox may hold",
            "send smaller messages, or raise the limit",
            pid=pid,
            retryable=False,
        )
    return limit_error(
        "mailbox_bytes",
        pid.host,
        limit,
        f"cannot send {size} payload bytes to {pid}: its mailbox already holds {queued} "
        "bytes not yet received",
        "the receiver must take some first, or raise the limit",
        pid=pid,
    )


def children_error(pid: Any, limits: Limits, live: int) -> Error:
    """A spawn refused: the spawner ``pid`` already has ``live`` live children."""
    return limit_error(
        "children",
        pid.host,
        limits.children,
        f"cannot spawn: {pid} already has {live} live children",
        "wait for some to exit, or raise the limit",
        pid=pid,
    )


def processes_error(host: str, limits: Limits, live: int) -> Error:
    """A spawn refused: host ``host`` already runs ``live`` processes."""
    return limit_error(
        "processes",
        host,
        limits.processes,
        f"cannot spawn: host '{host}' already runs {live} processes",
        "wait for some to exit, or raise the limit",
    )


def spawn_messages_error(host: str, limit: int, count: int) -> Error:
    """A spawn refused: it carries ``count`` start-up messages, over ``limit``."""
    return limit_error(
        "spawn_messages",
        host,
        limit,
        f"cannot spawn with {count} start-up messages",
        "send the rest after the spawn, or raise the limit",
        retryable=False,
    )
