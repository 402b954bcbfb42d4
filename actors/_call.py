"""Request/reply between processes: ``ask`` and ``cast``, OTP's ``gen_server:call``/``cast``.

Hand-built request/reply (a unique ``listen`` topic, ``send``, ``receive(timeout)``)
has three faults a runtime should not leave to users: a reply that arrives after the
caller gave up lands in its inbox later; a server that dies mid-call is noticed only
when the timeout fires; and a reply can be forged by anyone who learns the topic. OTP
answers with a monitor plus a unique reference; beamish does the same inside the
kernel, with no topic at all:

* the request is a :class:`Call` message on the runtime topic ``@call`` (users cannot
  send ``@`` topics, so a call cannot be forged); it carries a private reply slot;
* the caller parks its trio task on that slot and registers an exit callback on the
  server (a monitor that touches neither side's events channel);
* :meth:`Call.reply` fills the slot and reschedules the caller; a reply after a
  timeout, or a second reply, is dropped (the slot is closed), so nothing leaks into
  the caller's mailbox;
* the server's exit before replying wakes the caller with :class:`ProcessExit`.

``cast`` is a plain message on ``@cast``; a :class:`beamish.supervision.Server` routes
``@call`` to ``handle_call`` and ``@cast`` to ``handle_cast``. A body that is not a
``Server`` sees both in its inbox (topic ``"@call"`` / ``"@cast"``) and answers a call
with ``msg.reply(value)``.

Calls reach kernel processes on this node. A workflow is not a call target (its
mailbox is Temporal signals, with no way to answer), and a workflow cannot call (a
reply is not history); both raise ``Error(INVALID)``.
"""

from __future__ import annotations

from typing import Any

import outcome
import trio

from ._errors import Error, ErrorKind, ProcessExit, Timeout
from ._isolate import isolate
from ._message import Message
from ._pid import Pid

# ``Process`` below is the kernel's (``_process`` imports this module, so the type is
# written as ``Any``; the functions use its private fields and its node's).
Process = Any

__all__ = ["CALL_TOPIC", "CAST_TOPIC", "Call", "ask", "cast"]

#: The topic of a :class:`Call` message.
CALL_TOPIC = "@call"
#: The topic of a cast (a request no one answers).
CAST_TOPIC = "@cast"


class _Slot:
    """Where one call's answer goes: the parked caller's task, until answered."""

    __slots__ = ("server", "task")

    def __init__(self, task: trio.lowlevel.Task, server: Pid) -> None:
        self.task: trio.lowlevel.Task | None = task
        self.server = server

    def fill(self, result: outcome.Outcome) -> bool:
        task = self.task
        if task is None:
            return False
        self.task = None
        trio.lowlevel.reschedule(task, result)
        return True

    def abort(self, _raise_cancel: Any) -> trio.lowlevel.Abort:
        self.task = None  # the caller gave up (timeout, cancel): later replies drop
        return trio.lowlevel.Abort.SUCCEEDED


class Call(Message):
    """A request waiting for its reply: topic ``"@call"``, ``data`` is the request.

    Answer it once with :meth:`reply` (or :meth:`fail`), from the process that
    received it or any other. Answers after the caller stopped waiting are dropped.
    """

    __slots__ = ("_slot",)

    def __init__(self, sender: Pid, request: Any, slot: _Slot) -> None:
        super().__init__(CALL_TOPIC, sender, (request,))
        self._slot = slot

    @property
    def request(self) -> Any:
        """The request value (the same as :attr:`data`)."""
        return self.payload[0]

    @property
    def answered(self) -> bool:
        """True once replied to, failed, or given up on by the caller."""
        return self._slot.task is None

    def reply(self, value: Any = None) -> bool:
        """Send ``value`` to the caller. Returns False if the call was already answered
        or the caller stopped waiting (then nothing is sent).

        ``value`` is copied like a message payload; one that cannot be copied raises
        ``Error(INVALID)`` here, at the server, and the call stays unanswered.
        """
        if self._slot.task is None:
            return False
        return self._slot.fill(outcome.Value(isolate(value)))

    def fail(self, error: Error | str) -> bool:
        """Make the caller's ``ask`` raise ``error`` (an :class:`Error`, or a message
        for an ``Error`` of kind ``INTERNAL``). Returns as :meth:`reply` does."""
        if isinstance(error, str):
            error = Error(error, kind=ErrorKind.INTERNAL)
        elif not isinstance(error, Error):
            raise TypeError(f"fail() takes an Error or a message, not {type(error).__name__}")
        return self._slot.fill(outcome.Error(error))

    def __repr__(self) -> str:
        state = "answered" if self.answered else "waiting"
        return f"Call(from={self.sender}, request={self.payload[0]!r}, {state})"


def _server(caller: Process, dest: Pid | str, what: str) -> Process:
    node = caller._node
    pid = dest if type(dest) is Pid else node._resolve(dest)
    server = node._procs.get(pid)
    if server is None:
        if node._foreign_alive(pid):
            raise Error(
                f"cannot {what} {pid}: it runs on host {pid.host!r}, which is not a process "
                "host; only kernel processes answer calls (send a message instead)",
                kind=ErrorKind.INVALID,
                retryable=False,
            )
        raise node.not_found(pid)
    return server


async def ask(caller: Process, dest: Pid | str, request: Any, timeout: float | None) -> Any:
    """The kernel's :meth:`Context.ask`."""
    server = _server(caller, dest, "call")
    if server is caller:
        raise Error(
            f"process {caller.pid} called itself: it would wait for its own reply forever",
            kind=ErrorKind.INVALID,
            retryable=False,
        )
    task = trio.lowlevel.current_task()
    slot = _Slot(task, server.pid)
    caller._node._post(server, Call(caller.pid, isolate(request), slot))

    def on_exit(_value: Any, error: Error | None) -> None:
        if error is None:
            error = Error(
                f"server {slot.server} exited normally before it replied",
                kind=ErrorKind.CANCELED,
                retryable=False,
            )
        slot.fill(outcome.Error(ProcessExit(slot.server, error)))

    callbacks = server._exit_callbacks
    if callbacks is None:
        callbacks = server._exit_callbacks = []
    callbacks.append(on_exit)
    try:
        if timeout is None:
            return await trio.lowlevel.wait_task_rescheduled(slot.abort)
        with trio.move_on_after(timeout):
            return await trio.lowlevel.wait_task_rescheduled(slot.abort)
        raise Timeout(f"no reply from {server.pid} within {timeout:g}s to {request!r}")
    finally:
        if server._exit_callbacks:
            try:
                server._exit_callbacks.remove(on_exit)
            except ValueError:
                pass


def cast(caller: Process, dest: Pid | str, request: Any) -> None:
    """The kernel's :meth:`Context.cast`."""
    server = _server(caller, dest, "cast to")
    caller._node._post(server, Message(CAST_TOPIC, caller.pid, (isolate(request),)))
