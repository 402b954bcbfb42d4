"""The ``errors`` Lua module (a global): structured error objects, as Wippy's.

Why a module of its own: error values are what every other module returns on failure,
and Wippy apps inspect them in many ways (methods, ``tostring``, ``..``, the string
library, ``type``); one place decides how they look to scripts.

The API (as Wippy's ``errors`` module, checked against its Go source):

- constants ``NOT_FOUND = "NotFound"``, ``ALREADY_EXISTS``, ``INVALID``,
  ``PERMISSION_DENIED``, ``UNAVAILABLE``, ``INTERNAL``, ``CANCELED``, ``CONFLICT``,
  ``TIMEOUT``, ``RATE_LIMITED`` (CamelCase strings, the values of
  :class:`beamish.actors.ErrorKind`) and ``UNKNOWN = ""``;
- ``errors.new(msg)`` or ``errors.new{message=, kind=, retryable=, details=}``:
  ``message`` is required (a string); a ``kind`` that is not a string, a ``retryable``
  that is not a boolean and ``details`` that are not a table are ignored; details are
  copied (a cycle or more than 100 levels raises ``bad argument #1 to 'new'``; an empty
  table means no details). ``errors.new(kind, msg)`` (two strings) raises, saying what to
  write instead: Wippy documents it as unsupported and would silently drop the kind;
- ``errors.wrap(err_or_string, context)``: keeps message, kind, retryable and details;
  the context shows in ``err:stack()`` (and prefixes the message of a further wrap);
  anything but a string or an error as either argument raises;
- ``errors.is(err, kind)``: false for a value that is not an error; a kind that is not
  a string (or number) raises;
- ``errors.call_stack(err)``: ``{thread, frames = {{level, source, line, name, type}}}``
  or nil when the error has no frames.

Error values answer ``err:kind()`` (``""`` when unknown), ``err:message()``,
``err:retryable()`` (true, false, or nil when unknown), ``err:details()`` (a fresh copy,
or nil when there are none), ``err:stack()`` (a string, ``""`` when unknown); called on
something else they answer those defaults. ``tostring(err)`` and ``..`` (either side)
give the message; ``type(err)`` is ``"userdata"``; the ``string`` functions accept an
error wherever they take a string (``string.find(err, "not found")``); ``==`` is
identity, and ``error(err)`` raises the very value ``pcall`` then returns.

Design: error objects are Lua tables with a protected shared metatable made by the
prelude (so the converter recognises them and they cross to Python as
:class:`beamish.actors.Error` with the same kind, message, retryable flag, details and
stack; ``""`` is :attr:`ErrorKind.UNKNOWN <beamish.actors.ErrorKind>`). A kind Python
does not know (``errors.new{kind = "Custom"}``) crosses as ``UNKNOWN``.
"""

from __future__ import annotations

from beamish.actors import ErrorKind

from ._lua_sources import HostLua

__all__ = ["ERRORS_LUA", "error_kinds_table", "lua_kind"]


def lua_kind(kind: ErrorKind) -> str:
    """The string ``err:kind()`` answers for ``kind``: its value, ``""`` for UNKNOWN."""
    return "" if kind is ErrorKind.UNKNOWN else kind.value


def error_kinds_table() -> dict[str, str]:
    """``{"NOT_FOUND": "NotFound", ..., "UNKNOWN": ""}`` for the Lua constants."""
    return {k.name: lua_kind(k) for k in ErrorKind}


#: Privileged Lua, ``lua/errors.lua``: called with (host, kinds); returns the module table.
ERRORS_LUA = HostLua("beamish.luabridge", "errors.lua")
