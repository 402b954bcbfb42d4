"""Workflow types made from entries: the workflow type name is the entry ID.

What it is for
    Temporal registers workflow *classes*; beamish has *entries* — a Python body
    (``async def body(ctx, *args)``, or its ``"module:callable"`` path) or a Lua script
    that the Lua bridge turns into such a body. :func:`workflow_class` makes one
    temporalio workflow class per entry, named with the entry ID, whose run method builds
    a :class:`~beamish.durable.WorkflowContext` and runs the body against it. Lua and
    Python entries share all of this: to the durable layer a Lua workflow is just a body
    that drives a Lua coroutine through the context.

Design chosen
    * **One generated class per entry**, not one dynamic workflow: each type is
      registered by name (an unknown type stays visible as "not registered" instead of
      failing inside our code), and each chooses its runner: Python bodies given as a
      ``"module:callable"`` path may run in Temporal's sandbox (their module is imported
      inside it, with its restrictions); Lua bodies and Python callables run unsandboxed
      (the Lua environment is the sandbox; the notes measure half the CPU per workflow).
    * Classes are module attributes of this module (``_beamish_wf_<n>``) because the
      sandbox re-creates a workflow by ``from <module> import <name>``. The durable
      worker passes ``beamish`` through the sandbox, so the sandbox sees these very
      attributes and the context machinery is not re-imported per run.
    * **Exits.** The body's return value completes the workflow (as JSON). An
      :class:`~beamish.actors.Error` (or any other exception from the body) fails it with
      an ``ApplicationError`` carrying the kind and retryable flag — the actor rule
      "raising = error exit". Only Temporal's own task-level errors (nondeterminism,
      sandbox violations) still fail the *task*, which Temporal retries after a fix.
    * **Cancellation** of the workflow becomes a CANCEL event: the body runs in its own
      task, and a cancel of the primary task is caught and delivered to the body's events
      channel instead. The body decides; returning normally completes the workflow.
    * Signals reach the context through a dynamic signal handler; the sender PID comes
      from the ``wippy-context`` header (read by the inbound interceptor in
      ``_interceptors.py``).

Invariants
    * Imports no trio itself: it runs inside workflows. (The ``beamish`` package, whose
      kernel does import trio, is passed through Temporal's sandbox, never re-imported.)
    * A body is resolved per run, inside the run (so a sandboxed path is imported in the
      sandbox); no state survives a run outside the instance.
"""

from __future__ import annotations

import asyncio
import importlib
import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import temporalio.common
import temporalio.converter
import temporalio.exceptions
import temporalio.workflow as workflow

from beamish.actors import Error, ErrorKind, Pid, as_error

from ._context import WorkflowContext, WorkflowEnv
from ._convert import from_failure, to_failure, to_wire
from ._wchannel import ArrivedMessage

__all__ = ["WorkflowEntry", "resolve_body", "workflow_class"]

Body = Callable[..., Any]

_counter = itertools.count(1)


@dataclass(frozen=True)
class WorkflowEntry:
    """A workflow entry as the durable worker sees it.

    ``body`` is ``async def body(ctx, *args)`` or a ``"package.module:callable"`` path
    (resolved inside the run). ``sandboxed`` asks for Temporal's sandbox; it only makes
    sense for a path (a callable was imported outside the sandbox already).
    """

    entry_id: str
    body: Body | str
    sandboxed: bool = False
    kind: str = "workflow.py"


def resolve_body(body: Body | str, entry_id: str) -> Body:
    """The callable behind ``body`` (imports ``"module:callable"``)."""
    if callable(body):
        return body
    if not isinstance(body, str) or ":" not in body:
        raise Error(
            f"workflow entry {entry_id!r}: handler {body!r} must be 'package.module:callable'",
            kind=ErrorKind.INVALID,
            retryable=False,
        )
    module_name, _, attr = body.partition(":")
    try:
        obj: Any = importlib.import_module(module_name)
        for part in attr.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as e:
        raise Error(
            f"workflow entry {entry_id!r}: cannot load handler {body!r}: {e}",
            kind=ErrorKind.NOT_FOUND,
            retryable=False,
        ) from e
    if not callable(obj):
        raise Error(
            f"workflow entry {entry_id!r}: handler {body!r} is not callable",
            kind=ErrorKind.INVALID,
            retryable=False,
        )
    return obj  # type: ignore[no-any-return]


