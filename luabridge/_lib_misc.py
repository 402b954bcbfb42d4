"""Small Lua modules: ``uuid``, ``ctx``, ``json``, ``logger``, ``registry`` (one chunk,
built on the first ``require`` of any of them).

Wippy's documented APIs:

=======================================  =================================================
``uuid.v4()`` / ``uuid.v7()``            ``string, err`` from the context (recorded in a
                                         workflow, so replay returns the same value)
``uuid.v5(ns, name)``/``uuid.v3(...)``    deterministic; ``ns`` a UUID string
``uuid.validate(x)`` -> bool,            ``version`` -> int, ``variant`` -> ``"RFC4122"``
``uuid.version(id)``, ``uuid.variant``,  ...; ``parse`` -> ``{version, variant,
``uuid.parse(id)``, ``uuid.format(id,   timestamp}`` (v7: Unix ms); ``format``
fmt)``                                   ``"standard" | "simple" | "urn"``
``ctx.get(key)`` -> ``value, err``       NOT_FOUND if absent, INVALID if empty key
``ctx.all()`` -> ``table``               the context values this code runs with
``json.encode(v)`` -> ``string, err``    sorted keys; arrays from sequences; ``{}`` for
                                         an empty map-marked table, ``[]`` otherwise
``json.decode(s)`` -> ``value, err``     ``null`` -> nil; raises for a non-string
``logger:info/debug/warn/error(msg,      Python ``logging`` (``beamish.lua``), with the
fields?)``, ``logger:with(fields)``,     PID, entry and fields in ``extra``
``logger:named(name)``
=======================================  =================================================

Pure functions are direct Python callbacks (no yield); the ones that read the process
(``uuid.v4/v7`` through the context, ``ctx.*``) are commands.
"""

from __future__ import annotations

import json
import logging
import math
import uuid as _uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from beamish.actors import Error, ErrorKind

from ._callbacks import safe_callback
from ._commands import LuaProcess, command
from ._lib_security import SECURITY_KEY
from ._lua_sources import HostLua

if TYPE_CHECKING:
    from ._runtime import Sandbox

__all__ = ["MISC_LUA", "misc_callbacks"]

#: Privileged Lua, ``lua/misc.lua``: called with (core, callbacks); returns
#: ``{uuid=..., ctx=..., json=..., logger=..., registry=...}``.
MISC_LUA = HostLua("beamish.luabridge", "misc.lua")

_log = logging.getLogger("beamish.lua")
_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warn": logging.WARNING,
           "error": logging.ERROR}


def _parse_uuid(text: str) -> _uuid.UUID:
    t = text.strip()
    if t.lower().startswith("urn:uuid:"):
        t = t[9:]
    return _uuid.UUID(t)


def _variant(u: _uuid.UUID) -> str:
    return {
        _uuid.RFC_4122: "RFC4122",
        _uuid.RESERVED_NCS: "NCS",
        _uuid.RESERVED_MICROSOFT: "Microsoft",
        _uuid.RESERVED_FUTURE: "Future",
    }.get(u.variant, "Invalid")


