"""``workflow.exec`` / ``workflow.execute`` in Lua functions and processes.

What it is for
    A Lua function or process starts a workflow entry and waits for its result with
    ``local result, err = workflow.execute("app.orders:process", order_id)``
    (``workflow.exec`` is the same call under Wippy's name). The caller names only the
    entry: the worker comes from the entry's ``meta.temporal.workflow.worker``, exactly
    as ``beamish run DIR -x ID`` and a ``process.exec(id, worker, ...)`` aimed at that
    worker do it. Inside a workflow the same call starts a *child* workflow (``_lua.py``);
    this module is only the path taken when the script does not run in a workflow.

Contract (Lua)
    ``workflow.exec(id, ...)`` returns the workflow's result, or ``nil, err``:

    * ``id`` not a ``"namespace:name"`` string: INVALID;
    * ``id`` not an entry of the app (or an unavailable one): NOT_FOUND naming it;
    * an entry that is not ``workflow.lua`` / ``workflow.py``: INVALID naming its kind;
    * its worker not on the node, or not serving it: the error ``process.exec`` gives
      for that worker (the same code path: the kernel's ``exec`` on the worker host);
    * the workflow fails: its error, kind and retryable flag kept.

    The wait is the one ``process.exec`` has (:func:`~beamish.luabridge.exec_await`):
    a process's other coroutines keep running while one waits. Cancelling the caller
    (a function's caller, or the process) ends the wait at once; the workflow itself
    keeps running durably (it is Temporal's, not the caller's: cancel it through its
    PID if it must stop). Wippy leaves this call unimplemented outside workflows, so
    there is no cancellation rule to follow there; this one matches ``process.exec``
    on a worker host, which also leaves the workflow running.

Design chosen
    The Lua bridge may not import this layer, and its drivers know no app registry.
    So the layer adds the ``workflow`` module to every Lua sandbox through the bridge's
    extension point (:func:`~beamish.luabridge.add_module`, called by ``_kinds.py``),
    and each app with durable entries *binds* its registry to the node's Lua scripts
    (:func:`bind_app`, from the kind installer). A call finds its app by the sandbox
    running it (one of :attr:`LuaScripts.sandboxes`), reads the entry's kind and worker
    from the registry, and hands the rest to the kernel's ``exec`` on that worker host.
    Alternatives rejected: a new ``Context`` method (every backend would have to
    implement a lookup only this layer needs), and a hidden function entry (visible to
    ``funcs.call`` and copying every argument once more).
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any

from beamish.actors import AppLike, Entry, Error, ErrorKind
from beamish.luabridge import Driver, LuaScripts, exec_await, scripts_for

__all__ = ["WORKFLOW_KINDS", "bind_app", "exec_outside"]

#: Entry kinds ``workflow.exec`` starts.
WORKFLOW_KINDS = ("workflow.lua", "workflow.py")

#: ``worker_of(entry)`` -> the worker host ID of a workflow entry, or ``None``.
WorkerOf = Callable[[Entry], str | None]

#: Lua scripts of a node -> (the app, weakly; how to read an entry's worker).
_bound: weakref.WeakKeyDictionary[LuaScripts, tuple[weakref.ref[Any], WorkerOf]] = (
    weakref.WeakKeyDictionary()
)


def bind_app(app: AppLike, worker_of: WorkerOf) -> None:
    """Let Lua on ``app.node`` start ``app``'s workflow entries with ``workflow.exec``.

    ``worker_of(entry)`` returns the entry's worker host ID (its
    ``meta.temporal.workflow.worker``, resolved) or ``None``. Idempotent; the binding
    holds the app weakly and ends with the node's Lua scripts.
    """
    _bound[scripts_for(app.node)] = (weakref.ref(app), worker_of)


def _error(message: str, kind: ErrorKind) -> Error:
    return Error(message, kind=kind, retryable=False)


def _binding(drv: Driver) -> tuple[AppLike, WorkerOf] | None:
    sb = drv.sb
    for scripts, (app_ref, worker_of) in list(_bound.items()):
        if any(s is sb for s in scripts.sandboxes.values()):
            app = app_ref()
            return None if app is None else (app, worker_of)
    return None


def _worker_host(drv: Driver, target: str) -> str:
    """The worker host of workflow entry ``target``; raises the call's Error."""
    bound = _binding(drv)
    if bound is None or target not in bound[0].registry:
        raise _error(
            f"workflow.exec: entry {target!r} not found; check the entry ID and that its "
            "YAML entry (workflow.lua / workflow.py) was loaded",
            ErrorKind.NOT_FOUND,
        )
    app, worker_of = bound
    entry = app.registry.get(target)
    if entry.kind not in WORKFLOW_KINDS:
        raise _error(
            f"workflow.exec: entry {target!r} is a {entry.kind} entry, not a workflow "
            f"({' / '.join(WORKFLOW_KINDS)}); call functions with funcs.call and start "
            "processes with process.exec",
            ErrorKind.INVALID,
        )
    worker = worker_of(entry)
    if worker is None:
        raise _error(
            f"workflow.exec: workflow entry {target!r} has no "
            "meta.temporal.workflow.worker (the temporal.worker entry that runs it)",
            ErrorKind.INVALID,
        )
    return worker


def exec_outside(drv: Driver, target: Any, args: tuple[Any, ...]) -> Any:
    """The driver command ``workflow.exec(target, *args)`` outside a workflow.

    Returns the command's answer: ``nil, err`` at once when the call cannot start, else
    the wait of the exec on the entry's worker host (its result, or ``nil, err``).
    """

    def err(drv_: Any, exc: Error) -> tuple[Any, ...]:
        return (0, None, drv.sb.convert.error_to_lua(exc))

    try:
        if not isinstance(target, str) or ":" not in target:
            raise _error(
                f"workflow.exec: workflow ID must be a 'namespace:name' string, got {target!r}",
                ErrorKind.INVALID,
            )
        host = _worker_host(drv, target)
        payload = tuple(drv.sb.from_lua(a) for a in args)
    except Error as exc:
        return err(drv, exc)
    return exec_await(drv, target, payload, {"host": host}, err)
