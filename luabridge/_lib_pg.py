"""The ``pg`` Lua module (``require("pg")``): process groups, Erlang's ``pg``, as Wippy has it.

What it is for: a script puts its process in named groups and reaches every member of
a group at once, without knowing their PIDs. Groups live in a *scope*, declared by a
``pg.scope`` entry (:mod:`._kinds`) and opened by its ID; the groups themselves are
the kernel's (:class:`beamish.actors.PgScope`, through ``ctx.pg(scope)``), so Lua and
Python processes share them, and they span the cluster.

API (Wippy's names; ``inst`` is what ``pg.open`` returns, methods take colon syntax):

==========================================  =============================================
``pg.open(scope_id)``                        ``inst`` | ``nil, err`` (NOT_FOUND: no
                                             ``pg.scope`` entry with that ID)
``inst:join(group | {groups})``              ``true`` | ``nil, err``
``inst:leave(group | {groups})``             ``true`` | ``false, err`` (NOT_FOUND: the
                                             process was in none of them)
``inst:get_members(group)``,                 an array of PID strings (every node / this
``inst:get_local_members(group)``            node), a PID once per membership
``inst:which_groups()``,                     an array of group names, sorted
``inst:which_local_groups()``
``inst:broadcast(group, topic, ...)``,       how many processes it was sent to |
``inst:broadcast_local(group, topic, ...)``  ``nil, err``; members get an ordinary
                                             message from this process
``inst:monitor(group)``                      ``sub, members`` | ``nil, nil, err``
``inst:events()``                            ``sub, {group = {pids}}`` (the whole scope)
``sub:channel()`` / ``sub:close()``          the channel of events / ``true`` (ends the
                                             subscription; idempotent)
``inst:release()``                           ``true``; later calls are ``nil, err``
==========================================  =============================================

An event received from ``sub:channel()`` is a table ``{system = "pg", kind =
"member.joined" | "member.left", path = group, data = {Group = group, PIDs = {...}}}``.
A member that exits leaves its groups (a ``member.left`` event for each).

Rules:

* **Only the running process joins or leaves.** No call takes a PID to act on; ``join``
  and ``leave`` accept one as an optional second argument (Wippy code passes its own)
  and refuse any other with PERMISSION_DENIED. In a function the process is its
  caller's (functions run in the caller's context); a function called from outside
  any process is a short-lived frame, which leaves its groups when the call returns.
* **Bad input** is ``nil, err`` of kind INVALID: an empty group name ("group name is
  required"), an empty topic ("topic is required"), an empty groups table, a topic
  starting with ``@``. A value of the wrong type raises, as Wippy raises.
* A subscription is a listen on a topic private to it (``pg.monitor@<random>``, which
  no script can guess, so no script can forge events on it); it counts as one of the
  host's ``limits.listens``. ``sub:close()`` ends it and drops the events not yet
  received; a subscription made in a function ends when the call returns, and every
  subscription ends with its process.
* Only strings, numbers, tables and the module's own objects reach the script: PIDs
  are strings, and an instance or subscription holds no Python object.

Not in beamish: Wippy's permission checks (``security`` has no policies) and the
``pg.scope`` tuning keys (timeouts, queue sizes), accepted and ignored. ``broadcast``
returns the number of receivers where Wippy returns ``true`` (both are truthy).
"""

from __future__ import annotations

import secrets
from typing import Any

from beamish.actors import Error, ErrorKind, Groups, Message

from ._channels import LChannel
from ._commands import ArgumentError, LuaProcess, command, raises
from ._lib_process import sized_payload
from ._lua_sources import HostLua

__all__ = ["PG_LUA", "end_subscriptions"]

#: Privileged Lua, ``lua/pg.lua``: called with (core); returns the module table.
PG_LUA = HostLua("beamish.luabridge", "pg.lua")

#: The key of a subscription in the driver's cache: ``(_SUB, topic)`` ->
#: ``(LChannel, scope, group | None)``.
_SUB = "pg.sub"


def _invalid(message: str) -> Error:
    return Error(message, kind=ErrorKind.INVALID, retryable=False)


