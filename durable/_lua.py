"""Lua workflows: a ``workflow.lua`` entry run by the Lua bridge's driver inside Temporal.

What it is for
    To the durable layer a Lua workflow is one more body ``async def body(ctx, *args)``:
    :class:`LuaWorkflow` builds a fresh deterministic Lua sandbox for the run and hands
    the script to the Lua bridge's driver (``run_lua_process``) with the
    :class:`~beamish.durable.WorkflowContext`. Every effect the script has —
    ``funcs.call``, ``time.sleep``, ``process.send``/``receive``, ``uuid.v4`` — is a
    driver command performed through that context, so it becomes a recorded Temporal
    command with no Lua-specific code here. This module adds what only workflows have:
    the ``workflow`` Lua module and the determinism rules. (The ``workflow.lua`` entry
    kind that builds these bodies from YAML lives with the other kinds, ``_kinds.py``.)

Determinism
    1. A **fresh Lua runtime per run** (replay rebuilds the Lua state by re-execution;
       nothing is shared between runs or with the kernel's host sandboxes). Cheap to
       build: the host Lua is precompiled once per Python process and only loaded, and
       ``time``/``json``/``funcs``/``workflow``... are built on first ``require`` (the
       Lua bridge's ``Sandbox``); no Lua state is shared, only immutable bytecode.
    2. Every effect goes through a yield (the driver's commands); time, ids and
       randomness come from the workflow context.
    3. Only deterministic modules can be required: ``time``, ``json``, ``funcs``,
       ``uuid``, ``ctx``, ``logger``, ``workflow``, ``hash``, ``crypto`` (its random
       bytes and nonces come from the workflow's recorded randomness), plus the globals
       ``process``, ``channel``, ``errors``, ``payload``. Listing another module in
       ``modules:`` is a load error naming it.
    4. Deterministic iteration: the sandbox uses Lua 5.5 with ``string_hash_seed=0``
       (``pairs`` over string keys is reproducible across OS processes), and
       ``math.random`` is seeded from ``workflow.random()`` at the start of every run, so
       the same run draws the same numbers on replay.
    5. An instruction budget per resume (:data:`WORKFLOW_INSTRUCTION_BUDGET`) keeps any
       stretch of Lua between two yields far below Temporal's 2 s deadlock detector; an
       exhausted budget fails the workflow with an error naming the script.
    An uncaught Lua error fails the *workflow* (non-retryable ``ApplicationError`` with
    the error's kind), never just the task.

The ``workflow`` module (Wippy's documented API)
    ``workflow.info()`` (nil outside a workflow), ``workflow.exec(id, ...)`` and its
    alias ``workflow.execute`` (child workflow, ``result, err``; in a function or
    process the entry's worker starts it, ``_wfmodule.py``),
    ``workflow.version(change_id, min, max)``,
    ``workflow.attrs{memo=...}`` (search attributes: INVALID, not supported yet),
    ``workflow.history_length()``, ``workflow.history_size()``.

Imports no trio itself: it runs inside workflows. (The ``beamish`` package, whose
kernel does import trio, is passed through Temporal's sandbox, never re-imported.)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import temporalio.workflow as workflow

from beamish.actors import Context, Error, ErrorKind
from beamish.luabridge import (
    DEFAULT_MAX_MEMORY,
    GLOBAL_MODULES,
    DirectAwait,
    Driver,
    HostLua,
    LuaEntrySpec,
    LuaScripts,
    Sandbox,
    command,
    exec_await,
    install_modules,
    run_lua_process,
)

from ._context import WorkflowContext
from ._wfmodule import exec_outside

__all__ = [
    "WORKFLOW_INSTRUCTION_BUDGET",
    "WORKFLOW_MODULES",
    "LuaWorkflow",
    "check_workflow_modules",
    "lua_workflow_body",
    "new_workflow_sandbox",
]

#: Modules a workflow script may list in ``modules:`` (deterministic ones only).
WORKFLOW_MODULES = frozenset(
    {"time", "json", "funcs", "uuid", "ctx", "logger", "workflow", "hash", "crypto"}
)
#: Instructions per resume: ~0.1-0.3 s of Lua at most, far below the 2 s deadlock detector.
WORKFLOW_INSTRUCTION_BUDGET = 30_000_000

#: Privileged Lua, ``lua/workflow.lua``: called with (core); returns the module table.
WORKFLOW_LUA = HostLua("beamish.durable", "workflow.lua")
#: Privileged Lua, ``lua/send.lua``: called with (core, process); makes ``process.send``
#: wait for the send's outcome.
SEND_LUA = HostLua("beamish.durable", "send.lua")


def _in_workflow(drv: Driver) -> bool:
    """Whether the script runs as a workflow (its context records and replays)."""
    ctx: Context = drv.ctx
    return ctx.durable


def _err(drv: Driver, exc: Error) -> tuple[Any, ...]:
    return (0, None, drv.sb.convert.error_to_lua(exc))


@command("wf_info")
def _wf_info(drv: Driver, tid: int) -> tuple[Any, ...]:
    if not _in_workflow(drv):
        return (0, None)
    return (0, drv.sb.to_lua(drv.ctx.workflow_info()))


@command("wf_history")
def _wf_history(drv: Driver, tid: int, what: Any = None) -> tuple[Any, ...]:
    if not _in_workflow(drv):
        return (0, 0)
    return (0, int(drv.ctx.workflow_info()[str(what)]))


@command("wf_version")
def _wf_version(
    drv: Driver, tid: int, change_id: Any = None, lo: Any = None, hi: Any = None
) -> tuple[Any, ...]:
    if not isinstance(change_id, str) or not change_id:
        return (1, "bad argument #1 to 'version' (change id string expected)")
    if not isinstance(lo, int) or not isinstance(hi, int):
        return (1, "bad arguments to 'version' (integer min and max expected)")
    if lo > hi:
        return _err(
            drv,
            Error(
                f"workflow.version: min {lo} > max {hi}", kind=ErrorKind.INVALID, retryable=False
            ),
        )
    if not _in_workflow(drv):
        return (0, hi)
    return (0, drv.ctx.version(change_id, lo, hi))


@command("wf_attrs")
def _wf_attrs(drv: Driver, tid: int, t: Any = None) -> tuple[Any, ...]:
    spec = drv.sb.from_lua(t) if t is not None else None
    if not isinstance(spec, dict) or not ({"memo", "search"} & set(spec)):
        return _err(
            drv,
            Error(
                "workflow.attrs needs {memo=...} or {search=...}",
                kind=ErrorKind.INVALID,
                retryable=False,
            ),
        )
    if spec.get("search"):
        return _err(
            drv,
            Error(
                "workflow.attrs{search=...} is not supported yet by beamish",
                kind=ErrorKind.INVALID,
                retryable=False,
            ),
        )
    if _in_workflow(drv) and spec.get("memo"):
        workflow.upsert_memo(dict(spec["memo"]))
    return (0, True)


@command("wf_sent")
def _wf_sent(drv: Driver, tid: int) -> Any:
    """After a ``process.send`` that left the script: wait for its outcome (a signal's
    answer from Temporal); ``true`` or ``nil, err``. A local send, or any send outside
    a workflow: ``true`` at once, without yielding to the script's other coroutines."""
    ctx = drv.ctx
    if not isinstance(ctx, WorkflowContext) or not ctx.send_pending:
        return (0, True)

    async def confirmed() -> tuple[Any, ...]:
        try:
            await ctx.sent()
        except Error as exc:
            return _err(drv, exc)
        return (0, True)

    return DirectAwait(confirmed)