def _decode(args: Sequence[temporalio.common.RawValue]) -> list[Any]:
    conv = workflow.payload_converter()
    return [conv.from_payload(a.payload) for a in args]


def _is_task_failure(exc: BaseException) -> bool:
    """Errors that must fail the workflow *task* (retried), not the workflow."""
    if isinstance(exc, workflow.NondeterminismError):
        return True
    name = type(exc).__name__
    return name in {"RestrictedWorkflowAccessError", "_NotInWorkflowEventLoopError"}


async def run_entry(instance: Any, entry: WorkflowEntry, env: WorkflowEnv, args: list[Any]) -> Any:
    """The run method of every generated class: body against a WorkflowContext."""
    ctx: WorkflowContext = instance._beamish_ctx
    try:
        body = resolve_body(entry.body, entry.entry_id)
    except Error as e:
        raise to_failure(e) from None
    task = asyncio.get_running_loop().create_task(body(ctx, *args))
    while True:
        try:
            await workflow.wait([task])  # never cancels the body, never raises its error
            break
        except asyncio.CancelledError:
            if task.done():
                break
            # Temporal cancellation of the primary task: a CANCEL event for the body.
            ctx._on_cancel_requested(workflow.cancellation_reason() or "")
    ctx._alive = False
    await ctx._flush()
    if task.cancelled():
        raise to_failure(
            Error(f"workflow {ctx.pid} was canceled", kind=ErrorKind.CANCELED, retryable=False)
        )
    exc = task.exception()
    if exc is not None:
        if isinstance(exc, temporalio.exceptions.ApplicationError):
            raise exc  # already says what it means to Temporal
        if isinstance(exc, temporalio.exceptions.FailureError):
            raise to_failure(from_failure(exc))  # e.g. a raw SDK call's ActivityError
        if _is_task_failure(exc) or (
            isinstance(exc, BaseException) and not isinstance(exc, Exception)
        ):
            raise exc
        err = exc if isinstance(exc, Error) else as_error(exc)
        raise to_failure(err) from None
    try:
        return to_wire(task.result())
    except Exception as e:
        raise to_failure(
            Error(
                f"workflow {entry.entry_id} returned a value that cannot cross Temporal "
                f"(JSON data only): {e}",
                kind=ErrorKind.INVALID,
                retryable=False,
            )
        ) from None


def workflow_class(entry: WorkflowEntry, env: WorkflowEnv) -> type:
    """A temporalio workflow class named ``entry.entry_id`` that runs ``entry.body``."""
    name = f"_beamish_wf_{next(_counter)}"

    class _EntryWorkflow:
        _beamish_entry = entry
        _beamish_env = env

        def __init__(self) -> None:
            self._beamish_ctx = WorkflowContext(env, entry.entry_id)
            self._beamish_sender: Pid | None = None  # set by the inbound interceptor

        async def run(self, *args: Any) -> Any:
            return await run_entry(self, entry, env, list(args))

        def on_signal(self, topic: str, args: Sequence[temporalio.common.RawValue]) -> None:
            sender, self._beamish_sender = self._beamish_sender, None
            payload = tuple(_decode(args))
            self._beamish_ctx._deliver(ArrivedMessage(topic, sender, payload))

    _EntryWorkflow.__name__ = _EntryWorkflow.__qualname__ = name
    _EntryWorkflow.__module__ = __name__
    for attr in ("__init__", "run", "on_signal"):  # a global name, as the sandbox needs
        getattr(_EntryWorkflow, attr).__qualname__ = f"{name}.{attr}"
    _EntryWorkflow.run = workflow.run(_EntryWorkflow.run)  # type: ignore[method-assign]
    _EntryWorkflow.on_signal = workflow.signal(dynamic=True)(  # type: ignore[method-assign]
        _EntryWorkflow.on_signal
    )
    cls = workflow.defn(name=entry.entry_id, sandboxed=entry.sandboxed)(_EntryWorkflow)
    globals()[name] = cls
    return cls


def entry_classes(entries: Mapping[str, WorkflowEntry], env: WorkflowEnv) -> list[type]:
    return [workflow_class(e, env) for e in entries.values()]
