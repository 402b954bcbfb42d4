"""The ``security`` Lua module (``require("security")``): who a process runs as.

What it is for: Wippy code passes a security *actor* (an ID and metadata) and *scope* (a
set of policies) to the processes it spawns and the functions it calls, and reads them
back with ``security.actor()`` / ``security.scope()``. beamish carries both the same way;
it has **no policy engine**, and says so rather than pretend:

* **Carried**: the actor (ID, metadata) and the scope a process or call runs with. They
  are set with ``process.with_context(t):with_actor(a):with_scope(s)`` (spawn builders)
  and ``funcs.new():with_actor(a):with_scope(s)`` (executors), and **inherited**: a
  process spawned without them gets its spawner's, and a function runs with its
  caller's (a process function's process too).
* **Enforced**: nothing. No beamish module consults the actor or scope; anyone may
  create any actor or scope. There are no policy entries, so every scope is empty:
  ``security.can(...)`` is ``false`` and ``scope:evaluate(...)`` is ``"undefined"``, as
  Wippy answers for a scope without policies.

API (Wippy's names):

========================================  ===============================================
``security.actor()`` / ``scope()``         the current Actor / Scope, or ``nil``
``security.new_actor(id, meta?)``          an Actor; raises on a non-string ``id``
``security.new_scope(policies?)``          an empty Scope (no Policy objects exist)
``security.can(action, resource)``         ``false`` (no policies)
``security.policy(id)``,                   ``nil, err`` (kind INTERNAL): no policies in
``security.named_scope(id)``               beamish
``security.token_store(id)``               ``nil, err``: no token stores in beamish
``actor:id()`` / ``actor:meta()``          the ID / a fresh copy of the metadata
``scope:policies()``                       ``{}``; ``contains`` -> ``false``;
                                           ``without`` -> the scope; ``evaluate`` ->
                                           ``"undefined"``; ``with`` raises (no policy)
========================================  ===============================================

The pair travels in the process's context values under :data:`SECURITY_KEY` (plain data:
``{"actor": {"id", "meta"} | None, "scope": {} | None}``), which ``ctx.all()`` does not
list. Metadata is copied through the converter, so its size is bounded like any payload.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from beamish.actors import Error, ErrorKind

from ._commands import LuaProcess, command
from ._lua_sources import HostLua

__all__ = ["SECURITY_KEY", "SECURITY_LUA", "child_security", "security_of"]

#: Privileged Lua, ``lua/security.lua``: called with (core); returns the module table.
SECURITY_LUA = HostLua("beamish.luabridge", "security.lua")

#: The context-values key of the security pair (not a key scripts are meant to use).
SECURITY_KEY = "\x00beamish.security"


def security_of(values: Mapping[str, Any]) -> dict[str, Any]:
    """The security pair carried by context ``values`` (``{}`` when there is none)."""
    sec = values.get(SECURITY_KEY)
    return dict(sec) if isinstance(sec, Mapping) else {}


def _plain_actor(value: Any) -> dict[str, Any] | None:
    if not isinstance(value, Mapping) or value.get("kind") != "actor":
        return None
    ident = value.get("id")
    if not isinstance(ident, str):
        return None
    meta = value.get("meta")
    return {"kind": "actor", "id": ident, "meta": dict(meta) if isinstance(meta, Mapping) else {}}


def child_security(
    values: Mapping[str, Any], context: Mapping[str, Any] | None, spec: Mapping[str, Any]
) -> dict[str, Any] | None:
    """The context values of a child (a spawned process or a call) as to security.

    ``values`` are the parent's, ``context`` what the caller adds, ``spec`` a builder's or
    executor's fields (``actor``/``scope`` as set by ``with_actor``/``with_scope``).
    Returns ``context`` with the security pair added (the builder's, else the parent's),
    or ``context`` unchanged (``None`` included) when there is nothing to carry.
    """
    sec = security_of(values)
    actor = _plain_actor(spec.get("actor"))
    if actor is not None:
        sec["actor"] = actor
    if isinstance(spec.get("scope"), Mapping):
        sec["scope"] = {"kind": "scope"}
    if not sec:
        return dict(context) if context else None
    out = dict(context or {})
    out[SECURITY_KEY] = sec
    return out


# -- commands ---------------------------------------------------------------------------------

@command("security_get")
def _security_get(drv: LuaProcess, tid: int, which: Any) -> tuple[Any, ...]:
    if which not in ("actor", "scope"):
        raise Error("security_get: 'actor' or 'scope' expected", kind=ErrorKind.INVALID)
    part = security_of(drv.values).get(which)
    if not isinstance(part, Mapping):
        return (0, None)
    return (0, drv.sb.to_lua(dict(part)))


@command("security_copy")
def _security_copy(drv: LuaProcess, tid: int, meta: Any = None) -> tuple[Any, ...]:
    """A deep copy of an actor's metadata (a table of plain values), through the converter:
    what cannot cross (functions, userdata, cycles, oversize) raises INVALID."""
    value = drv.sb.from_lua(meta) if meta is not None else {}
    if not isinstance(value, dict):
        value = {}
    return (0, drv.sb.to_lua(value))