@command("wf_exec")
def _wf_exec(drv: Driver, tid: int, target: Any = None, *args: Any) -> Any:
    if not _in_workflow(drv):
        # A function or process: the entry's worker runs it (``_wfmodule.py``).
        return exec_outside(drv, target, args)
    if not isinstance(target, str) or not target:
        return (1, "bad argument #1 to 'exec' (workflow entry ID expected)")
    payload = tuple(drv.sb.from_lua(a) for a in args)
    # Alone in its process: one awaited child workflow; beside siblings: a child whose
    # EXIT event wakes the task, so the other coroutines keep running meanwhile.
    return exec_await(drv, target, payload, {}, _err)  # type: ignore[arg-type]


def install_workflow_module(sb: Sandbox) -> None:
    """Add the ``workflow`` module to a sandbox that has the standard modules."""
    if "workflow" in sb.module_names:
        return
    core = sb.core
    sb.install_lazy_modules(("workflow",), WORKFLOW_LUA, lambda: (core,))
    sb.module_names = sb.module_names | {"workflow"}


def new_workflow_sandbox(
    name: str,
    *,
    max_memory: int | None = DEFAULT_MAX_MEMORY,
    instruction_budget: int = WORKFLOW_INSTRUCTION_BUDGET,
) -> Sandbox:
    """A deterministic sandbox with the standard modules and ``workflow``."""
    sb = Sandbox(
        max_memory=max_memory,
        instruction_budget=instruction_budget,
        deterministic=True,
        name=name,
    )
    install_modules(sb)
    install_workflow_module(sb)
    process = sb.core.process
    sb.eval_privileged(SEND_LUA, sb.core, process)
    sb.install_module("process", process, is_global=True)  # scripts see the new send
    return sb


