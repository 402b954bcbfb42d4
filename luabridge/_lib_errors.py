"""The ``errors`` Lua module (a global): structured error objects.

Wippy's documented API: constants ``UNKNOWN``, ``INVALID``, ``NOT_FOUND``,
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

from beamish.actors import ErrorKind

from ._lua_sources import HostLua

__all__ = ["ERRORS_LUA", "error_kinds_table"]


def error_kinds_table() -> dict[str, str]:
    """``{"NOT_FOUND": "NotFound", ...}`` for the Lua constants."""
    return {k.name: k.value for k in ErrorKind}


#: Privileged Lua, ``lua/errors.lua``: called with (host, kinds); returns the module table.
ERRORS_LUA = HostLua("beamish.luabridge", "errors.lua")
