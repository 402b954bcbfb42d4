"""The ``io`` and ``os`` Lua modules: the terminal and the clock, as far as a sandbox may.

``io`` (``require("io")``) is Wippy's *terminal* IO: stdin/stdout of a process that runs
on a terminal host. beamish has no terminal host, so every process runs without a
terminal context and gets Wippy's answers for that case: ``io.write``, ``print``,
``eprint``, ``read``, ``readline``, ``raw`` and ``flush`` return ``nil, "no terminal
context"`` (a string, as in Wippy) and write or read nothing; ``io.args()`` is ``{}``.
It never reaches a file, the host's stdout (which belongs to ``beamish run``'s result)
or stdin. A script's own ``print`` goes to the host log, as before.

``os`` is a global in Wippy (and in beamish's sandbox) that an entry may also list in
``modules:``; ``require("os")`` returns the same table: ``os.time([t])``,
``os.clock()``, ``os.date([fmt [, t]])``, ``os.difftime(a, b)``. Nothing else of Lua's
``os`` (``execute``, ``exit``, ``remove``, ``rename``, ``getenv``, ``tmpname``...) exists.
"""

from __future__ import annotations

from ._lua_sources import HostLua

__all__ = ["IO_LUA", "OS_LUA"]

#: Privileged Lua, ``lua/io.lua`` (no arguments): returns the ``io`` module table.
IO_LUA = HostLua("beamish.luabridge", "io.lua")
#: Privileged Lua, ``lua/os.lua`` (no arguments): returns the ``os`` module table.
OS_LUA = HostLua("beamish.luabridge", "os.lua")