def check_workflow_modules(spec: LuaEntrySpec) -> None:
    """Refuse (the entry's load error) a ``modules:`` name a workflow may not require."""
    allowed = WORKFLOW_MODULES | set(GLOBAL_MODULES)
    for m in spec.modules:
        if m not in allowed:
            raise spec.error(
                f"module {m!r} is not available in workflows: a workflow may only require "
                f"deterministic modules ({', '.join(sorted(WORKFLOW_MODULES))}); do I/O in a "
                "function called with funcs.call (it runs as an activity)"
            )


class LuaWorkflow:
    """The body of a ``workflow.lua`` entry: ``await LuaWorkflow(...)(ctx, *args)``.

    ``libraries`` holds the ``library.lua`` specs its ``imports`` may reach. Compiling
    is the Lua bridge's (:meth:`~beamish.luabridge.LuaScripts.prepare`), into a fresh
    sandbox per run. Raises the entry's load error for a module workflows may not use.
    """

    def __init__(
        self,
        spec: LuaEntrySpec,
        libraries: Mapping[str, LuaEntrySpec] | None = None,
        *,
        max_memory: int | None = DEFAULT_MAX_MEMORY,
        instruction_budget: int = WORKFLOW_INSTRUCTION_BUDGET,
    ) -> None:
        check_workflow_modules(spec)
        self.spec = spec
        self.libraries = dict(libraries or {})
        self.max_memory = max_memory
        self.instruction_budget = instruction_budget
        self.__qualname__ = f"lua_workflow[{spec.id}]"
        self._scripts = LuaScripts()
        for s in (*self.libraries.values(), spec):
            self._scripts.add(s)

    def prepare(self, sb: Sandbox) -> Any:
        """Compile the entry (and the libraries it imports) into ``sb``; its Lua spec.
        Raises :class:`~beamish.luabridge.LuaSyntaxError` naming the chunk."""
        return self._scripts.prepare(sb, self.spec.id, cache={})  # the sandbox is this run's

    async def __call__(self, ctx: Context, *args: Any) -> Any:
        sb = new_workflow_sandbox(
            f"workflow:{self.spec.id}",
            max_memory=self.max_memory,
            instruction_budget=self.instruction_budget,
        )
        # math.random seeded from the context: in a workflow that draw is recorded, so
        # replay seeds the same and the script draws the same numbers.
        sb.eval_privileged("math.randomseed(...)", int(ctx.random() * 2**53), name="seed")
        if isinstance(ctx, WorkflowContext):  # Wippy's semantics for scripts:
            ctx.confirm_sends = True  # process.send waits for a signal's outcome
            ctx.select_by_arrival = True  # coroutines see messages in arrival order
        lspec = self.prepare(sb)
        return await run_lua_process(ctx, sb, lspec, self.spec.method or "main", args)

    def __repr__(self) -> str:
        return f"<LuaWorkflow {self.spec.id}>"


def lua_workflow_body(
    entry_id: str,
    source: str,
    *,
    method: str = "main",
    modules: tuple[str, ...] | list[str] = (),
    imports: Mapping[str, str] | None = None,
    libraries: Mapping[str, LuaEntrySpec] | None = None,
    chunkname: str | None = None,
) -> LuaWorkflow:
    """A workflow body from Lua source (for Python users, tests and benchmarks)."""
    spec = LuaEntrySpec(
        id=entry_id,
        kind="workflow.lua",
        source=source,
        chunkname=chunkname or f"{entry_id}.lua",
        method=method,
        modules=tuple(modules),
        imports=dict(imports or {}),
    )
    body = LuaWorkflow(spec, libraries)
    # fail now on syntax errors, not in the first workflow task
    body.prepare(new_workflow_sandbox(f"check:{entry_id}"))
    return body
