"""Lua workflows: a ``workflow.lua`` entry run by the Lua bridge's driver inside Temporal.

What it is for
    To the durable layer a Lua workflow is one more body ``async def body(ctx, *args)``:
    :class:`LuaWorkflow` builds a fresh deterministic Lua sandbox for the run and hands
    the script to the Lua bridge's driver (``run_lua_process``) with the
    :class:`~beamish.durable.WorkflowContext`. Every effect the script has —
    ``funcs.call``, ``time.sleep``, ``process.send``/``receive``, ``uuid.v4`` — is a
    driver command performed through that context, so it becomes a recorded Temporal
    command with no Lua-specific code here. This module adds what only workflows have:
    the ``workflow`` Lua module and the determinism rules.

Determinism (``temporal-notes.md``)
    1. A **fresh Lua runtime per run** (replay rebuilds the Lua state by re-execution;
       nothing is shared between runs or with the kernel's host sandboxes). Cheap to
       build: the host Lua is precompiled once per Python process and only loaded, and
       ``time``/``json``/``funcs``/``workflow``... are built on first ``require`` (the
       Lua bridge's ``Sandbox``); no Lua state is shared, only immutable bytecode.
    2. Every effect goes through a yield (the driver's commands); time, ids and
       randomness come from the workflow context.
    3. Only deterministic modules can be required: ``time``, ``json``, ``funcs``,
       ``uuid``, ``ctx``, ``logger``, ``workflow`` (plus the globals ``process``,
       ``channel``, ``errors``, ``payload``). Listing another module in ``modules:`` is
       a load error naming it.
    4. Deterministic iteration: the sandbox uses Lua 5.5 with ``string_hash_seed=0``
       (``pairs`` over string keys is reproducible across OS processes), and
       ``math.random`` is seeded from ``workflow.random()`` at the start of every run, so
       the same run draws the same numbers on replay.
    5. An instruction budget per resume (:data:`WORKFLOW_INSTRUCTION_BUDGET`) keeps any
       stretch of Lua between two yields far below Temporal's 2 s deadlock detector; an
       exhausted budget fails the workflow with an error naming the script.
    An uncaught Lua error fails the *workflow* (non-retryable ``ApplicationError`` with
    the error's kind), never just the task.

The ``workflow`` module (``lua-api.md`` §1.7)
    ``workflow.info()`` (nil outside a workflow), ``workflow.exec(id, ...)`` (child
    workflow, ``result, err``), ``workflow.version(change_id, min, max)``,
    ``workflow.attrs{memo=...}`` (search attributes: INVALID, not supported yet),
    ``workflow.history_length()``, ``workflow.history_size()``.

Imports no trio itself: it runs inside workflows. (The ``beamish`` package, whose
kernel does import trio, is passed through Temporal's sandbox, never re-imported.)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import temporalio.workflow as workflow

from beamish.actors._errors import Error, ErrorKind
from beamish.luabridge._commands import command
from beamish.luabridge._entries import LuaEntrySpec, spec_from_entry
from beamish.luabridge._lib_process import exec_await
from beamish.luabridge._modules import GLOBAL_MODULES, install_modules
from beamish.luabridge._runtime import DEFAULT_MAX_MEMORY, LuaSyntaxError, Sandbox
from beamish.luabridge._scripts import run_lua_process

if TYPE_CHECKING:
    from beamish._app import App
    from beamish._registry import Entry, Registry

__all__ = [
    "WORKFLOW_INSTRUCTION_BUDGET",
    "WORKFLOW_MODULES",
    "LuaWorkflow",
    "WorkflowLuaKind",
    "lua_workflow_body",
]

#: Modules a workflow script may list in ``modules:`` (deterministic ones only).
WORKFLOW_MODULES = frozenset({"time", "json", "funcs", "uuid", "ctx", "logger", "workflow"})
#: Instructions per resume: ~0.1-0.3 s of Lua at most, far below the 2 s deadlock detector.
WORKFLOW_INSTRUCTION_BUDGET = 30_000_000

WORKFLOW_LUA = r"""
local core = ...
local command = core.command
local workflow = {}
function workflow.info() return command("wf_info") end
function workflow.exec(id, ...) return command("wf_exec", id, ...) end
function workflow.version(change_id, min, max) return command("wf_version", change_id, min, max) end
function workflow.attrs(t) return command("wf_attrs", t) end
function workflow.history_length() return command("wf_history", "history_length") end
function workflow.history_size() return command("wf_history", "history_size") end
return workflow
"""


def _in_workflow(drv: Any) -> bool:
    return getattr(drv.ctx, "kind", None) == "workflow"


def _err(drv: Any, exc: Error) -> tuple[Any, ...]:
    return (0, None, drv.sb.convert.error_to_lua(exc))


@command("wf_info")
def _wf_info(drv: Any, tid: int) -> tuple[Any, ...]:
    if not _in_workflow(drv):
        return (0, None)
    return (0, drv.sb.to_lua(drv.ctx.workflow_info()))


@command("wf_history")
def _wf_history(drv: Any, tid: int, what: Any = None) -> tuple[Any, ...]:
    if not _in_workflow(drv):
        return (0, 0)
    return (0, int(drv.ctx.workflow_info()[str(what)]))


@command("wf_version")
def _wf_version(drv: Any, tid: int, change_id: Any = None, lo: Any = None, hi: Any = None) -> Any:
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
def _wf_attrs(drv: Any, tid: int, t: Any = None) -> tuple[Any, ...]:
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


@command("wf_exec")
def _wf_exec(drv: Any, tid: int, target: Any = None, *args: Any) -> Any:
    if not _in_workflow(drv):
        return _err(
            drv,
            Error(
                "workflow.exec is not yet supported outside a workflow",
                kind=ErrorKind.INVALID,
                retryable=False,
            ),
        )
    if not isinstance(target, str) or not target:
        return (1, "bad argument #1 to 'exec' (workflow entry ID expected)")
    payload = tuple(drv.sb.from_lua(a) for a in args)
    # Alone in its process: one awaited child workflow; beside siblings: a child whose
    # EXIT event wakes the task, so the other coroutines keep running meanwhile.
    return exec_await(drv, target, payload, {}, _err)


def install_workflow_module(sb: Sandbox) -> None:
    """Add the ``workflow`` module to a sandbox that has the standard modules."""
    if "workflow" in sb.module_names:
        return
    core = sb.core
    sb.install_lazy_modules(("workflow",), WORKFLOW_LUA, lambda: (core,), chunkname="workflow")
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
    return sb


def check_workflow_modules(spec: LuaEntrySpec) -> None:
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

    ``libraries`` holds the ``library.lua`` specs its ``imports`` may reach.
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

    def prepare(self, sb: Sandbox) -> Any:
        """Compile the entry (and the libraries it imports) into ``sb``."""
        done: dict[str, Any] = {}

        def register(spec: LuaEntrySpec, seen: frozenset[str]) -> Any:
            if spec.id in done:
                return done[spec.id]
            for target in spec.imports.values():
                lib = self.libraries.get(target)
                if lib is not None and target not in seen:
                    register(lib, seen | {spec.id})
            chunk = sb.compile(spec.source, spec.chunkname)
            lspec = sb.register_entry(spec.id, chunk, modules=spec.modules, imports=spec.imports)
            done[spec.id] = lspec
            return lspec

        return register(self.spec, frozenset())

    async def __call__(self, ctx: Any, *args: Any) -> Any:
        sb = new_workflow_sandbox(
            f"workflow:{self.spec.id}",
            max_memory=self.max_memory,
            instruction_budget=self.instruction_budget,
        )
        random = getattr(ctx, "random", None)
        if random is not None:  # same seed on replay: math.random is deterministic
            sb.eval_privileged("math.randomseed(...)", int(random() * 2**53), name="seed")
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


# -- the entry kind -------------------------------------------------------------------------


def _library_specs(registry: Registry) -> dict[str, LuaEntrySpec]:
    return {e.id: spec_from_entry(e) for e in registry.find("library.lua")}


class WorkflowLuaKind:
    """``workflow.lua``: a Lua script run as a durable workflow."""

    kind = "workflow.lua"
    order = 25

    def validate(self, entry: Entry, registry: Registry) -> None:
        from ._kinds import _worker_ref

        if _worker_ref(entry, registry, "workflow") is None:
            raise entry.error(
                "missing meta.temporal.workflow.worker (the temporal.worker entry that runs "
                "this workflow)"
            )
        spec = spec_from_entry(entry)
        check_workflow_modules(spec)
        libraries = _library_specs(registry)
        for alias, target in spec.imports.items():
            if target not in libraries:
                raise entry.error(f"import {alias!r} -> {target!r} is not a library.lua entry")
        try:
            LuaWorkflow(spec, libraries).prepare(new_workflow_sandbox(f"check:{entry.id}"))
        except LuaSyntaxError as e:
            raise entry.error(str(e)) from e

    async def install(self, entry: Entry, app: App) -> None:
        from ._kinds import _worker_host

        body = LuaWorkflow(spec_from_entry(entry), _library_specs(app.registry))
        _worker_host(entry, app).register_workflow(entry.id, body, kind=self.kind)

    async def run(self, entry: Entry, app: App, args: tuple[Any, ...]) -> Any:
        from ._kinds import _worker_host

        return await app.node.exec(entry.id, *args, host=_worker_host(entry, app).name)
