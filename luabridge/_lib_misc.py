"""Small Lua modules: ``uuid``, ``ctx``, ``json``, ``logger``, ``registry`` (one chunk,
built on the first ``require`` of any of them).

Wippy's APIs (``lua-api.md`` §1.6, §1.8, ``en/lua/system/logger.md``):

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
from typing import Any

from beamish.actors._errors import Error, ErrorKind

from ._commands import command

__all__ = ["MISC_LUA", "misc_callbacks"]

MISC_LUA = r"""
local core, H = ...
local command = core.command
local sync = core.sync
local type, error, setmetatable, tostring, pairs = type, error, setmetatable, tostring, pairs

local function invalid(msg, kind)
  return errors.new{kind = kind or errors.INVALID, message = msg, retryable = false}
end
local function wrap(ok, a, b)  -- a Python helper's (value) | (nil, message) -> value, err
  if a == nil and b ~= nil then return nil, invalid(b) end
  return a, nil
end

-- uuid ---------------------------------------------------------------------------------
local uuid = {}
function uuid.v4() return sync("uuid4"), nil end
function uuid.v7() return sync("uuid7"), nil end
function uuid.v5(ns, name)
  if type(ns) ~= "string" or type(name) ~= "string" then
    return nil, invalid("uuid.v5 expects a namespace UUID and a name")
  end
  return wrap(true, H.uuid_named(5, ns, name))
end
function uuid.v3(ns, name)
  if type(ns) ~= "string" or type(name) ~= "string" then
    return nil, invalid("uuid.v3 expects a namespace UUID and a name")
  end
  return wrap(true, H.uuid_named(3, ns, name))
end
function uuid.validate(x) return type(x) == "string" and H.uuid_valid(x) end
function uuid.version(x)
  if type(x) ~= "string" then return nil, invalid("uuid expected") end
  return wrap(true, H.uuid_version(x))
end
function uuid.variant(x)
  if type(x) ~= "string" then return nil, invalid("uuid expected") end
  return wrap(true, H.uuid_variant(x))
end
function uuid.parse(x)
  if type(x) ~= "string" then return nil, invalid("uuid expected") end
  local version, variant, ts = H.uuid_parse(x)
  if version == nil then return nil, invalid(variant) end
  return {version = version, variant = variant, timestamp = ts}, nil
end
function uuid.format(x, fmt)
  if type(x) ~= "string" then return nil, invalid("uuid expected") end
  return wrap(true, H.uuid_format(x, fmt or "standard"))
end
uuid.NAMESPACE_DNS = "6ba7b810-9dad-11d1-80b4-00c04fd430c8"
uuid.NAMESPACE_URL = "6ba7b811-9dad-11d1-80b4-00c04fd430c8"
uuid.NAMESPACE_OID = "6ba7b812-9dad-11d1-80b4-00c04fd430c8"
uuid.NAMESPACE_X500 = "6ba7b814-9dad-11d1-80b4-00c04fd430c8"

-- ctx ----------------------------------------------------------------------------------
local ctx = {}
function ctx.get(key)
  if type(key) ~= "string" or key == "" then
    return nil, invalid("context key must be a non-empty string")
  end
  local found, value = sync("ctx_get", key)
  if not found then
    return nil, invalid("context value '" .. key .. "' not found", errors.NOT_FOUND)
  end
  return value, nil
end
function ctx.all() return sync("ctx_all"), nil end

-- json ---------------------------------------------------------------------------------
local json = {}
function json.encode(v)
  local s, err = H.json_encode(v)
  if s == nil then return nil, invalid(err) end
  return s, nil
end
function json.decode(s)
  if type(s) ~= "string" then error("bad argument #1 to 'decode' (string expected)", 2) end
  if s == "" then error("bad argument #1 to 'decode' (empty string is not valid JSON)", 2) end
  local ok, v = H.json_decode(s)
  if not ok then return nil, invalid(v) end
  return v, nil
end

-- logger -------------------------------------------------------------------------------
local LG = {}
local LG_MT = {__index = LG, __metatable = "logger"}
local function new_logger(name, fields)
  return setmetatable({name = name, fields = fields}, LG_MT)
end
local function merged(a, b)
  local out = {}
  if a then for k, v in pairs(a) do out[k] = v end end
  if b then for k, v in pairs(b) do out[k] = v end end
  return out
