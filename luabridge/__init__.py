"""beamish.luabridge — Lua functions and processes on the beamish kernel.

Lua with Wippy's documented API, run through lupa in a sandbox.
Layers, lowest first:

* :mod:`._prelude` / :mod:`._runtime` — the sandboxed Lua 5.5 runtime (:class:`Sandbox`):
  per-script environments, read-only modules, instruction budget, memory cap.
* :mod:`._convert` — deep Lua <-> Python conversion with written rules (:class:`Converter`).
* :mod:`._entries` — ``function.lua`` / ``process.lua`` / ``library.lua`` entries and
  their load-time checks.
* :mod:`._channels` — Go-style channels inside a process (they know their owner only
  through a small protocol, so they sit below everything that uses them).
* :mod:`._commands` — the command registry and :class:`~._commands.LuaProcess`, what a
  command handler sees of its process: the contract between handlers and the driver.
* ``_lib_*`` — the Lua modules (``process``, ``channel``, ``funcs``, ``time``, ``uuid``,
  ``errors``, ``ctx``, ``json``, ``logger``, ``payload``, ``pg`` ...), installed by
  :mod:`._modules`; their direct Python helpers never raise (:mod:`._callbacks`).
* :mod:`._driver` — the driver that runs Lua tasks against a ``Context`` (trio kernel or
  Temporal workflow alike), built on the handlers and never imported by them.
* :mod:`._scripts` / :mod:`._kinds` — per-node sandboxes, process bodies, pooled
  function workers, and the ``*.lua`` and ``pg.scope`` entry kinds the app shell
  collects (:data:`KIND_HANDLERS`).
* Extension points for layers that add Lua modules (``beamish.durable``'s ``workflow``):
  :func:`command` registers a command handler (a :class:`DirectAwait` answer waits on
  the outside world), :func:`exec_await` is the wait of an exec, :data:`GLOBAL_MODULES`
  the modules every script has without ``modules:``, :func:`add_module` adds a module
  to every sandbox built afterwards.
"""

from beamish.actors import publish

from ._commands import DirectAwait as DirectAwait
from ._commands import command as command
from ._convert import ConversionError as ConversionError
from ._convert import Converter as Converter
from ._convert import LuaKeyed as LuaKeyed
from ._driver import Driver as Driver
from ._entries import LuaEntrySpec as LuaEntrySpec
from ._entries import check_entry as check_entry
from ._entries import spec_from_entry as spec_from_entry
from ._kinds import KIND_HANDLERS as KIND_HANDLERS
from ._lib_process import exec_await as exec_await
from ._lua_sources import HostLua as HostLua
from ._modules import GLOBAL_MODULES as GLOBAL_MODULES
from ._modules import add_module as add_module
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
    "GLOBAL_MODULES",
    "KIND_HANDLERS",
    "LUA_VERSION",
    "ConversionError",
    "Converter",
    "DirectAwait",
    "Driver",
    "HostLua",
    "LuaEntrySpec",
    "LuaKeyed",
    "LuaScripts",
    "LuaSyntaxError",
    "Sandbox",
    "StepResult",
    "add_module",
    "check_entry",
    "command",
    "exec_await",
    "install_modules",
    "run_lua_process",
    "scripts_for",
    "spec_from_entry",
]

publish(globals())