def _fail(drv: LuaProcess, exc: Error, nils: int = 1) -> tuple[Any, ...]:
    """``nil, err`` (``nil, nil, err`` for ``nils=2``), or the error raised in the script
    for bad arguments."""
    err = drv.sb.convert.error_to_lua(exc)
    if raises(exc):
        return (1, err)
    return (0, *(None,) * nils, err)


def _scope(drv: LuaProcess, scope: Any) -> Groups:
    """The scope ``scope`` as the running process uses it."""
    if not isinstance(scope, str) or scope not in drv.sb.pg_scopes:
        raise Error(f"pg scope {scope!r} not found: no pg.scope entry with that ID",
                    kind=ErrorKind.NOT_FOUND, retryable=False)
    return drv.ctx.pg(scope)


def _group(group: Any, fname: str) -> str:
    if not isinstance(group, str):
        raise ArgumentError(f"bad argument #1 to '{fname}' (group name string expected)")
    if not group:
        raise _invalid("group name is required")
    return group


def _groups(drv: LuaProcess, groups: Any) -> list[str]:
    """A group name or a table of them -> the names (checked)."""
    if isinstance(groups, str):
        return [_group(groups, "join")]
    if groups is None or isinstance(groups, bool | int | float):
        raise _invalid("group name (string) or groups table required")
    value = drv.sb.from_lua(groups)
    names = list(value.values()) if isinstance(value, dict) else value
    if not isinstance(names, list) or not names:
        raise _invalid("groups table must not be empty")
    for name in names:
        if not isinstance(name, str) or not name:
            raise _invalid("every group name in the table must be a non-empty string")
    return names


def _self_only(drv: LuaProcess, pid: Any, fname: str) -> None:
    """An explicit PID argument must be the running process's own."""
    if pid is not None and pid != str(drv.ctx.pid):
        raise Error(f"pg: {fname} acts on the running process only; {pid!r} is not "
                    f"{drv.ctx.pid} (call {fname} in that process)",
                    kind=ErrorKind.PERMISSION_DENIED, retryable=False)


def _topic(topic: Any) -> str:
    if not isinstance(topic, str):
        raise ArgumentError("bad argument #2 to 'broadcast' (topic string expected)")
    if not topic:
        raise _invalid("topic is required")
    if topic[0] == "@":
        raise _invalid(f"topic {topic!r} is reserved: topics starting with '@' belong "
                       "to the runtime")
    return topic


def _pids(pids: list[Any]) -> list[str]:
    return [str(p) for p in pids]


# -- commands ---------------------------------------------------------------------------


@command("pg_open")
def _open(drv: LuaProcess, tid: int, scope: Any = None) -> tuple[Any, ...]:
    if not isinstance(scope, str):
        return (1, drv.sb.convert.error_to_lua(
            ArgumentError("bad argument #1 to 'open' (scope entry ID string expected)")))
    try:
        if not scope:
            raise _invalid("resource id is required")
        _scope(drv, scope)
    except Error as exc:
        return _fail(drv, exc)
    return (0, scope)


@command("pg_join")
def _join(drv: LuaProcess, tid: int, scope: Any = None, groups: Any = None,
          pid: Any = None) -> tuple[Any, ...]:
    try:
        names = _groups(drv, groups)
        _self_only(drv, pid, "join")
        _scope(drv, scope).join(names)
    except Error as exc:
        return _fail(drv, exc)
    return (0, True)


@command("pg_leave")
def _leave(drv: LuaProcess, tid: int, scope: Any = None, groups: Any = None,
           pid: Any = None) -> tuple[Any, ...]:
    try:
        names = _groups(drv, groups)
        _self_only(drv, pid, "leave")
        if not _scope(drv, scope).leave(names):
            raise Error(f"pg: {drv.ctx.pid} is not a member of "
                        f"{', '.join(repr(n) for n in names)}",
                        kind=ErrorKind.NOT_FOUND, retryable=False)
    except Error as exc:
        if exc.kind is ErrorKind.NOT_FOUND and not raises(exc):
            return (0, False, drv.sb.convert.error_to_lua(exc))
        return _fail(drv, exc)
    return (0, True)


