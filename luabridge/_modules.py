"""Installing the Lua modules into a sandbox.

What it is for: one place that knows which modules exist, which are globals (always
available, like Wippy's ``process``, ``channel``, ``errors``, ``payload``) and which must
be listed in an entry's ``modules:`` to be ``require``-d (``time``, ``json``, ``funcs``,
``uuid``, ``ctx``, ``logger``). Each module lives in its own ``_lib_*.py`` file: Lua
wrappers (run privileged, once per runtime) plus the Python helpers they call and the
driver commands they yield.

Invariant: after :func:`install_modules`, ``sandbox.module_names`` lists every name
``require`` accepts, every module table scripts can reach is a read-only proxy, and the
converter knows the module objects that may cross to Python (Time -> ``datetime``,
Duration -> nanoseconds, ``Pid`` -> its string).
"""

from __future__ import annotations

import datetime as _dt
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from beamish.actors import Pid

from ._lib_core import install_core
from ._lib_errors import ERRORS_LUA, error_kinds_table
from ._lib_funcs import FUNCS_LUA
from ._lib_misc import MISC_LUA, misc_callbacks
from ._lib_process import PROCESS_LUA
from ._lib_time import (
    TIME_LUA,
    datetime_from_parts,
    time_callbacks,
    time_constants,
    unix_parts,
)

if TYPE_CHECKING:
    from ._runtime import Sandbox

__all__ = ["GLOBAL_MODULES", "REQUIRE_MODULES", "install_modules"]

#: Modules that are globals and need no ``modules:`` entry.
GLOBAL_MODULES = ("errors", "process", "channel", "payload")
#: Modules an entry must list in ``modules:`` to ``require``.
REQUIRE_MODULES = ("time", "json", "funcs", "uuid", "ctx", "logger", "registry")


def install_modules(sb: Sandbox) -> None:
    """Install every Lua module into ``sb`` (idempotent per sandbox)."""
    if sb.module_names:
        return
    lua = sb.lua
    host = sb.host
    errors = sb.eval_privileged(ERRORS_LUA, host, lua.table_from(error_kinds_table()))
    sb.install_module("errors", errors, is_global=True)
    lua.globals()["errors"] = errors  # module code (privileged) uses it too

    core = install_core(sb)
    sb.install_module("channel", core.channel, is_global=True)
    # coroutine.spawn joins the sandbox's coroutine library
    sb.eval_privileged(
        "local host, spawn = ... host.real(host.BASE.coroutine).spawn = spawn",
        host, core.spawn,
    )
    process = sb.eval_privileged(PROCESS_LUA, core)
    sb.install_module("process", process, is_global=True)

    funcs = sb.eval_privileged(FUNCS_LUA, core)
    sb.install_module("funcs", funcs)

    consts = time_constants()
    time = sb.eval_privileged(
        TIME_LUA, core, lua.table_from(time_callbacks()),
        lua.table_from({"values": lua.table_from(consts["values"]),
                        "ZERO_SEC": consts["ZERO_SEC"]}),
        host,
    )
    sb.time_module = time
    sb.install_module("time", time)

    misc = sb.eval_privileged(MISC_LUA, core, lua.table_from(misc_callbacks(sb)))
    for name in ("uuid", "ctx", "json", "logger", "registry"):
        sb.install_module(name, misc[name])
    sb.install_module("payload", misc["payload"], is_global=True)

    sb.lib = SimpleNamespace(  # see Sandbox.__init__: functions only, looked up once
        wrap_channel=core.wrap_channel,
        new_message=core.new_message,
        payload_value=core.payload_value,
        new_payload=core.new_payload,
        msg_mark=core.MSG_MARK,
        new_time=time._new_time,
    )
    _register_conversions(sb)
    from ._commands import OPCODES

    host.set_opcodes(lua.table_from(OPCODES))
    sb.module_names = frozenset(GLOBAL_MODULES + REQUIRE_MODULES)


def _register_conversions(sb: Sandbox) -> None:
    conv = sb.convert
    new_time = sb.lib.new_time

    def time_to_lua(value: _dt.datetime) -> Any:
        s, n = unix_parts(value)
        return new_time(s, n, "UTC")

    def time_from_lua(plain: Any) -> Any:
        s, n = plain
        return datetime_from_parts(int(s), int(n))

    conv.register_type(Pid, str)
    conv.register_type(_dt.datetime, time_to_lua)
    conv.register_tag("T", time_from_lua)
    conv.register_tag("D", lambda ns: ns)
