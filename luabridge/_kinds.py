"""Entry kinds ``library.lua``, ``function.lua``, ``process.lua`` and ``pg.scope`` for the
app shell.

What it is for: the shell (``beamish._kinds``) collects ``KIND_HANDLERS`` from this
package. Each handler checks its entries at load time (:func:`~._entries.check_entry`:
file, syntax, imports, modules, method) and, when the app starts, registers them on the
node: functions in ``node.functions``, process bodies with ``node.register_process``,
libraries in the node's :class:`~._scripts.LuaScripts` so imports resolve.

Handlers see entries, the registry and the app through the kernel's protocols
(:class:`~beamish.actors.Entry`, :class:`~beamish.actors.RegistryLike`,
:class:`~beamish.actors.AppLike`): this layer must not import the shell.

A ``pg.scope`` entry declares a scope of process groups named by its ID (the ``pg``
Lua module, :mod:`._lib_pg`, opens only declared scopes); it takes no field of its own.

Order (the shell installs by ``order``): pg scopes (1) and libraries (5) before
functions (10) before processes (20), after hosts (0).
"""

from __future__ import annotations

import weakref
from typing import Any

from beamish.actors import AppLike, Entry, LoadError, RegistryLike, process_host

from ._entries import LUA_KINDS, LuaEntrySpec, check_entry, spec_from_entry
from ._scripts import scripts_for

__all__ = ["KIND_HANDLERS", "LuaFunctionKind", "LuaLibraryKind", "LuaProcessKind", "PgScopeKind"]

_specs: weakref.WeakKeyDictionary[RegistryLike, dict[str, LuaEntrySpec]] = (
    weakref.WeakKeyDictionary()
)
_spec_errors: weakref.WeakKeyDictionary[RegistryLike, dict[str, LoadError]] = (
    weakref.WeakKeyDictionary()
)


def _registry_specs(registry: RegistryLike) -> dict[str, LuaEntrySpec]:
    """Specs of every Lua entry of ``registry`` whose fields and source could be read
    (read once per registry). An entry that could not is left out, its
    :class:`LoadError` kept for its own ``validate`` (one bad entry must not fail the
    others: an importer of it sees a missing library)."""
    specs = _specs.get(registry)
    if specs is None:
        specs = {}
        errors: dict[str, LoadError] = {}
        for entry in registry:
            if entry.kind in LUA_KINDS:
                try:
                    specs[entry.id] = spec_from_entry(entry)
                except LoadError as exc:
                    errors[entry.id] = exc
        _specs[registry] = specs
        _spec_errors[registry] = errors
    return specs


#: The keys a Lua entry takes (``pool`` and ``security`` are Wippy's, accepted and
#: ignored: beamish runs every call in the caller's context).
_LUA_FIELDS = frozenset({"source", "method", "modules", "imports", "pool", "security", "lifecycle"})


class _LuaKind:
    kind = ""
    order = 0

    def validate(self, entry: Entry, registry: RegistryLike) -> None:
        specs = _registry_specs(registry)
        spec = specs.get(entry.id)
        if spec is None:
            failed = _spec_errors.get(registry, {}).get(entry.id)
            if failed is not None:
                raise failed
            spec = spec_from_entry(entry)  # not in the registry it was checked against
        check_entry(spec, specs.get, owner=registry)

    def _install_spec(self, entry: Entry, app: AppLike) -> tuple[Any, LuaEntrySpec]:
        specs = _registry_specs(app.registry)
        spec = specs.get(entry.id) or spec_from_entry(entry)
        scripts = scripts_for(app.node)
        for s in specs.values():  # libraries and entries any import may reach
            if s.id not in scripts.specs:
                scripts.add(s)
        scripts.add(spec)
        return scripts, spec


class LuaLibraryKind(_LuaKind):
    """``library.lua``: shared Lua code, reachable through ``imports`` + ``require``."""

    kind = "library.lua"
    fields = frozenset({"source", "modules", "imports"})
    order = 5

    async def install(self, entry: Entry, app: AppLike) -> None:
        self._install_spec(entry, app)


class LuaFunctionKind(_LuaKind):
    """``function.lua``: a stateless Lua function called with ``funcs.call`` / ``node.call``."""

    kind = "function.lua"
    fields = _LUA_FIELDS
    order = 10

    async def install(self, entry: Entry, app: AppLike) -> None:
        scripts, _spec = self._install_spec(entry, app)
        app.node.functions.register(entry.id, scripts.function(entry.id), meta=entry.meta)

    async def run(self, entry: Entry, app: AppLike, args: tuple[Any, ...]) -> Any:
        return await app.node.call(entry.id, *args)


class LuaProcessKind(_LuaKind):
    """``process.lua``: an actor whose ``method`` receives the spawn arguments."""

    kind = "process.lua"
    fields = _LUA_FIELDS | {"host"}
    order = 20

    async def install(self, entry: Entry, app: AppLike) -> None:
        scripts, _spec = self._install_spec(entry, app)
        app.node.register_process(entry.id, scripts.process_body(entry.id))

    async def run(self, entry: Entry, app: AppLike, args: tuple[Any, ...]) -> Any:
        return await app.node.exec(entry.id, *args, host=process_host(entry, app))


class PgScopeKind:
    """``pg.scope``: a scope of process groups, named by the entry's ID (Erlang's and
    Wippy's ``pg`` scope). Installing it creates the scope on the node and lets Lua's
    ``pg.open(id)`` open it; the groups themselves are the kernel's
    (``node.groups.scope(id)``), so Python processes use them too (``ctx.pg(id)``)."""

    kind = "pg.scope"
    #: Wippy's tuning keys of a scope: accepted (no warning) and ignored, since beamish
    #: has no queue, breaker or retry of its own to tune.
    fields = frozenset({
        "lifecycle", "protocol_timeout", "broadcast_timeout", "anti_entropy_interval",
        "circuit_breaker_reset_time", "retry_base_delay", "retry_max_delay",
        "action_queue_size", "action_queue_max_size", "monitor_buffer", "max_groups",
        "max_members_per_group", "circuit_breaker_failures", "max_retries",
    })
    order = 1

    def validate(self, entry: Entry, registry: RegistryLike) -> None:
        """Nothing to check: the ID is the scope's name."""

    async def install(self, entry: Entry, app: AppLike) -> None:
        app.node.groups.scope(entry.id)
        scripts_for(app.node).pg_scopes.add(entry.id)


#: Collected by the app shell.
KIND_HANDLERS = (PgScopeKind(), LuaLibraryKind(), LuaFunctionKind(), LuaProcessKind())