@command("pg_members")
def _members(drv: LuaProcess, tid: int, scope: Any = None, group: Any = None,
             local: Any = False) -> tuple[Any, ...]:
    try:
        name = _group(group, "get_local_members" if local else "get_members")
        s = _scope(drv, scope)
        pids = s.get_local_members(name) if local else s.get_members(name)
    except Error as exc:
        return _fail(drv, exc)
    return (0, drv.sb.to_lua(_pids(pids)))


@command("pg_groups")
def _which(drv: LuaProcess, tid: int, scope: Any = None, local: Any = False) -> tuple[Any, ...]:
    try:
        s = _scope(drv, scope)
        names = s.which_local_groups() if local else s.which_groups()
    except Error as exc:
        return _fail(drv, exc)
    return (0, drv.sb.to_lua(names))


@command("pg_broadcast")
def _broadcast(drv: LuaProcess, tid: int, scope: Any = None, local: Any = False,
               group: Any = None, topic: Any = None, *payload: Any) -> tuple[Any, ...]:
    try:
        name = _group(group, "broadcast_local" if local else "broadcast")
        t = _topic(topic)
        s = _scope(drv, scope)
        values, _size = sized_payload(drv.sb, payload)
        sent = s.broadcast_local(name, t, *values) if local else s.broadcast(name, t, *values)
    except Error as exc:
        return _fail(drv, exc)
    return (0, sent)


@command("pg_monitor")
def _monitor(drv: LuaProcess, tid: int, scope: Any = None, whole: Any = False,
             group: Any = None) -> tuple[Any, ...]:
    """``inst:monitor(group)`` / ``inst:events()`` (``whole``): a channel fed by a
    listen on a private topic, and the members now (taken in the same step)."""
    ctx = drv.ctx
    try:
        name = None if whole else _group(group, "monitor")
        s = _scope(drv, scope)
        kind = "events" if whole else "monitor"
        topic = f"pg.{kind}@{secrets.token_hex(12)}"
        src = ctx.listen(topic)  # first: a refused listen (limits.listens) subscribes nothing
        try:
            members = s.monitor(name, topic)
        except Error:
            ctx.unlisten(topic)
            raise
    except Error as exc:
        return _fail(drv, exc, nils=2)
    to_lua = drv.sb.convert.received

    def adapt(msg: Message) -> tuple[Any, ...]:
        payload = msg.payload
        return (to_lua(payload[0]) if len(payload) == 1 else None, True)

    # kind "listen:...": a delivery wakes a hibernating process (``_driver.is_mailbox``)
    lch = LChannel(1, source=src, adapt=adapt, kind=f"listen:{topic}")
    cache = drv.cache
    if cache is None:
        cache = drv.cache = {}
    cache[(_SUB, topic)] = (lch, scope, name)
    if isinstance(members, dict):
        snapshot: Any = {g: _pids(m) for g, m in members.items()}
    else:
        snapshot = _pids(members)
    return (0, drv.sb.lib.wrap_channel(lch), drv.sb.to_lua(snapshot))


@command("pg_unsubscribe")
def _unsubscribe(drv: LuaProcess, tid: int, h: Any = None) -> tuple[Any, ...]:
    if type(h) is LChannel:
        for key, value in list((drv.cache or {}).items()):
            if isinstance(key, tuple) and key[0] == _SUB and value[0] is h:
                _end(drv, key[1], value)
    return (0, True)


def _end(drv: LuaProcess, topic: str, sub: tuple[LChannel, str, str | None]) -> None:
    """End one subscription: no more events, its listen gone, its channel closed (the
    events not yet received are dropped)."""
    lch, scope, group = sub
    if drv.cache is not None:
        drv.cache.pop((_SUB, topic), None)
    ctx = drv.ctx
    try:
        ctx.pg(scope).demonitor(group, topic)
    except Error:  # the context cannot use groups any more: nothing to undo there
        pass
    ctx.unlisten(topic)
    lch.source = None
    lch.close()


def end_subscriptions(drv: LuaProcess) -> None:
    """End every subscription ``drv`` made (a function call that returned: its
    context, the caller's, lives on and must not keep receiving events)."""
    cache = drv.cache
    if not cache:
        return
    for key, value in list(cache.items()):
        if isinstance(key, tuple) and key[0] == _SUB:
            _end(drv, key[1], value)
