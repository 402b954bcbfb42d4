"""The Lua entries of one node, the sandboxes that run them, and their kernel bodies.

What it is for: a :class:`LuaScripts` is what the entry kinds install into a running
node. It keeps the entry specs, creates one :class:`~._runtime.Sandbox` per process host
on first use (processes of a host share it: one coroutine each), compiles each entry
into a sandbox the first time it runs there, and hands the kernel

* a **process body** per ``process.lua`` entry: ``async def body(ctx, *args)`` that runs
  the entry's ``method`` through a :class:`~._driver.Driver` with that context;
* a **process function** per ``process.lua`` entry with a ``default_host`` (Wippy's
  rule, :mod:`._processfunc`): calling it runs the process and returns its result;
* a **function** per ``function.lua`` entry: ``async def fn(*args)`` that runs in the
  caller's context (``current_context()``/``current_values()``), as Wippy's functions
  do, on a pooled worker: the script is instantiated once per worker and reused, like
  Wippy's function pools (its globals survive between calls of that worker).

Functions run in a sandbox of their own (``node:functions``), so a memory-hungry
function cannot fail a host's processes.

:func:`run_lua_process` is the same body as a plain coroutine function, for other
layers that drive Lua with their own context (``beamish.durable`` inside a workflow,
with a fresh deterministic sandbox per run).

Invariant: an entry is compiled into a sandbox at most once (``_prepared``); a pooled
worker ``(P, tid)`` goes back to its pool only if its task survived its last call (no
raised error) and did not exhaust its budget.
"""

from __future__ import annotations

import weakref
from collections.abc import Mapping
from typing import Any

from beamish.actors import (
    DEFAULT_HOST,
    DEFAULT_LIMITS,
    Context,
    Error,
    ErrorKind,
    Limits,
    LocalHost,
    Node,
    current_context,
    current_values,
)

from ._convert import check_lua_payload
from ._driver import Driver, result_of
from ._entries import LuaEntrySpec
from ._lib_pg import end_subscriptions
from ._modules import install_modules
from ._processfunc import default_host_of, process_function
from ._runtime import Sandbox

__all__ = ["FUNCTION_SANDBOX", "LuaScripts", "run_lua_process", "scripts_for"]

#: Name of the sandbox that runs function entries.
FUNCTION_SANDBOX = "node:functions"
#: Idle workers kept per function entry.
POOL_SIZE = 16


