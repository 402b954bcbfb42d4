"""beamish.luabridge — Lua functions and processes on the beamish kernel.

Wippy-compatible Lua (``shared/reference/lua-api.md``) run through lupa in a sandbox.
Layers, lowest first:

* :mod:`._prelude` / :mod:`._runtime` — the sandboxed Lua 5.5 runtime (:class:`Sandbox`):
  per-script environments, read-only modules, instruction budget, memory cap.
* :mod:`._convert` — deep Lua <-> Python conversion with written rules (:class:`Converter`).
* :mod:`._entries` — ``function.lua`` / ``process.lua`` / ``library.lua`` entries and
  their load-time checks.
* ``_lib_*`` — the Lua modules (``process``, ``channel``, ``funcs``, ``time``, ``uuid``,
  ``errors``, ``ctx``, ``json``, ``logger``, ``payload``), installed by :mod:`._modules`.
* :mod:`._channels` / :mod:`._driver` — Go-style channels inside a process and the driver
  that runs Lua tasks against a ``Context`` (trio kernel or Temporal workflow alike).
* :mod:`._scripts` / :mod:`._kinds` — per-node sandboxes, process bodies, pooled
  function workers, and the ``*.lua`` entry kinds the app shell collects
  (:data:`KIND_HANDLERS`).
"""

from beamish.actors._exports import publish

from ._convert import ConversionError as ConversionError
from ._convert import Converter as Converter
from ._driver import Driver as Driver
from ._entries import LuaEntrySpec as LuaEntrySpec
from ._entries import check_entry as check_entry
from ._entries import spec_from_entry as spec_from_entry
from ._kinds import KIND_HANDLERS as KIND_HANDLERS
from ._modules import install_modules as install_modules
from ._runtime import DEFAULT_INSTRUCTION_BUDGET as DEFAULT_INSTRUCTION_BUDGET
from ._runtime import DEFAULT_MAX_MEMORY as DEFAULT_MAX_MEMORY
from ._runtime import LUA_VERSION as LUA_VERSION
from ._runtime import LuaSyntaxError as LuaSyntaxError
from ._runtime import Sandbox as Sandbox
from ._runtime import StepResult as StepResult
from ._scripts import LuaScripts as LuaScripts
from ._scripts import run_lua_process as run_lua_process
from ._scripts import scripts_for as scripts_for

__all__ = [
    "DEFAULT_INSTRUCTION_BUDGET",
    "DEFAULT_MAX_MEMORY",
    "KIND_HANDLERS",
    "LUA_VERSION",
    "ConversionError",
    "Converter",
    "Driver",
    "LuaEntrySpec",
    "LuaScripts",
    "LuaSyntaxError",
    "Sandbox",
    "StepResult",
    "check_entry",
    "install_modules",
    "run_lua_process",
    "scripts_for",
    "spec_from_entry",
]

publish(globals())
