"""The ``errors`` Lua module (a global): structured error objects.

Wippy's API (``lua-api.md`` §1.1): constants ``UNKNOWN``, ``INVALID``, ``NOT_FOUND``,
``ALREADY_EXISTS``, ``PERMISSION_DENIED``, ``TIMEOUT``, ``CANCELED``, ``UNAVAILABLE``,
``INTERNAL``, ``CONFLICT``, ``RATE_LIMITED``; ``errors.new(msg | {message, kind,
retryable, details})``, ``errors.wrap(err, msg)`` (keeps kind/retryable/details),
``errors.is(err, kind)``, ``errors.call_stack(err)``. Error objects answer ``err:kind()``,
``err:message()``, ``err:retryable()`` (true/false/nil = unknown), ``err:details()``,
``err:stack()`` and ``tostring(err)``.

Design: error objects are Lua tables with a protected shared metatable made by the
prelude (so the converter recognises them and they cross to Python as
:class:`beamish.actors.Error` with the same kind, message, retryable flag and details).
The kind constants are the CamelCase strings of :class:`beamish.actors.ErrorKind`, the
same strings that cross Temporal. ``errors.new(kind, msg)`` (two strings) is rejected
with a message saying what to write instead: Wippy documents it as unsupported.
"""

from __future__ import annotations

from beamish.actors._errors import ErrorKind

__all__ = ["ERRORS_LUA", "error_kinds_table"]


def error_kinds_table() -> dict[str, str]:
    """``{"NOT_FOUND": "NotFound", ...}`` for the Lua constants."""
    return {k.name: k.value for k in ErrorKind}


#: Privileged Lua: called with (host, kinds); returns the module table.
ERRORS_LUA = r"""
local host, kinds = ...
local new_error, is_error = host.new_error, host.is_error
local type, tostring, rawget, error, setmetatable = type, tostring, rawget, error, setmetatable
local KNOWN = {}
for _, v in pairs(kinds) do KNOWN[v] = true end

local M = {}
for k, v in pairs(kinds) do M[k] = v end

local function norm_kind(kind)
  if kind == nil then return "Unknown" end
  if type(kind) ~= "string" then
    error("error kind must be a string (use errors.INVALID etc.)", 3)
  end
  if KNOWN[kind] then return kind end
  if kinds[kind] then return kinds[kind] end   -- "NOT_FOUND" -> "NotFound"
  return kind
end

function M.new(arg, extra)
  if is_error(arg) then return arg end
  if type(arg) == "string" then
    if extra ~= nil then
      error("errors.new(kind, message) is not supported; "
        .. "write errors.new{kind = errors.X, message = '...'}", 2)
    end
    return new_error("Unknown", arg, nil, nil, nil)
  end
  if type(arg) == "table" then
    local msg = rawget(arg, "message")
    if msg == nil then msg = "" end
    local retryable = rawget(arg, "retryable")
    if retryable ~= nil and type(retryable) ~= "boolean" then
      error("errors.new: 'retryable' must be a boolean", 2)
    end
    local kind = norm_kind(rawget(arg, "kind"))
    return new_error(kind, tostring(msg), retryable, rawget(arg, "details"), nil)
  end
  error("errors.new expects a message string or a table {message=, kind=, retryable=, details=}", 2)
end

function M.wrap(err, msg)
  if err == nil then return nil end
  if not is_error(err) then err = M.new(tostring(err)) end
  local message = err:message()
  if msg ~= nil and msg ~= "" then message = tostring(msg) .. ": " .. tostring(message) end
  return new_error(err:kind(), message, err:retryable(), err:details(), err:stack())
end

M["is"] = function(err, kind)
  if not is_error(err) then return false end
  return err:kind() == norm_kind(kind)
end

function M.call_stack(err)
  local frames = {}
  local stack = is_error(err) and err:stack() or nil
  if type(stack) == "string" then
    for src, line, name in stack:gmatch("\n%s*([^:\n]+):(%d+): in ([^\n]*)") do
      frames[#frames + 1] = {source = src, line = tonumber(line), name = name}
    end
  end
  return {thread = "main", frames = frames}
end

return M
"""