class LuaScripts:
    """Lua entries and sandboxes of one node (see the module docstring).

    ``max_memory`` and ``instruction_budget`` apply to each sandbox it creates.
    """

    def __init__(
        self,
        *,
        max_memory: int | None = None,
        instruction_budget: int | None = None,
        limits: Limits | None = None,
        node: Node | None = None,
    ) -> None:
        #: Overrides of every sandbox's limits (tests, embedding); else each host's
        #: ``limits`` (:meth:`limits_of`).
        self.max_memory = max_memory
        self.instruction_budget = instruction_budget
        self.limits = limits
        self._node = weakref.ref(node) if node is not None else None
        self.specs: dict[str, LuaEntrySpec] = {}
        #: IDs of the ``pg.scope`` entries installed on the node (``pg.open`` accepts
        #: these only; every sandbox of this object shares the set).
        self.pg_scopes: set[str] = set()
        self._sandboxes: dict[str, Sandbox] = {}
        self._prepared: dict[tuple[int, str], Any] = {}
        self._pools: dict[tuple[int, str], list[Any]] = {}

    def __repr__(self) -> str:
        return f"<LuaScripts entries={len(self.specs)} sandboxes={sorted(self._sandboxes)}>"

    # -- entries and sandboxes ---------------------------------------------------------------

    def add(self, spec: LuaEntrySpec) -> None:
        """Add ``spec``; a ``process.lua`` entry with a ``default_host`` also becomes a
        function of the node under its ID (:mod:`._processfunc`), unless one exists."""
        self.specs[spec.id] = spec
        if spec.kind != "process.lua" or self._node is None:
            return
        node = self._node()
        host = default_host_of(spec.id, spec.meta)
        if node is not None and host is not None and spec.id not in node.functions:
            node.functions.register(spec.id, process_function(node, spec.id, host),
                                    meta=spec.meta)

    def spec(self, entry_id: str) -> LuaEntrySpec:
        spec = self.specs.get(entry_id)
        if spec is None:
            raise Error(f"Lua entry {entry_id!r} is not loaded", kind=ErrorKind.NOT_FOUND,
                        retryable=False)
        return spec

    def sandbox(self, name: str) -> Sandbox:
        """The sandbox of host ``name`` (created with every module on first use)."""
        sb = self._sandboxes.get(name)
        if sb is None:
            sb = Sandbox(max_memory=self.max_memory, instruction_budget=self.instruction_budget,
                         name=name, limits=self.limits_of(name))
            install_modules(sb)
            sb.entries = self.specs  # the `registry` module reads entry metadata there
            sb.pg_scopes = self.pg_scopes  # the scopes `pg.open` accepts
            self._sandboxes[name] = sb
        return sb

    def limits_of(self, host: str) -> Limits:
        """The limits of host ``host``'s Lua runtime: its ``process.host`` entry's
        ``limits``, else the node default host's, else the defaults (function calls
        run in the caller's context, in the :data:`FUNCTION_SANDBOX`)."""
        if self.limits is not None:
            return self.limits
        node = self._node() if self._node is not None else None
        if node is None:
            return DEFAULT_LIMITS
        for name in (host, DEFAULT_HOST):
            try:
                h = node.host(name)
            except Exception:
                continue
            if isinstance(h, LocalHost):
                return h.limits
        return DEFAULT_LIMITS

    @property
    def sandboxes(self) -> Mapping[str, Sandbox]:
        return self._sandboxes

    def prepare(self, sb: Sandbox, entry_id: str, *, cache: dict[Any, Any] | None = None) -> Any:
        """Compile ``entry_id`` (and the entries it imports) into ``sb`` once; its Lua spec.

        ``cache`` remembers what is compiled into which sandbox. Default: this object's
        own, right for the node's sandboxes, which live as long as it does. A caller
        whose sandbox serves one run (a workflow's, fresh per run) passes a new dict, so
        nothing outlives the sandbox. An import cycle compiles each entry once; the
        cycle itself is reported when the script ``require``s it.
        """
        done = self._prepared if cache is None else cache
        lspec = done.get((id(sb), entry_id))
        if lspec is not None:
            return lspec

        def compile_entry(eid: str, path: frozenset[str]) -> Any:
            key = (id(sb), eid)
            lspec = done.get(key)
            if lspec is not None:
                return lspec
            spec = self.spec(eid)
            for target in spec.imports.values():
                if target in self.specs and target not in path:
                    compile_entry(target, path | {target})
            chunk = sb.compile(spec.source, spec.chunkname)
            lspec = sb.register_entry(spec.id, chunk, modules=spec.modules, imports=spec.imports)
            done[key] = lspec
            return lspec

        return compile_entry(entry_id, frozenset((entry_id,)))

    # -- bodies --------------------------------------------------------------------------------

    def process_body(self, entry_id: str) -> Any:
        """``async def body(ctx, *args)`` running ``entry_id`` as a process."""
        scripts = self

        def lua_process(ctx: Context, *args: Any) -> Any:
            # A plain function returning the driver's coroutine: the kernel awaits it,
            # and an idle process holds one coroutine frame fewer.
            sb = scripts.sandbox(ctx.pid.host)
            P = sb.new_process(scripts.prepare(sb, entry_id))
            drv = Driver(sb, ctx, P)
            # The kernel may hibernate the process while it waits (never a workflow).
            drv.hib = ctx.can_hibernate
            drv.start_main(scripts.spec(entry_id).method or "main", args)
            return drv.run(result=True)

        lua_process.__qualname__ = f"lua_process[{entry_id}]"
        lua_process.__beamish_body__ = lua_process  # type: ignore[attr-defined] # returns an awaitable
        # Messages for it are checked at the sender's send (the kernel calls this).
        lua_process.__beamish_accepts__ = check_lua_payload  # type: ignore[attr-defined]
        return lua_process

    def function(self, entry_id: str) -> Any:
        """``async def fn(*args)`` running ``entry_id`` as a function in the caller's context."""
        scripts = self

        async def lua_function(*args: Any) -> Any:
            ctx = current_context()
            values = current_values()
            sb = scripts.sandbox(FUNCTION_SANDBOX)
            lspec = scripts.prepare(sb, entry_id)
            pool = scripts._pools.setdefault((id(sb), entry_id), [])
            if pool:
                P, tid = pool.pop()
            else:
                P, tid = sb.new_process(lspec), None
            drv = Driver(sb, ctx, P, values=values, reuse=True)
            tid = drv.call_worker(tid, scripts.spec(entry_id).method or "main", args)
            done = False
            try:
                out = drv.call_nowait()
                if out is None:  # it waits for something: the driver's loop takes over
                    out = await drv.run()
                done = True
            finally:
                if drv.cache:  # what the call subscribed to ends with it (pg monitors)
                    end_subscriptions(drv)
                # Back to the pool only after a finished call (a cancelled one leaves its
                # task mid-command), if its task survived (a raised error ends it) and
                # did not run out of budget.
                if sb.end_call(P, tid) and done and len(pool) < POOL_SIZE:
                    pool.append((P, tid))
                elif not done:
                    sb.kill(P)
            return result_of(sb, out)

        lua_function.__qualname__ = f"lua_function[{entry_id}]"
        return lua_function


async def run_lua_process(ctx: Context, sb: Sandbox, lspec: Any, method: str,
                          args: tuple[Any, ...] = ()) -> Any:
    """Run a prepared Lua entry as a process body with ``ctx``; its result (or raise).

    ``lspec`` comes from :meth:`LuaScripts.prepare` or :meth:`Sandbox.register_entry`.
    """
    P = sb.new_process(lspec)
    drv = Driver(sb, ctx, P)
    drv.start_main(method, tuple(args))
    return await drv.run(result=True)


_by_node: weakref.WeakKeyDictionary[Node, LuaScripts] = weakref.WeakKeyDictionary()


def scripts_for(node: Node) -> LuaScripts:
    """The :class:`LuaScripts` of ``node`` (created on first use)."""
    scripts = _by_node.get(node)
    if scripts is None:
        scripts = _by_node[node] = LuaScripts(node=node)
    return scripts