end
local ROOT
local function emit(level)
  return function(self, msg, fields)
    if type(self) ~= "table" then  -- logger.info("x") without the colon
      self, msg, fields = ROOT, self, msg
    end
    local extra = merged(self.fields, type(fields) == "table" and fields or nil)
    H.log(level, self.name, tostring(msg), extra)
  end
end
LG.debug = emit("debug")
LG.info = emit("info")
LG.warn = emit("warn")
LG.error = emit("error")
function LG.with(self, fields) return new_logger(self.name, merged(self.fields, fields)) end
function LG.named(self, name)
  if type(name) ~= "string" or name == "" then
    error(invalid("logger name must not be empty"), 2)
  end
  return new_logger(self.name and (self.name .. "." .. name) or name, self.fields)
end
local logger = new_logger(nil, nil)
ROOT = logger

-- registry (read-only view of the Lua entries) --------------------------------------------
local registry = {}
function registry.find(criteria)
  if criteria ~= nil and type(criteria) ~= "table" then
    return nil, invalid("registry.find expects a table of criteria")
  end
  return H.registry_find(criteria or {}), nil
end
function registry.get(id)
  if type(id) ~= "string" then return nil, invalid("entry ID expected") end
  local e = H.registry_get(id)
  if e == nil then return nil, invalid("entry '" .. id .. "' not found", errors.NOT_FOUND) end
  return e, nil
end

return {uuid = uuid, ctx = ctx, json = json, logger = logger, registry = registry}
"""

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


def misc_callbacks(sb: Any) -> dict[str, Callable[..., Any]]:
    """Pure helpers for the Lua side; each returns ``nil, message`` instead of raising."""
    from ._lib_time import _safe

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
        drv = sb.current
        extra = sb.from_lua(fields) if fields is not None else {}
        if not isinstance(extra, dict):
            extra = {}
        pid = getattr(getattr(drv, "ctx", None), "pid", None)
        entry = getattr(getattr(drv, "ctx", None), "entry_id", None)
        logger = _log.getChild(str(name)) if name else _log
        logger.log(_LEVELS.get(level, logging.INFO), "%s", msg,
                   extra={"lua_fields": extra, "pid": str(pid) if pid else None,
                          "entry": entry})

    def entry_view(spec: Any) -> dict[str, Any]:
        return {"id": spec.id, "kind": spec.kind, "meta": dict(spec.meta)}

    def registry_find(criteria: Any) -> Any:
        crit = sb.from_lua(criteria) if criteria is not None else {}
        if not isinstance(crit, dict):
            crit = {}
        scripts = getattr(sb, "scripts", None)
        found = []
        for spec in (scripts.specs.values() if scripts is not None else ()):
            if all(_matches(spec, k, v) for k, v in crit.items()):
                found.append(entry_view(spec))
        found.sort(key=lambda e: e["id"])
        return sb.to_lua(found)

    def registry_get(entry_id: str) -> Any:
        scripts = getattr(sb, "scripts", None)
        spec = scripts.specs.get(entry_id) if scripts is not None else None
        return None if spec is None else sb.to_lua(entry_view(spec))

    return {
        "registry_find": _safe(registry_find, lambda e: sb.to_lua([])),
        "registry_get": _safe(registry_get, lambda e: None),
        "uuid_named": _safe(uuid_named, fail),
        "uuid_valid": _safe(uuid_valid, lambda e: False),
        "uuid_version": _safe(uuid_version, fail),
        "uuid_variant": _safe(uuid_variant, fail),
        "uuid_parse": _safe(uuid_parse, fail),
        "uuid_format": _safe(uuid_format, fail),
        "json_encode": _safe(json_encode, fail),
        "json_decode": _safe(json_decode, lambda e: (False, str(e))),
        "log": _safe(log, lambda e: None),
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
def _uuid4(drv: Any, tid: int) -> tuple[Any, ...]:
    return (0, drv.ctx.uuid4())


@command("uuid7")
def _uuid7(drv: Any, tid: int) -> tuple[Any, ...]:
    return (0, drv.ctx.uuid7())


@command("ctx_get")
def _ctx_get(drv: Any, tid: int, key: Any) -> tuple[Any, ...]:
    values = drv.values
    if key in values:
        return (0, True, drv.sb.to_lua(values[key]))
    return (0, False, None)


@command("ctx_all")
def _ctx_all(drv: Any, tid: int) -> tuple[Any, ...]:
    try:
        return (0, drv.sb.to_lua(dict(drv.values)))
    except Error as exc:
        raise Error(f"context values cannot be converted to Lua: {exc.message}",
                    kind=ErrorKind.INTERNAL) from exc
