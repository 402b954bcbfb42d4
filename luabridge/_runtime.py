"""The sandboxed Lua runtime: one lupa ``LuaRuntime`` locked down for untrusted scripts.

What it is for: every Lua script beamish runs (processes, functions, libraries,
workflows) runs inside a :class:`Sandbox`. Kernel processes on one host share one
sandbox: each process is a Lua coroutine (~1.1 KiB) with its own environment, so ten
thousand idle Lua processes cost megabytes, not gigabytes. A workflow run gets a fresh,
deterministic sandbox of its own (``deterministic=True``), so creating one must be cheap:
the host's own Lua (the prelude, the modules' implementations: ``.lua`` files shipped
as package data, :mod:`._lua_sources`) is compiled to bytecode once per Python process
(:func:`host_bytecode`) and only *loaded* per sandbox, and the
``require``-only modules are built on their first ``require``
(:meth:`Sandbox.install_lazy_modules`). Measured: ~1.9 ms CPU -> ~0.6 ms per workflow
sandbox (parsing the same ~60 KB of Lua text was half of it).

Lua version: **5.5**, imported explicitly as ``lupa.lua55`` (never the lazy
``lupa.LuaRuntime``, which resolves the version on first use and breaks inside the
Temporal sandbox). Why 5.5 and not 5.4:

* ``string_hash_seed=0`` makes ``pairs()`` over string keys iterate in the same order in
  every OS process. Lua 5.4 accepts the argument and *ignores* it (measured: three runs
  of 5.4, three different orders; 5.5 identical). Workflow replay on another worker
  needs that order to be stable, and the same scripts must run as processes and as
  workflows, so one version for both.
* Memory per suspended coroutine is the same (measured 1,118 B on 5.5, 1,122 B on 5.4).
* Cost: 5.5 makes ``for`` loop variables read-only (``for i=1,n do i = i + 1 end`` is a
  load-time syntax error naming the line) and Wippy's optional type annotations are not
  Lua syntax at all. Both are reported at load time, with the file and line.

Sandbox (the Lua half is ``lua/prelude.lua``, designed in :mod:`._prelude`; this module
configures lupa and drives it):

* ``register_eval=False`` (no ``python.eval``), ``register_builtins=False`` (no
  ``python.builtins``), and a deny-all ``attribute_filter``: without one, any Python
  callable handed to Lua reaches ``__globals__['__builtins__']``. Scripts never see
  ``python`` at all (their environments are built from an allow-list) and never hold a
  Python object: the host's Python callbacks are upvalues of Lua wrappers.
* Removed from scripts: ``load``, ``loadstring``, ``dofile``, ``loadfile``,
  ``collectgarbage``, ``rawlen``, ``io``, ``debug``, ``package``, ``os.execute``,
  ``os.exit``, ``os.remove``, ``os.rename``, ``os.tmpname``, ``os.getenv``,
  ``string.dump``; ``require`` is per script and only resolves allow-listed modules and
  declared imports. The shared string metatable is locked (``getmetatable('')`` is
  ``false``); module tables are read-only proxies; ``setmetatable`` refuses ``__gc``.
* Host objects (channels, messages, errors, timers, futures...) have locked metatables
  (no field can be added, ``rawset`` refuses them) and keep what they stand for in
  weak tables only the host reads: an object shared by processes (the inbox handle,
  module constants) is immutable, every other one belongs to the process that asked.
  Strings that are not UTF-8 are boxed before any call into Python, and a Python
  exception never reaches a script as an object.
* Limits (a :class:`~beamish.actors.Limits`, the host's ``limits:``; ``SECURITY.md``
  has the threat model): a step (one resume, between two yields) may run
  ``instruction_budget`` instructions and ``step_timeout`` seconds, counting the work
  of C functions (the prelude meters them) and slow instructions (a GC-driven watch);
  a process may hold ``process_memory`` bytes at the end of a step (a census of what
  it reaches decides, so the holder is the one stopped, not a sibling); the runtime
  may allocate ``memory`` bytes, and a step that leaves the heap over it ends its
  process; a value leaving a script carries at most ``max_payload`` bytes of strings
  and 200 levels of tables. Each failure ends *that* process with an
  :class:`~beamish.actors.Error` whose ``details["reason"]`` names the limit.
* The host never aborts: lupa pushes values into Lua where a failed allocation cannot
  be handled (it would abort the process), so the allocator's cap sits one payload
  plus 4 MiB above ``memory``; every call into Python first checks that headroom is
  free (``room()`` in the prelude) and every conversion into Lua checks it before
  building (:attr:`Converter.room`).

Invariant: one thread at a time drives a sandbox (the trio thread for a host runtime,
the workflow's thread for a workflow runtime). :attr:`Sandbox.current` is whatever the
driver set before calling :meth:`step`; Python callbacks use it to find their process.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence, Set
from typing import Any

from lupa import lua55 as _lua

from beamish.actors import DEFAULT_LIMITS, MAX_DEPTH, Error, ErrorKind, Limits

from ._channels import INBOX
from ._convert import Converter
from ._dialect import DialectError, erase_types_cached
from ._lua_patterns import PATTERNS
from ._lua_sources import HostLua
from ._prelude import PRELUDE

__all__ = [
    "DEFAULT_INSTRUCTION_BUDGET",
    "DEFAULT_MAX_MEMORY",
    "HOOK_STEP",
    "LUA_VERSION",
    "LuaMemoryError",
    "LuaSyntaxError",
    "Sandbox",
    "StepResult",
    "host_bytecode",
    "new_lua_runtime",
]

#: The Lua version every sandbox runs (see the module docstring for why).
LUA_VERSION = (5, 5)
#: Instructions a script may run between two yields before its process is ended
#: (roughly 0.3-1 s of pure Lua on one core).
DEFAULT_INSTRUCTION_BUDGET = DEFAULT_LIMITS.instruction_budget
#: Memory cap of one runtime (all the processes of a host together).
DEFAULT_MAX_MEMORY = DEFAULT_LIMITS.memory
#: Granularity of the budget: the count hook fires every HOOK_STEP instructions
#: (measured: every 1,000 doubles the cost of a tight loop; every 10,000 adds ~5 %).
HOOK_STEP = 10_000
#: The hook step of a thread whose step grew the heap by more than FINE_KIB KiB: such
#: a step may run slow instructions (``..`` or comparisons of multi-MiB strings).
FINE_STEP = 100
FINE_KIB = 4096
#: Bytes of allocator headroom kept for the host's own pushes into Lua.
_GUARD = 4 * 1024 * 1024
MiB = 1024 * 1024

LuaMemoryError = _lua.LuaMemoryError
_log = logging.getLogger("beamish.lua")
_SYNTAX_RE = re.compile(r"^(?P<chunk>.*?):(?P<line>\d+): (?P<msg>.*)$", re.S)


class LuaSyntaxError(Error):
    """A script does not compile. ``line`` is the Lua line, ``chunk`` the source name."""

    kind = ErrorKind.INVALID

    def __init__(self, message: str, *, chunk: str, line: int | None, lua_message: str,
                 kind: ErrorKind | None = None) -> None:
        super().__init__(message, kind=kind, retryable=False,
                         details={"chunk": chunk, "line": line})
        self.chunk = chunk
        self.line = line
        self.lua_message = lua_message


def _deny_attribute(obj: Any, name: Any, is_setting: bool) -> Any:
    raise AttributeError(f"Lua code may not access attributes of Python objects ({name!r})")


def new_lua_runtime(
    *, max_memory: int | None = DEFAULT_MAX_MEMORY, string_hash_seed: int | None = None
) -> Any:
    """A bare lupa runtime with the Python-side locks applied (no Lua-side sandbox yet).

    ``string_hash_seed=None`` keeps Lua's random seed (hash-flooding resistance for
    long-lived hosts); ``0`` makes string-key iteration order reproducible (workflows).
    """
    kw: dict[str, Any] = {}
    if string_hash_seed is not None:
        kw["string_hash_seed"] = string_hash_seed
    return _lua.LuaRuntime(
        register_eval=False,
        register_builtins=False,
        attribute_filter=_deny_attribute,
        unpack_returned_tuples=True,
        max_memory=max_memory,
        encoding="utf-8",
        **kw,
    )


# -- host Lua compiled once per Python process --------------------------------------------

#: host file, or (source, chunk name) -> bytecode of host Lua (prelude, module code).
_BYTECODE: dict[HostLua | tuple[str, str], bytes] = {}
#: Host snippets cached at most (eval_privileged is for a fixed set of sources).
_BYTECODE_MAX = 256
_compiler_lock = threading.Lock()
_compiler: list[Any] = []  # [runtime, dump function], made on first use


def host_bytecode(source: str | HostLua, name: str | None = None) -> bytes:
    """Bytecode of the *host* Lua ``source``, compiled once per Python process.

    Only for code beamish itself ships: a :class:`~._lua_sources.HostLua` file (the
    prelude, the pattern matcher, the modules' implementations; read once per process)
    or a short host snippet given as text with its ``name``. Every sandbox loads the
    bytecode with :meth:`Sandbox.eval_privileged` instead of parsing the same text again
    (parsing was most of the cost of a fresh workflow sandbox). Scripts can never load
    bytecode: their only loader is the prelude's ``compile`` (text mode), and
    ``load``/``string.dump`` are out of their reach.

    The chunk name is the file's :attr:`~._lua_sources.HostLua.chunkname`
    (``@beamish/luabridge/lua/process.lua``) or ``name``, so a host source that does not
    compile raises :class:`LuaSyntaxError` (kind ``Internal``) naming that file and its
    real line. The bytecode then carries no line information (stripped on purpose): an
    error a library function raises on a script's behalf (a malformed pattern, a bad
    argument) names no host position. Thread-safe: workflow runs build sandboxes on
    Temporal's worker threads.
    """
    if isinstance(source, HostLua):
        key: HostLua | tuple[str, str] = source
    elif name is None:
        raise TypeError("host_bytecode: a Lua text needs its chunk name (name=...)")
    else:
        key = (source, name)
    bc = _BYTECODE.get(key)
    if bc is not None:
        return bc
    if isinstance(source, HostLua):
        source, name = source.text(), source.chunkname  # type: ignore[attr-defined]
    assert name is not None
    with _compiler_lock:
        if not _compiler:
            rt = _lua.LuaRuntime(register_eval=False, register_builtins=False,
                                 attribute_filter=_deny_attribute, encoding=None)
            _compiler.append(rt)
            _compiler.append(rt.eval(
                "function(src, name) local f, err = load(src, name, 't') "
                "if f == nil then return nil, err end return string.dump(f, true) end"))
        r = _compiler[1](source.encode("utf-8"), name.encode("utf-8"))
    if type(r) is tuple:
        raise _host_syntax_error(name, r[1].decode("utf-8", "replace"))
    bc = r
    if len(_BYTECODE) < _BYTECODE_MAX:
        _BYTECODE[key] = bc
    return bc


def _host_syntax_error(name: str, lua_message: str) -> LuaSyntaxError:
    """The error for host Lua that does not compile (a beamish bug or a damaged install)."""
    chunk = name[1:] if name.startswith("@") else name
    m = _SYNTAX_RE.match(lua_message)
    line = int(m.group("line")) if m else None
    msg = m.group("msg") if m else lua_message
    where = f"{chunk} line {line}" if line is not None else chunk
    return LuaSyntaxError(
        f"host Lua {where} does not compile: {msg} (beamish's own Lua: a bug, or a "
        "damaged installation; reinstall beamish)",
        chunk=chunk, line=line, lua_message=lua_message, kind=ErrorKind.INTERNAL,
    )


class StepResult:
    """What one resume of a task produced (see :meth:`Sandbox.step`).

    ``kind`` is one of ``"yield"`` (``op`` and ``args`` set: a command), ``"pass"`` (a bare
    ``coroutine.yield()``: requeue), ``"return"`` (``values``), ``"error"`` (``error``).
    """

    __slots__ = ("args", "error", "kind", "op", "values")

    def __init__(
        self,
        kind: str,
        *,
        op: str | None = None,
        args: tuple[Any, ...] = (),
        values: tuple[Any, ...] = (),
        error: Error | None = None,
    ) -> None:
        self.kind = kind
        self.op = op
        self.args = args
        self.values = values
        self.error = error

    def __repr__(self) -> str:
        if self.kind == "yield":
            return f"StepResult(yield {self.op!r})"
        if self.kind == "error":
            return f"StepResult(error {self.error!r})"
        return f"StepResult({self.kind})"


_PASS = StepResult("pass")


class Sandbox:
    """One sandboxed Lua runtime: environments, compiled entries, tasks, conversion.

    Parameters (all keyword-only):

    ``limits``
        The host's :class:`~beamish.actors.Limits` (default
        :data:`~beamish.actors.DEFAULT_LIMITS`).
    ``max_memory``, ``instruction_budget``
        Shorthands overriding ``limits.memory`` and ``limits.instruction_budget``.
    ``deterministic``
        ``True`` for workflow runtimes: string hash seed 0, so ``pairs`` order is
        reproducible across OS processes.
    """

    def __init__(
        self,
        *,
        max_memory: int | None = None,
        instruction_budget: int | None = None,
        deterministic: bool = False,
        name: str = "lua",
        limits: Limits | None = None,
    ) -> None:
        limits = limits or DEFAULT_LIMITS
        if max_memory is not None:
            limits = limits.with_(memory=max_memory)
        if instruction_budget is not None:
            limits = limits.with_(instruction_budget=instruction_budget)
        if limits.instruction_budget < HOOK_STEP:
            raise ValueError(f"instruction_budget must be at least {HOOK_STEP}")
        self.name = name
        self.limits = limits
        self.instruction_budget = limits.instruction_budget
        self.deterministic = deterministic
        self.max_memory = limits.memory
        # The allocator's cap sits `guard` bytes (one payload and then some) above the
        # scripts' cap (guard_kib): the host's own pushes into Lua always have that
        # headroom (see room() in the prelude, Converter.room), since a failed
        # allocation in a push would abort the process.
        guard = limits.max_payload + _GUARD
        self.lua = new_lua_runtime(
            max_memory=limits.memory + guard,
            string_hash_seed=0 if deterministic else None,
        )
        lua = self.lua
        settings = lua.table_from({
            "timeout": float(limits.step_timeout),
            "quota": int(limits.process_memory),
            "max_payload": int(limits.max_payload),
            "max_depth": MAX_DEPTH,
            "guard_kib": limits.memory / 1024,
            "fine_step": FINE_STEP,
            "fine_kib": FINE_KIB,
        })
        patterns = lua.execute(host_bytecode(PATTERNS), mode="b")
        callbacks = lua.table_from({"print": self._print})
        self.host = lua.execute(host_bytecode(PRELUDE), callbacks, HOOK_STEP,
                                limits.instruction_budget, settings, patterns, mode="b")
        h = self.host
        self.CMD = h.CMD
        self._step = h.step
        self._compile = h.compile
        self._register_entry = h.register_entry
        self._new_process = h.new_process
        self._start_entry = h.start_entry
        self._start_function = h.start_function
        self._start_worker = h.start_worker
        self.has_task = h.has_task
        self.end_call = h.end_call
        self._is_error = h.is_error
        # lupa returns wrong values for table indexing done from Python while a Lua
        # coroutine is calling back into Python, so every Lua function Python needs on
        # a hot or nested path is looked up once, here, and called (calls are safe).
        self.kill = h.kill
        self.reset = h.reset
        self.is_error = h.is_error
        self.is_exhausted = h.is_exhausted
        self._drop_task = h.drop_task
        self._limit_of = h.limit_of
        self._lazy_modules = h.lazy_modules
        self._module = h.module
        #: ``guard(fn)``: a Python callback as module code may call it (see the prelude).
        self.guard = h.guard
        self.convert = Converter(self.lua, h, max_payload=limits.max_payload,
                                 room=limits.memory + guard - _GUARD // 2)
        self.to_lua = self.convert.to_lua
        self.from_lua = self.convert.from_lua
        #: The process whose task is running right now (set by the driver before each
        #: step): a ``_commands.LuaProcess``. (Typed loosely: the driver and its
        #: contract build on this module, not the other way round.)
        self.current: Any = None
        #: Python-side logger used by print(); drivers may point it elsewhere.
        self.print_handler: Any = None
        #: Names ``require`` accepts (filled by ``install_modules``).
        self.module_names: frozenset[str] = frozenset()
        #: PID string <-> Pid caches shared by this runtime's processes (bounded), so
        #: conversations do not parse and format PIDs per message.
        self.pids: dict[str, Any] = {}
        self.pid_strings: dict[Any, str] = {}
        #: Drivers of this runtime's hibernating processes (``_driver.Sleepers``, made
        #: by the first process that hibernates).
        self.sleepers: Any = None
        #: Set by ``install_modules``: the Lua functions the host calls directly
        #: (``_modules.ModuleLib``), the ``core`` table module code builds on
        #: (``_lib_core``), and the command names of the opcodes (for :meth:`step`).
        self.lib: Any = None
        self.core: Any = None
        self.op_names: Mapping[int, str] = {}
        #: The kernel ``Message`` -> Lua message adapter of this runtime (made on
        #: first use, ``_lib_process``).
        self.message_adapter: Callable[[Any], tuple[Any, ...]] | None = None
        #: The node's Lua entries by ID (``LuaEntrySpec``), which the ``registry``
        #: module reads (set by ``LuaScripts.sandbox``; empty elsewhere).
        self.entries: Mapping[str, Any] = {}
        #: IDs of the node's ``pg.scope`` entries, the scopes ``pg.open`` accepts (set
        #: by ``LuaScripts.sandbox``; empty elsewhere).
        self.pg_scopes: Set[str] = frozenset()
        self._runner_factory: Any = None  # (execute(): made on first use)

    def __repr__(self) -> str:
        return f"<Sandbox {self.name!r} Lua {LUA_VERSION[0]}.{LUA_VERSION[1]}>"

    # -- globals and modules ----------------------------------------------------------

    def install_global(self, name: str, value: Any) -> None:
        """Make ``value`` a global of every script (tables become read-only proxies)."""
        self.host.install(name, value)

    def install_module(self, name: str, value: Any, *, is_global: bool = False) -> Any:
        """Register a module for ``require(name)`` (gated by the entry's ``modules`` list).

        ``is_global=True`` also makes it a global and lets ``require`` return it without
        an allow-list entry (``process``, ``channel``, ``errors``...). Returns the
        read-only proxy scripts see.
        """
        return self.host.install_module(name, value, is_global)

    def install_lazy_modules(self, names: Sequence[str], source: str | HostLua,
                             args: Callable[[], tuple[Any, ...]], *,
                             chunkname: str | None = None) -> None:
        """Register modules built on first use: the first ``require`` of any of ``names``
        (or :meth:`module`) runs the host chunk ``source`` (a :class:`HostLua` file, or
        text named ``chunkname``) with ``args()`` and installs what it returns — the
        module (one name) or a table of modules by name. The chunk is compiled now
        (once per process, :func:`host_bytecode`): a host file that does not compile
        raises :class:`LuaSyntaxError` here, not at the first ``require``.

        ``args`` runs inside whatever Lua code needs the module first (often a script's
        ``require``), so it must not raise: a failure there is reported to that script as
        an ordinary Lua error naming the module. Names still go into
        :attr:`module_names` (the caller does that).
        """
        def safe_args() -> tuple[Any, ...]:
            try:
                return (True, *args())
            except Exception as exc:  # never let a Python exception reach Lua
                _log.exception("building Lua module(s) %s failed", ", ".join(names))
                return (False, self.convert.error_to_lua(Error(
                    f"Lua module {names[0]!r} could not be built: {exc}",
                    kind=ErrorKind.INTERNAL)))
        self._lazy_modules(host_bytecode(source, chunkname), safe_args, *names)

    def module(self, name: str, field: str | None = None) -> Any:
        """The module ``name`` as scripts see it (built now if lazy), or one of its fields."""
        return self._module(name, field)

    def eval_privileged(self, source: str | HostLua, *args: Any, name: str = "host") -> Any:
        """Run host Lua code with the real globals (module implementations only) and
        return what it returns.

        ``source`` is a :class:`HostLua` file (named by its path) or a host snippet
        (named ``name``); it is compiled once per Python process (:func:`host_bytecode`,
        which raises :class:`LuaSyntaxError` if it does not compile) and this runtime
        loads the bytecode. Never pass script text here.
        """
        return self.lua.execute(host_bytecode(source, name), *args, mode="b")

    # -- scripts ----------------------------------------------------------------------

    def compile(self, source: str, chunkname: str) -> Any:
        """Compile ``source`` (text only) as a chunk; raise :class:`LuaSyntaxError`.

        ``chunkname`` is how errors name the script, e.g. ``"app/worker.lua"``. The
        source first goes through the typed-dialect front-end (:mod:`._dialect`, cached
        per process): Wippy's type annotations are erased, lines kept, and plain Lua is
        compiled as it is. Malformed type syntax raises :class:`LuaSyntaxError` naming
        the line, unless the text compiles as plain Lua anyway (then Lua has the last
        word, so a front-end gap never rejects a valid script).
        """
        if not isinstance(source, str):
            raise TypeError("Lua source must be str")
        try:
            plain = erase_types_cached(source, chunkname)
        except DialectError as e:
            r = self._compile(source, "@" + chunkname)
            if (r[0] if type(r) is tuple else r) is None:
                raise LuaSyntaxError(
                    f"Lua syntax error in {chunkname} line {e.line}: {e.message}",
                    chunk=chunkname,
                    line=e.line,
                    lua_message=f"{chunkname}:{e.line}: {e.message}",
                ) from None
            plain = source
        r = self._compile(plain, "@" + chunkname)
        chunk, err = r if type(r) is tuple else (r, None)
        if chunk is None:
            lua_message = str(err)
            m = _SYNTAX_RE.match(lua_message)
            line = int(m.group("line")) if m else None
            msg = m.group("msg") if m else lua_message
            where = f"{chunkname} line {line}" if line is not None else chunkname
            raise LuaSyntaxError(
                f"Lua syntax error in {where}: {msg}",
                chunk=chunkname,
                line=line,
                lua_message=lua_message,
            )
        return chunk

    def register_entry(
        self,
        entry_id: str,
        chunk: Any,
        *,
        modules: Sequence[str] = (),
        imports: Mapping[str, str] | None = None,
    ) -> Any:
        """Make a compiled chunk available as entry ``entry_id`` (for spawn and imports)."""
        return self._register_entry(
            entry_id,
            chunk,
            self.lua.table_from(list(modules)),
            self.lua.table_from(dict(imports or {})),
        )

    def unregister_entry(self, entry_id: str) -> None:
        self.host.unregister_entry(entry_id)

    # -- processes and tasks ----------------------------------------------------------

    def new_process(self, spec: Any = None, *, instruction_budget: int | None = None) -> Any:
        """Per-process Lua state ``P`` (tasks, budget, loaded libraries)."""
        return self._new_process(spec, instruction_budget or self.instruction_budget)

    def start_entry(self, P: Any, method: str, args: Iterable[Any] = ()) -> int:
        """Create the main task of ``P``: instantiate its entry, call ``method(*args)``."""
        return self._start_entry(P, method, self.convert.to_lua_args(args))

    def start_worker(self, P: Any, method: str, args: Iterable[Any] = ()) -> int:
        """Create the long-lived task of a pooled function worker and queue its first call.

        Later calls resume the same task with ``(method, args)`` (:meth:`call_args`); it
        answers each call like a task return (step tag 2) without ending.
        """
        return self._start_worker(P, method, self.convert.to_lua_args(args))

    def call_args(self, method: str, args: Iterable[Any]) -> tuple[Any, ...]:
        """Resume values for the next call of a function worker: ``(method, args...)``."""
        to_lua = self.to_lua
        return (method, *[to_lua(a) for a in args])

    def start_function(self, P: Any, fn: Any, args: Iterable[Any] = ()) -> int:
        """Create a task of ``P`` that calls the Lua function ``fn(*args)``."""
        return self._start_function(P, fn, self.convert.to_lua_args(args))

    def step(self, P: Any, tid: int, *resume: Any) -> StepResult:
        """Resume task ``tid`` of ``P`` with ``resume`` (Lua values) and classify the outcome.

        Never raises for script faults: a raised Lua error, an exhausted budget and a
        failed allocation all come back as ``StepResult("error")`` with a kind. (The
        driver calls :meth:`raw_step` and :meth:`step_failure` itself, to save the
        result object on its hot path.)
        """
        r = self.raw_step(P, tid, *resume)
        tag = r[0]
        if tag == 1:
            op = r[1]
            if type(op) is int:
                op = self.op_names.get(op, op)
            return StepResult("yield", op=op, args=r[2:])
        if tag == 2:
            return StepResult("return", values=r[2:])
        if tag == 3:
            return _PASS
        if tag == 4:
            return StepResult("yield", op="ch_recv", args=(INBOX,))
        return StepResult("error", error=self.step_failure(P, r))

    def raw_step(self, P: Any, tid: int, *resume: Any) -> tuple[Any, ...]:
        """The prelude's step: ``(1, op, args...)`` (op: a number from
        ``_commands.OPCODES``, or a name), ``(2, n, values...)``, ``(3,)``, ``(4,)`` (a
        receive on the inbox) or a failure tuple for :meth:`step_failure`."""
        try:
            r = self._step(P, tid, *resume)
        except _lua.LuaMemoryError as exc:
            return ("M", str(exc))
        return r if type(r) is tuple else (r,)

    def step_failure(self, P: Any, r: tuple[Any, ...]) -> Error:
        """The :class:`Error` for a failed step (tags ``e``, ``k``, ``q``, ``m``/``M``)."""
        tag = r[0]
        if tag == "e":
            return self.lua_error(r[1], r[2])
        self.kill(P)
        if tag == "k":
            why = r[1]
            if why == "timeout":
                return _stopped(
                    f"a step ran longer than {self.limits.step_timeout:g} s without "
                    "yielding (limits.step_timeout); look for an endless loop or a huge "
                    "string operation", "step_timeout")
            if why == "memory":
                return _memory_error("the host's Lua memory is full", self.limits)
            if why == "killed":
                return _stopped("its Lua state was stopped by the host", "killed")
            return _stopped(
                f"instruction budget exceeded ({self._limit_of(P)} instructions without "
                "yielding, limits.instruction_budget); look for an endless loop",
                "instruction_budget")
        if tag == "q":
            mib = float(r[1]) / MiB
            return Error(
                f"Lua process stopped: it holds about {mib:.1f} MiB, more than its "
                f"limit of {self.limits.process_memory / MiB:g} MiB "
                "(limits.process_memory of its host); look for an unbounded table or "
                "string, or raise the limit",
                kind=ErrorKind.INTERNAL,
                retryable=False,
                details={"reason": "process_memory", "held": int(r[1]),
                         "limit": self.limits.process_memory},
            )
        if tag in ("m", "M"):
            return _memory_error(str(r[1]), self.limits)
        raise AssertionError(f"unexpected step tag {tag!r}")

    def lua_error(self, err: Any, traceback: Any = None) -> Error:
        """An :class:`Error` from a raised Lua value (error object, string, anything)."""
        stack = _clean_traceback(traceback) if isinstance(traceback, str) else None
        if _lua.lua_type(err) == "table" and self._is_error(err):
            try:
                e = self.from_lua(err)
            except Error:
                e = Error("Lua error object could not be converted", kind=ErrorKind.INTERNAL)
            if stack and not e.stack:
                e.stack = stack
            return e
        if isinstance(err, str):
            return Error(err, kind=ErrorKind.UNKNOWN, stack=stack)
        if isinstance(err, BaseException):  # a Python callback raised (a host bug)
            _log.error("a host call failed inside Lua", exc_info=err)
            return Error("a host call failed (the host log has the details)",
                         kind=ErrorKind.INTERNAL, stack=stack)
        try:
            value = self.from_lua(err)
        except Error:
            value = f"<Lua {_lua.lua_type(err)}>"
        return Error(
            f"Lua error: {value!r}", kind=ErrorKind.UNKNOWN, stack=stack, details={"value": value}
        )

    # -- synchronous helpers (tests, load-time checks) --------------------------------

    def run(self, P: Any, tid: int) -> tuple[Any, ...]:
        """Run a task to completion without a driver; a command raises an Error.

        Returns the task's results converted to Python. For load-time checks and tests:
        real processes are driven by ``beamish.luabridge`` drivers.
        """
        res = self.step(P, tid)
        while res.kind == "pass":
            res = self.step(P, tid)
        if res.kind == "return":
            return tuple(self.from_lua(v) for v in res.values)
        if res.kind == "error":
            assert res.error is not None
            raise res.error
        self._drop_task(P, tid)
        raise Error(
            f"Lua code called '{res.op}', which needs a running process",
            kind=ErrorKind.INVALID,
            retryable=False,
            details={"op": res.op},
        )

    def execute(self, source: str, *, chunkname: str = "script",
                modules: Sequence[str] = (), imports: Mapping[str, str] | None = None) -> Any:
        """Compile and run a one-off script in a fresh environment; return its result.

        The chunk itself is the code that runs (its ``...`` is its environment: use
        entries with a ``method`` to pass arguments). For tests of the sandbox itself.
        """
        chunk = self.compile(source, chunkname)
        spec = self.register_entry(f"script:{chunkname}", chunk, modules=modules, imports=imports)
        P = self.new_process(spec)
        tid = self._start_function(P, self._chunk_runner(chunk, P, spec),
                                   self.convert.to_lua_args(()))
        out = self.run(P, tid)
        if not out:
            return None
        return out[0] if len(out) == 1 else out

    def _chunk_runner(self, chunk: Any, P: Any, spec: Any) -> Any:
        runner = self._runner_factory
        if runner is None:
            runner = self.lua.eval(
                "function(chunk, new_env, P, spec) "
                "return function() return chunk(new_env(P, spec)) end end"
            )
            self._runner_factory = runner
        return runner(chunk, self.host.new_env, P, spec)

    # -- callbacks ----------------------------------------------------------------------

    def _print(self, text: Any) -> None:
        handler = self.print_handler
        try:
            if handler is not None:
                handler(self.current, text)
            else:
                _log.info("%s", text)
        except Exception:  # a logging failure must never surface in Lua
            _log.exception("print handler failed")

    def memory_used(self) -> int:
        """Bytes currently allocated by this runtime."""
        return int(self.lua.get_memory_used())


def _memory_error(detail: str, limits: Limits) -> Error:
    return Error(
        "Lua process stopped: out of memory (its host's Lua memory, limits.memory = "
        f"{limits.memory / MiB:g} MiB, is full; look for an unbounded table or string)",
        kind=ErrorKind.INTERNAL,
        retryable=False,
        details={"reason": "max_memory", "lua": detail},
    )


def _stopped(why: str, reason: str) -> Error:
    return Error(f"Lua process stopped: {why}", kind=ErrorKind.INTERNAL, retryable=False,
                 details={"reason": reason})


def _clean_traceback(tb: str) -> str:
    lines = [ln for ln in tb.strip("\n").splitlines() if ln.strip()]
    # drop the host frames (prelude internals) so the stack shows the script only
    kept = [ln for ln in lines if "[string \"" not in ln and "(...tail calls...)" not in ln]
    return "\n".join(kept)