def misc_callbacks(sb: Sandbox) -> dict[str, Callable[..., Any]]:
    """Pure helpers for the Lua side; each returns ``nil, message`` instead of raising."""

    def fail(exc: Exception) -> tuple[None, str]:
        return (None, str(exc) or type(exc).__name__)

    def uuid_named(version: int, ns: str, name: str) -> str:
        try:
            namespace = _parse_uuid(ns)
        except ValueError:
            raise ValueError(f"invalid namespace UUID {ns!r}") from None
        fn = _uuid.uuid5 if version == 5 else _uuid.uuid3
        return str(fn(namespace, name))

    def uuid_valid(text: str) -> bool:
        try:
            _parse_uuid(text)
        except ValueError:
            return False
        return True

    def uuid_version(text: str) -> int:
        return int(_parse_uuid(text).int >> 76 & 0xF)

    def uuid_variant(text: str) -> str:
        return _variant(_parse_uuid(text))

    def uuid_parse(text: str) -> tuple[Any, ...]:
        u = _parse_uuid(text)
        version = int(u.int >> 76 & 0xF)
        ts = None
        if version == 7:
            ts = u.int >> 80  # Unix milliseconds
        elif version == 1:
            ts = (u.time - 0x01B21DD213814000) // 10_000  # Unix milliseconds
        return (version, _variant(u), ts)

    def uuid_format(text: str, fmt: str) -> str:
        u = _parse_uuid(text)
        if fmt == "standard":
            return str(u)
        if fmt == "simple":
            return u.hex
        if fmt == "urn":
            return u.urn
        raise ValueError(f"unknown uuid format {fmt!r} (use standard, simple or urn)")

    def json_encode(value: Any) -> str:
        data = sb.from_lua(value)
        return json.dumps(_json_ready(data), ensure_ascii=False, separators=(",", ":"),
                          sort_keys=True, allow_nan=False)

    def json_decode(text: str) -> tuple[bool, Any]:
        try:
            data = json.loads(text)
        except ValueError as exc:
            return (False, f"invalid JSON: {exc}")
        return (True, sb.to_lua(data))

    def log(level: str, name: Any, msg: str, fields: Any) -> None:
        drv: LuaProcess | None = sb.current
        extra = sb.from_lua(fields) if fields is not None else {}
        if not isinstance(extra, dict):
            extra = {}
        ctx = drv.ctx if drv is not None else None  # (None: no process, e.g. a load check)
        pid = ctx.pid if ctx is not None else None
        entry = ctx.entry_id if ctx is not None else None
        logger = _log.getChild(str(name)) if name else _log
        logger.log(_LEVELS.get(level, logging.INFO), "%s", msg,
                   extra={"lua_fields": extra, "pid": str(pid) if pid else None,
                          "entry": entry})

    def entry_view(spec: Any) -> dict[str, Any]:  # a LuaEntrySpec
        return {"id": spec.id, "kind": spec.kind, "meta": dict(spec.meta)}

    def registry_find(criteria: Any) -> Any:
        crit = sb.from_lua(criteria) if criteria is not None else {}
        if not isinstance(crit, dict):
            crit = {}
        found = []
        for spec in sb.entries.values():
            if all(_matches(spec, k, v) for k, v in crit.items()):
                found.append(entry_view(spec))
        found.sort(key=lambda e: e["id"])
        return sb.to_lua(found)

    def registry_get(entry_id: str) -> Any:
        spec = sb.entries.get(entry_id)
        return None if spec is None else sb.to_lua(entry_view(spec))

    return {
        "registry_find": safe_callback(registry_find, lambda e: sb.to_lua([])),
        "registry_get": safe_callback(registry_get, lambda e: None),
        "uuid_named": safe_callback(uuid_named, fail),
        "uuid_valid": safe_callback(uuid_valid, lambda e: False),
        "uuid_version": safe_callback(uuid_version, fail),
        "uuid_variant": safe_callback(uuid_variant, fail),
        "uuid_parse": safe_callback(uuid_parse, fail),
        "uuid_format": safe_callback(uuid_format, fail),
        "json_encode": safe_callback(json_encode, fail),
        "json_decode": safe_callback(json_decode, lambda e: (False, str(e))),
        "log": safe_callback(log, lambda e: None),
    }


def _matches(spec: Any, key: Any, value: Any) -> bool:
    """``registry.find`` criteria: ``kind``, ``id``, ``meta.X`` or a bare meta key ``X``."""
    if key == "kind":
        return spec.kind == value
    if key == "id":
        return spec.id == value
    if isinstance(key, str) and key.startswith("meta."):
        key = key[5:]
    return spec.meta.get(key) == value


def _json_ready(value: Any) -> Any:
    """Check a converted Lua value can be JSON: string keys only, finite numbers, no bytes."""
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise ValueError(
                    "cannot encode mixed or non-string keys (or a sparse array) to JSON")
            out[k] = _json_ready(v)
        return out
    if isinstance(value, list):
        return [_json_ready(v) for v in value]
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError("cannot encode NaN or infinity to JSON")
        if value.is_integer() and abs(value) < 1e21:
            return int(value)  # Go writes 3.0 as 3
        return value
    if isinstance(value, bytes):
        raise ValueError("cannot encode a binary string to JSON")
    if isinstance(value, Error):
        return value.message
    return value


# -- commands ---------------------------------------------------------------------------------

@command("uuid4")
def _uuid4(drv: LuaProcess, tid: int) -> tuple[Any, ...]:
    return (0, drv.ctx.uuid4())


@command("uuid7")
def _uuid7(drv: LuaProcess, tid: int) -> tuple[Any, ...]:
    return (0, drv.ctx.uuid7())


@command("ctx_get")
def _ctx_get(drv: LuaProcess, tid: int, key: Any) -> tuple[Any, ...]:
    values = drv.values
    if key in values and key != SECURITY_KEY:
        return (0, True, drv.sb.to_lua(values[key]))
    return (0, False, None)


@command("ctx_all")
def _ctx_all(drv: LuaProcess, tid: int) -> tuple[Any, ...]:
    try:
        # The security pair travels in the values but is not a context value (see
        # ``_lib_security``): it is read with ``security.actor()``/``scope()``.
        values = {k: v for k, v in drv.values.items() if k != SECURITY_KEY}
        return (0, drv.sb.to_lua(values))
    except Error as exc:
        raise Error(f"context values cannot be converted to Lua: {exc.message}",
                    kind=ErrorKind.INTERNAL) from exc
