"""The privileged Lua half of the sandbox: the code that runs with the real globals.

The Lua itself is ``lua/prelude.lua`` (package data, read by :mod:`._lua_sources`);
this module documents its design and names the file for :mod:`._runtime`.

Why a prelude in Lua: the sandbox has to be enforced *inside* the Lua VM. Python can
configure lupa (no ``python.eval``, no builtins, a deny-all attribute filter, a memory
cap), but only Lua code can lock the string metatable, hold ``debug.sethook`` where
scripts cannot reach it, build per-script environments and read-only module proxies,
and resume script coroutines with an instruction budget. The prelude runs once per
runtime, *before* any script, with the full standard library; it keeps what it needs
as upvalues (``load``, ``debug.*``, ``string.dump``, raw coroutine functions), strips
the dangerous parts out of the shared library tables, and returns one table of host
functions that only Python holds (:class:`beamish.luabridge.Sandbox`).

Design chosen:

* **Environments.** Every script instance (a process, a function call worker, a
  library required by one of them) gets ``env = setmetatable({_G=env, require=...},
  ENV_MT)``, where ``ENV_MT`` is shared, protected (``__metatable = false``) and has
  ``__index = BASE``. ``BASE`` itself is unreachable from scripts; the module tables it
  holds (``string``, ``table``, ``process``...) are shared *read-only proxies*: writes
  raise, ``rawset`` refuses them, ``setmetatable`` cannot replace their metatable, and
  ``pairs`` iterates them without leaking the real table. So a script's globals are its
  own, and no script can change what another sees. Per-instance cost: one small table
  (``require`` is one closure per *entry*, finding its process from the running thread).
* **Compiled once, instantiated many times.** A script is compiled once as
  ``local _ENV = (...); <source>`` (same line, so line numbers are unchanged) in text
  mode only (``'t'``: bytecode is refused). Instantiating it is a plain call with the
  new environment: the prototypes are shared by every process running that entry, only
  closures are per process (measured: reloading bytecode per process would copy the
  prototypes and costs ~7x more than calling).
* **What a step may cost.** Every script thread gets a count hook every ``HOOK_STEP``
  instructions that charges the running step (one step runs at a time per runtime, so
  the budget is an upvalue, not a field of every process) and checks its CPU time
  (``os.clock``, read lazily). C functions whose work is not bounded by what they
  allocate are wrapped and charge their work up front (section 6b); patterns that may
  backtrack run on the metered Lua matcher. Steps that grow the heap by megabytes (and
  so may run slow instructions: ``..`` or ``==`` of long strings) are caught by a
  finalizer that re-arms itself every GC cycle and makes their hook fire every
  ``fine_step`` instructions. When a limit is reached the hook marks the process
  exhausted (with the reason), switches the thread to a hook that raises on every
  instruction (so ``pcall`` loops cannot swallow it) and raises. ``xpcall`` message
  handlers run with hooks disabled when the error comes from a hook, so the sandbox's
  ``xpcall`` skips the user handler once the process is exhausted. The driver ends an
  exhausted process whatever the script did with the error.
* **Memory.** ``P.mem`` is the change of the heap during P's steps; past the quota a
  census of what P reaches decides (see ``after``). A step that leaves the whole heap
  over the cap ends its own process. Before every call into Python ``room()`` checks
  the allocator's headroom (lupa's pushes cannot survive a failed allocation).
* **Host objects** get locked metatables (``lock_mt``; host code's ``setmetatable``
  locks every metatable whose ``__metatable`` is a string) and the sandbox's
  ``rawset`` refuses them, so a script cannot plant a function in an object the host
  or another process uses.
* **Commands.** Module functions that need the outside world yield ``CMD, op, ...``
  (``CMD`` is a private sentinel). The sandbox's ``coroutine.resume``/``wrap`` forward a
  command yielded inside a user coroutine up to the driver and resume the inner
  coroutine with the answer, so ``time.sleep`` inside a ``coroutine.wrap`` generator
  works. A plain ``coroutine.yield()`` at task level just requeues the task.
* **Lazy modules.** ``lazy_modules`` registers a precompiled host chunk for some module
  names; the first ``require`` of one of them (allowed for that entry) runs it and
  installs the result read-only, in whichever thread asked. Refused requires build
  nothing. The host is the only one who loads bytecode (scripts compile text only).
* ``__gc`` metamethods are refused by ``setmetatable``: finalizers run with hooks
  disabled in whatever thread triggers a collection, so one could hang the runtime.

Rejected: per-script *copies* of the module tables (kilobytes per process, and a
script could still patch the shared string metatable); ``debug.setupvalue`` on one
shared chunk (one environment for all processes of an entry: globals would leak between
them); a pure-Python sandbox over lupa objects (every global access would cross into
Python).

Invariants: nothing returned to a script references ``BASE``, ``ENV_MT``, ``OWNER``,
the real library tables or a Python object; every thread that runs script code has the
budget hook and an ``OWNER`` entry; ``P.limit`` (else the runtime's default) is the
budget set before every resume by :func:`step`; ``S`` (the settings, from the host's
``Limits``) is read, never written, by Lua.
"""

from __future__ import annotations

from ._lua_sources import HostLua

__all__ = ["PRELUDE"]

#: The prelude, ``lua/prelude.lua``. Run once per runtime with (H, HOOK_STEP, default
#: instruction budget, settings S, the Lua pattern matcher); returns the host table.
PRELUDE = HostLua("beamish.luabridge", "prelude.lua")
