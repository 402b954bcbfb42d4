"""Installing the Lua modules into a sandbox.

What it is for: one place that knows which modules exist, which are globals (always
available, like Wippy's ``process``, ``channel``, ``errors``, ``payload``) and which must
be listed in an entry's ``modules:`` to be ``require``-d (``time``, ``json``, ``funcs``,
``uuid``, ``ctx``, ``logger``, ``registry``, ``security``, ``io``, ``hash``, ``crypto``,
``pg``; ``os`` is a global that may be listed too). Each module lives in its own
``_lib_*.py`` file: Lua wrappers (a ``lua/*.lua`` file of package data, compiled once per
Python process, run privileged once per runtime: the globals at install, the others on
their first ``require``) plus the Python helpers they call and the driver commands they
yield.

Invariant: after :func:`install_modules`, ``sandbox.module_names`` lists every name
``require`` accepts, every module table scripts can reach is a read-only proxy, and the
converter knows the module objects that may cross to Python (Time -> ``datetime``,
Duration -> nanoseconds, ``Pid`` -> its string; a ``datetime`` sent to Lua builds
``time`` if no script has yet).
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from beamish.actors import Pid

from ._commands import OPCODES
from ._lib_core import install_core
from ._lib_crypto import CRYPTO_LUA, crypto_callbacks
from ._lib_errors import ERRORS_LUA, error_kinds_table
from ._lib_funcs import FUNCS_LUA
from ._lib_hash import HASH_LUA, hash_callbacks
from ._lib_io import IO_LUA, OS_LUA
from ._lib_misc import MISC_LUA, misc_callbacks
from ._lib_pg import PG_LUA
from ._lib_process import PROCESS_LUA, message_adapter, new_inbox
from ._lib_security import SECURITY_LUA
from ._lib_time import (
    TIME_LUA,
    datetime_from_parts,
    time_callbacks,
    time_constants,
    unix_parts,
)

if TYPE_CHECKING:
    from ._runtime import Sandbox

__all__ = ["GLOBAL_MODULES", "REQUIRE_MODULES", "add_module", "install_modules"]

#: Modules that are globals and need no ``modules:`` entry.
GLOBAL_MODULES = ("errors", "process", "channel", "payload", "os")
#: Modules an entry must list in ``modules:`` to ``require``.
REQUIRE_MODULES = (
    "time",
    "json",
    "funcs",
    "uuid",
    "ctx",
    "logger",
    "registry",
    "security",
    "io",
    "hash",
    "crypto",
    "pg",
)


#: The ``errors`` constants (pure: computed once per Python process).
_ERROR_KINDS = error_kinds_table()
#: The ``time`` constants and callbacks (pure: made once per Python process).
_TIME_CONSTS = time_constants()
_TIME_CALLBACKS = time_callbacks()
_HASH_CALLBACKS = hash_callbacks()


def install_modules(sb: Sandbox) -> None:
    """Install every Lua module into ``sb`` (idempotent per sandbox).

    The globals are built now; the ``require``-only modules are registered lazily and
    built on their first ``require`` (:meth:`Sandbox.install_lazy_modules`), so a fresh
    workflow runtime pays only for what its script uses. Every host chunk is bytecode
    compiled once per Python process (:func:`~._runtime.host_bytecode`).
    """
    if sb.module_names:
        return
    lua = sb.lua
    host = sb.host
    errors = sb.eval_privileged(ERRORS_LUA, host, lua.table_from(_ERROR_KINDS))
    sb.install_module("errors", errors, is_global=True)
    lua.globals()["errors"] = errors  # module code (privileged) uses it too

    core = install_core(sb)  # also adds coroutine.spawn
    sb.install_module("channel", core.channel, is_global=True)
    process = sb.eval_privileged(PROCESS_LUA, core)
    core.process = process  # the real table, for layers that extend it (durable's send)
    sb.install_module("process", process, is_global=True)
    sb.install_module("payload", core.payload_module, is_global=True)
    sb.install_module("os", sb.eval_privileged(OS_LUA), is_global=True)

    sb.install_lazy_modules(("funcs",), FUNCS_LUA, lambda: (core,))
    sb.install_lazy_modules(("security",), SECURITY_LUA, lambda: (core,))
    sb.install_lazy_modules(("io",), IO_LUA, lambda: ())
    sb.install_lazy_modules(("pg",), PG_LUA, lambda: (core,))
    sb.install_lazy_modules(("hash",), HASH_LUA, lambda: (guarded(sb, _HASH_CALLBACKS),))
    sb.install_lazy_modules(
        ("crypto",), CRYPTO_LUA, lambda: (core, guarded(sb, crypto_callbacks(sb)))
    )

    def time_args() -> tuple[Any, ...]:
        consts = lua.table_from(
            {"values": lua.table_from(_TIME_CONSTS["values"]), "ZERO_SEC": _TIME_CONSTS["ZERO_SEC"]}
        )
        return (core, guarded(sb, _TIME_CALLBACKS), consts, host)

    sb.install_lazy_modules(("time",), TIME_LUA, time_args)
    sb.install_lazy_modules(
        ("uuid", "ctx", "json", "logger", "registry"),
        MISC_LUA,
        lambda: (core, guarded(sb, misc_callbacks(sb))),
    )

    sb.lib = ModuleLib(sb, core)
    sb.lib.message_resume = message_adapter(sb, resume=True)
    _register_conversions(sb)
    host.set_opcodes(lua.table_from(OPCODES))
    sb.op_names = {code: name for name, code in OPCODES.items()}
    sb.module_names = frozenset(GLOBAL_MODULES + REQUIRE_MODULES)
    for install_extra in tuple(_ADDED_MODULES.values()):
        install_extra(sb)


#: Modules layers above this one add to every sandbox (name -> installer).
_ADDED_MODULES: dict[str, Callable[[Sandbox], None]] = {}


def add_module(name: str, installer: Callable[[Sandbox], None]) -> None:
    """Make ``installer(sb)`` part of :func:`install_modules` for every later sandbox.

    For layers that may not be imported here (``beamish.durable`` adds ``workflow``):
    the installer registers module ``name`` (e.g. :meth:`Sandbox.install_lazy_modules`)
    and adds it to ``sb.module_names``, so entries may list it in ``modules:``.
    Idempotent per name (the last installer wins); sandboxes built before the call
    do not get the module.
    """
    _ADDED_MODULES[name] = installer


def guarded(sb: Sandbox, callbacks: Mapping[str, Callable[..., Any]]) -> Any:
    """A Lua table of ``callbacks`` as module code may call them: each behind the
    prelude's ``guard`` (room in the heap first, non-UTF-8 strings boxed, and a Python
    exception never reaching the script as an object)."""
    guard = sb.guard
    return sb.lua.table_from({name: guard(fn) for name, fn in callbacks.items()})


class ModuleLib:
    """The Lua functions the host calls directly, looked up once (see ``Sandbox``):
    from ``core`` now, ``new_time`` when first needed (it builds the lazy ``time``)."""

    __slots__ = (
        "_new_time",
        "_sb",
        "message_resume",
        "msg_mark",
        "new_inbox",
        "new_message",
        "new_payload",
        "payload_value",
        "wrap_channel",
    )

    def __init__(self, sb: Sandbox, core: Any) -> None:
        self._sb = sb
        self.wrap_channel = core.wrap_channel
        self.new_message = core.new_message
        self.payload_value = core.payload_value
        self.new_payload = core.new_payload
        self.msg_mark = core.MSG_MARK
        self._new_time: Any = None
        #: ``new_inbox(driver)``: a process's inbox LChannel, when it needs one.
        self.new_inbox = new_inbox
        #: Kernel ``Message`` -> the resume values of a receive (set once ``sb.lib``
        #: exists: the adapter reads ``msg_mark`` through it).
        self.message_resume: Any = None

    @property
    def new_time(self) -> Any:
        fn = self._new_time
        if fn is None:
            fn = self._new_time = self._sb.module("time", "_new_time")
        return fn


def _register_conversions(sb: Sandbox) -> None:
    conv = sb.convert
    lib = sb.lib

    def time_to_lua(value: _dt.datetime) -> Any:
        s, n = unix_parts(value)
        return lib.new_time(s, n, "UTC")

    def time_from_lua(plain: Any) -> Any:
        s, n = plain
        return datetime_from_parts(int(s), int(n))

    conv.register_type(Pid, str)
    conv.register_type(_dt.datetime, time_to_lua)
    conv.register_tag("T", time_from_lua)
    conv.register_tag("D", lambda ns: ns)
