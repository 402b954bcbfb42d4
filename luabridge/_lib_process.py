"""The ``process`` Lua module (a global): PIDs, messages, spawning, links, names.

Wippy's documented API, each call performed through the driver's context:

=============================================  ===============================================
``process.pid()`` / ``process.id()``           own PID string / running entry ID
``process.send(dest, topic, ...)``             ``true`` | ``nil, err`` (dest: PID or name;
                                               ``@`` topics and dead PIDs are errors)
``process.spawn[_monitored|_linked|            ``pid`` | ``nil, err``; the extra arguments are
_linked_monitored](id, host, ...)``            the entry method's parameters
``process.exec(id, host, ...)``                the child's result | ``nil, err``; the
                                               process's other coroutines keep running
``process.call(dest, request, timeout?)``      the reply of a Python ``Server`` | ``nil,
                                               err`` (beamish's; ``ctx.ask``, default 5 s)
``process.cast(dest, request)``                ``true`` | ``nil, err`` (``ctx.cast``)
``process.terminate(dest)``,                   ``true`` | ``nil, err``
``process.cancel(dest, reason?)``,
``process.monitor/unmonitor/link/unlink``
``process.inbox()`` / ``process.events()``     the same channel every call
``process.listen(topic, {message=bool}?)``     a channel of payload values (or messages)
``process.unlisten(ch)``                       closes it; later messages go to the inbox
``process.get_options()`` / ``set_options(t)``  ``{trap_links=bool}``; other keys are INVALID
``process.registry.register(name, pid?)``,     ``true`` | ``nil, err``; ``pid`` | ``nil, err``;
``lookup(name)``, ``unregister(name)``         ``bool``
``process.with_context(t)``,                   immutable spawn builders with ``with_name``,
``process.with_options(t)``                    ``with_message``, ``with_context``,
                                               ``with_options``, ``with_actor``,
                                               ``with_scope`` and ``spawn*`` / ``exec``; the
                                               child inherits the spawner's security actor
                                               and scope (:mod:`._lib_security`)
``process.event.EXIT/CANCEL/LINK_DOWN``        ``"pid.exit"``, ``"pid.cancel"``,
                                               ``"pid.link.down"``
=============================================  ===============================================

Event tables from ``process.events()``: ``kind``, ``from`` (PID string), ``result =
{value=..., error=err}`` for EXIT and LINK_DOWN, ``reason`` for CANCEL.

Values crossing to another process are converted (deep copies) by
:class:`~._convert.Converter`; a spawn with no host uses the spawner's own host
(``ctx.home_host``: a function called from outside any process has none, so its spawns
go to the node's default host).

A spawn on a host whose starts are confirmed later (a ``temporal.worker``: the start is
an RPC; :func:`beamish.actors.pending_start`) waits for that confirmation (the
calling coroutine yields, the process's others keep running), so a start the host
refuses (workflow ID taken under a FAIL policy) is ``nil, err`` rather than an EXIT.

Every effect goes through the :class:`~beamish.actors.Context` contract, the same in
the kernel and in a workflow; what a backend cannot do (a workflow cannot link, monitor
or use names) fails in the context with ``Error(INVALID)``, returned as ``nil, err``.

Quotas (``Limits`` of the process's host, :func:`beamish.actors.limits_of`), each failing the
call that would go over it, in the calling script, never the receiver:

* ``process.send`` to a full mailbox (``limits.mailbox_messages`` of the receiver's
  host), or one whose queued payload bytes would go over ``limits.mailbox_bytes``:
  ``nil, err`` with ``err:kind() == errors.RATE_LIMITED`` (retryable). The bytes of a
  Lua payload are its string bytes (``Converter.last_bytes``; a string's length).
* ``process.spawn*`` / ``exec`` while the process has ``limits.children`` live
  children: ``nil, err`` (RATE_LIMITED, retryable).
* a builder's ``with_message`` beyond ``limits.spawn_messages`` raises (INVALID); a
  spawn carrying more (a builder made elsewhere) returns ``nil, err`` (INVALID).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from beamish.actors import (
    Channel,
    Context,
    Error,
    ErrorKind,
    Event,
    EventKind,
    Message,
    Pid,
    ProcessExit,
    as_error,
    limits_of,
    parse_duration,
    pending_start,
    spawn_messages_error,
)

from ._channels import INBOX, LChannel, Source, Waiter
from ._commands import BLOCKED, ArgumentError, DirectAwait, LuaProcess, command, raises
from ._lib_security import child_security
from ._lua_sources import HostLua

if TYPE_CHECKING:
    from ._runtime import Sandbox

__all__ = ["PROCESS_LUA", "exec_await", "message_adapter", "new_inbox"]

#: How a handler answers a failed effect: ``err(drv, error)`` -> the resume values
#: (``nil, err`` for the script, or the error raised in it).
ErrorAnswer = Callable[[LuaProcess, Error], tuple[Any, ...]]
#: A source item (a kernel Message or Event) -> the values a Lua receiver gets.
Adapter = Callable[[Any], tuple[Any, ...]]

#: Privileged Lua, ``lua/process.lua``: called with (core); returns the module table.
PROCESS_LUA = HostLua("beamish.luabridge", "process.lua")


# -- helpers -----------------------------------------------------------------------------


def _err(drv: LuaProcess, exc: Error) -> tuple[Any, ...]:
    """``nil, err`` for the Lua caller (bad arguments and unconvertible values raise)."""
    if raises(exc):
        return (1, drv.sb.convert.error_to_lua(exc))
    return (0, None, drv.sb.convert.error_to_lua(exc))


def _dest(dest: Any, drv: LuaProcess | None = None) -> Pid | str:
    if type(dest) is str and dest:
        if drv is not None and dest[0] == "{":
            pids = drv.sb.pids
            pid = pids.get(dest)
            if pid is None and Pid.looks_like(dest):
                if len(pids) > 4096:
                    pids.clear()
                pid = pids[dest] = Pid.parse(dest)
            if pid is not None:
                return pid
        return dest
    raise ArgumentError(
        f"destination must be a PID string or a registered name, got {_lua_type_name(dest)}"
    )


def _lua_type_name(v: Any) -> str:
    if v is None:
        return "nil"
    return type(v).__name__


def _payload(drv: LuaProcess, values: tuple[Any, ...]) -> tuple[Any, ...]:
    fl = drv.sb.from_lua
    return tuple(fl(v) for v in values)


def _spawn_kwargs(drv: LuaProcess, b: Any, host: Any) -> dict[str, Any]:
    kw: dict[str, Any] = {}
    if host is not None:
        if not isinstance(host, str) or not host:
            raise Error("host must be a host entry ID string", kind=ErrorKind.INVALID)
        kw["host"] = host
    else:
        kw["host"] = drv.ctx.home_host
    spec: Any = {}
    if b is not None:
        _check_spawn_messages(drv, b)
        spec = drv.sb.from_lua(b)
        if spec.get("name") is not None:
            kw["name"] = spec["name"]
        if spec.get("context"):
            kw["context"] = spec["context"]
        if spec.get("options"):
            kw["options"] = spec["options"]
        msgs = spec.get("messages")
        if msgs:
            out = []
            for m in msgs:
                topic, packed = m[0], m[1] if len(m) > 1 else {}
                n = packed.get("n", 0) if isinstance(packed, dict) else len(packed)
                if isinstance(packed, dict):
                    payload = tuple(packed.get(i) for i in range(1, n + 1))
                else:
                    payload = tuple(packed)
                out.append((topic, payload))
            kw["messages"] = out
    # The security actor/scope: the builder's, else inherited from this process.
    context = child_security(drv.values, kw.get("context"), spec)
    if context:
        kw["context"] = context
    return kw


def _spawn_messages_limit_error(drv: LuaProcess, count: int) -> Error:
    ctx = drv.ctx
    return spawn_messages_error(ctx.pid.host or "?", limits_of(ctx).spawn_messages, count)


def _check_spawn_messages(drv: LuaProcess, b: Any) -> None:
    """Refuse a builder carrying more start-up messages than the limit, before its
    messages are converted (the kernel's ``spawn`` checks again, for every caller)."""
    try:
        msgs = b["messages"]
        count = len(msgs) if msgs is not None else 0
    except Exception:  # not a builder table: from_lua reports what is wrong
        return
    if count > limits_of(drv.ctx).spawn_messages:
        raise _spawn_messages_limit_error(drv, count)


@command("spawn_message_room")
def _spawn_message_room(drv: LuaProcess, tid: int, count: Any = 0) -> tuple[Any, ...]:
    """``with_message`` on a builder that has ``count`` messages: raise if one more
    would go over ``limits.spawn_messages``."""
    if isinstance(count, int) and count >= limits_of(drv.ctx).spawn_messages:
        return (1, drv.sb.convert.error_to_lua(_spawn_messages_limit_error(drv, count + 1)))
    return (0,)


def _target(target: Any) -> str:
    if not isinstance(target, str) or ":" not in target:
        raise ArgumentError(f"entry ID must be a 'namespace:name' string, got {target!r}")
    return target


# -- identity and messaging ----------------------------------------------------------------


@command("pid")
def _pid(drv: LuaProcess, tid: int) -> tuple[Any, ...]:
    return (0, str(drv.ctx.pid))


@command("id")
def _id(drv: LuaProcess, tid: int) -> tuple[Any, ...]:
    return (0, drv.ctx.entry_id)


@command("ask")
def _ask(
    drv: LuaProcess, tid: int, ex: Any, dest: Any = None, request: Any = None, timeout: Any = None
) -> Any:
    """``process.call(dest, request[, timeout])``: ``reply`` | ``nil, err`` (``ctx.ask``).

    ``timeout`` is a duration string (``"2s"``) or milliseconds, default 5 s. The task
    waits in its process's task, so sibling coroutines wait with it (a call is short)."""
    try:
        target = _dest(dest, drv)
        value = drv.sb.from_lua(request)
        seconds = (
            5.0
            if timeout is None
            else parse_duration(timeout, field="timeout", number_unit="ms")
        )
    except Error as exc:
        return _err(drv, exc)
    ctx = drv.ctx

    async def direct() -> tuple[Any, ...]:
        try:
            reply = await ctx.ask(target, value, timeout=seconds)
            return (0, drv.sb.to_lua(reply))
        except Error as exc:
            return (0, None, drv.sb.convert.error_to_lua(exc.for_script()))

    return DirectAwait(direct)


@command("cast")
def _cast(drv: LuaProcess, tid: int, dest: Any = None, request: Any = None) -> Any:
    """``process.cast(dest, request)``: ``true`` | ``nil, err`` (``ctx.cast``)."""
    try:
        drv.ctx.cast(_dest(dest, drv), drv.sb.from_lua(request))
    except Error as exc:
        return _err(drv, exc)
    return _TRUE


@command("send")
def _send(drv: LuaProcess, tid: int, dest: Any = None, topic: Any = None, *payload: Any) -> Any:
    try:
        if not isinstance(topic, str):
            raise Error("topic must be a string", kind=ErrorKind.INVALID, retryable=False)
        values, size = sized_payload(drv.sb, payload)
        send_counted(drv.ctx, _dest(dest, drv), topic, values, size)
    except Error as exc:
        return _err(drv, exc)
    return (0, True)


def sized_payload(sb: Sandbox, values: tuple[Any, ...]) -> tuple[tuple[Any, ...], int]:
    """``values`` converted from Lua, and their string bytes (for ``mailbox_bytes``)."""
    if not values:
        return (), 0
    fl = sb.from_lua
    conv = sb.convert
    out = []
    size = 0
    for v in values:
        out.append(fl(v))
        size += conv.last_bytes
    return tuple(out), size


def send_counted(
    ctx: Context, dest: Pid | str, topic: str, payload: tuple[Any, ...], size: int
) -> None:
    """Send ``payload``; with its string bytes (``size`` > 0) through
    :meth:`~beamish.actors.Context.send_sized`, so the receiver's
    ``limits.mailbox_bytes`` applies where the backend keeps one."""
    if size > 0:
        ctx.send_sized(dest, topic, size, *payload)
    else:
        ctx.send(dest, topic, *payload)


_TRUE = (0, True)
_SCALAR = (str, int, float, bool, type(None))
#: Scalars that need no conversion on the way to Lua (ints may overflow: not here).
_SCALAR_FAST = frozenset({str, float, bool, type(None)})


def direct_send(sb: Sandbox) -> Any:
    """``process.send`` as a direct callback (the hottest call: no command dispatch).

    Payload bytes for ``limits.mailbox_bytes``: a string scalar's length, else what the
    converter counted (``Converter.last_bytes``) for each converted value; a payload of
    numbers, booleans and nils has size 0 and takes the plain ``ctx.send`` path.
    """
    to_lua_error = sb.convert.error_to_lua

    def H_send(dest: Any, topic: Any, *payload: Any) -> Any:
        # Answers True, (None, err) for ``nil, err``, or (False, err) to raise.
        drv: LuaProcess | None = sb.current
        try:
            if drv is None:
                raise Error("process.send needs a running process", kind=ErrorKind.INVALID)
            if type(topic) is not str:
                raise ArgumentError("topic must be a string")
            pid = sb.pids.get(dest) if type(dest) is str else None
            size = 0
            for v in payload:
                tv = type(v)
                if tv is str:
                    size += len(v)
                elif tv not in _SCALAR:
                    payload, size = sized_payload(sb, payload)
                    break
            if size:
                send_counted(drv.ctx, pid or _dest(dest, drv), topic, payload, size)
            else:
                drv.ctx.send(pid or _dest(dest, drv), topic, *payload)
        except Error as exc:
            if raises(exc):  # a programming error: raise it in the script
                return (False, to_lua_error(exc))
            return (None, to_lua_error(exc))
        except Exception as exc:  # never let a Python exception reach Lua
            return (False, to_lua_error(as_error(exc)))
        return True

    return H_send


# -- processes -------------------------------------------------------------------------------


@command("spawn")
def _spawn(
    drv: LuaProcess, tid: int, flags: int, b: Any, target: Any = None, host: Any = None, *args: Any
) -> Any:
    try:
        kw = _spawn_kwargs(drv, b, host)
        pid = drv.ctx.spawn(
            _target(target),
            *_payload(drv, args),
            monitor=bool(flags & 1),
            link=bool(flags & 2),
            **kw,
        )
    except Error as exc:
        return _err(drv, exc)
    if pending_start(pid) is not None:
        # A host that confirms starts later (a workflow start is an RPC): ``true`` tells
        # process.lua to yield into ``spawn_wait``, so a refused start (ID taken under a
        # FAIL policy) is ``nil, err`` for the script, not an EXIT.
        return (0, str(pid), True)
    return (0, str(pid))


@command("spawn_wait")
def _spawn_wait(drv: LuaProcess, tid: int, pid: Any = None) -> Any:
    """Wait for the host to accept the start of ``pid`` (just spawned): ``pid`` or
    ``nil, err`` with the host's refusal. Beside sibling tasks only this one waits."""
    p = Pid.parse(pid) if isinstance(pid, str) else None
    when = pending_start(p) if p is not None else None
    if when is None:  # already confirmed (or not a pending start): nothing to wait for
        return (0, pid)
    outcome = Channel(name=f"start of {pid}")
    when(outcome.put_nowait)  # claims it: a refusal is this answer, not an EXIT
    to_lua_error = drv.sb.convert.error_to_lua

    async def direct() -> tuple[Any, ...]:
        error = await outcome.receive()
        return (0, pid) if error is None else (0, None, to_lua_error(error))

    def via_channel(drv_: LuaProcess, tid_: int) -> Any:
        def adapt(error: Any) -> tuple[Any, ...]:
            return (pid,) if error is None else (None, to_lua_error(error))

        ch = LChannel(source=outcome, adapt=adapt, kind="spawn")
        ch.park_receiver(Waiter(drv_, tid_))
        drv_.park_on(ch)
        return BLOCKED

    return DirectAwait(direct, via_channel)


@command("exec")
def _exec(
    drv: LuaProcess, tid: int, b: Any, target: Any = None, host: Any = None, *args: Any
) -> Any:
    try:
        kw = _spawn_kwargs(drv, b, host)
        target = _target(target)
        payload = _payload(drv, args)
    except Error as exc:
        return _err(drv, exc)
    return exec_await(drv, target, payload, kw, _err)


def exec_await(
    drv: LuaProcess, target: str, payload: tuple[Any, ...], kw: dict[str, Any], err: ErrorAnswer
) -> DirectAwait:
    """The wait of an exec (``process.exec``, ``workflow.exec``) for the driver.

    Alone in its process the task awaits ``ctx.exec`` (one Temporal command in a
    workflow). Beside siblings it must not hold them up: the child is spawned monitored
    and the task parks until the child's EXIT event (:meth:`Driver.wait_exit`); with a
    ``name`` taken already, ``spawn`` returns the running process and monitors that one
    (spawn-or-signal), so the task waits for its exit. Either way the task resumes with
    the child's result, or ``err(drv, error)``.
    """
    ctx = drv.ctx

    async def direct() -> tuple[Any, ...]:
        try:
            value = await ctx.exec(target, *payload, **kw)
        except ProcessExit as exc:
            return err(drv, exc.error)
        except Error as exc:
            return err(drv, exc)
        return _exit_value(drv, value, err)

    def resume_of(ev: Event) -> tuple[Any, ...]:
        if ev.error is not None:
            return err(drv, ev.error)
        return _exit_value(drv, ev.value, err)

    def via_events(drv_: LuaProcess, tid_: int) -> Any:
        try:
            pid = ctx.spawn(target, *payload, monitor=True, **kw)
        except Error as exc:
            return err(drv, exc)
        drv.wait_exit(pid, tid_, _events_channel(drv), resume_of)
        return BLOCKED

    return DirectAwait(direct, via_events)


def _exit_value(drv: LuaProcess, value: Any, err: ErrorAnswer) -> tuple[Any, ...]:
    try:
        return (0, drv.sb.to_lua(value))
    except Error as exc:
        return err(drv, exc)


def _control(name: str, op: Callable[[Context, Pid | str], Any]) -> None:
    """Register command ``name``: ``op(ctx, dest)``, answering ``true`` | ``nil, err``."""

    @command(name)
    def handler(drv: LuaProcess, tid: int, dest: Any = None) -> Any:
        try:
            op(drv.ctx, _dest(dest))
        except Error as exc:
            return _err(drv, exc)
        return _TRUE

    handler.__qualname__ = f"_control[{name}]"


_control("terminate", lambda ctx, dest: ctx.terminate(dest))
_control("monitor", lambda ctx, dest: ctx.monitor(dest, strict=True))  # Wippy: an error
_control("unmonitor", lambda ctx, dest: ctx.unmonitor(dest))
_control("link", lambda ctx, dest: ctx.link(dest))
_control("unlink", lambda ctx, dest: ctx.unlink(dest))


@command("cancel")
def _cancel(drv: LuaProcess, tid: int, dest: Any = None, reason: Any = None) -> Any:
    try:
        drv.ctx.cancel(_dest(dest), "" if reason is None else str(reason))
    except Error as exc:
        return _err(drv, exc)
    return (0, True)


@command("get_trap_links")
def _get_trap(drv: LuaProcess, tid: int) -> tuple[Any, ...]:
    return (0, bool(drv.ctx.trap_links))


@command("set_trap_links")
def _set_trap(drv: LuaProcess, tid: int, value: Any) -> tuple[Any, ...]:
    drv.ctx.trap_links = bool(value)
    return (0, True)


# -- mailbox channels ---------------------------------------------------------------------------


def message_adapter(sb: Sandbox, *, resume: bool = False) -> Adapter:
    """The adapter turning kernel Messages into Lua message parts (one per sandbox).

    With ``resume=True`` it returns the whole resume tuple of a receive (``(0, ...)``).
    """
    mark = sb.lib.msg_mark
    # what a sender sent must never fail the receiver: a value that cannot enter Lua
    # arrives as an error value (Converter.received)
    to_lua = sb.convert.received
    pid_strings = sb.pid_strings

    def sender_text(sender: Pid | None) -> str | None:
        """The sender's PID string, memoised per sandbox (bounded)."""
        if sender is None:
            return None
        text = pid_strings.get(sender)
        if text is None:
            if len(pid_strings) > 4096:
                pid_strings.clear()
            text = pid_strings[sender] = str(sender)
        return text

    def adapt_resume(msg: Message) -> tuple[Any, ...]:
        payload = msg.payload
        frm = sender_text(msg.sender)
        if len(payload) == 1:
            p = payload[0]
            return (0, mark, msg.topic, frm, 1, p if type(p) in _SCALAR_FAST else to_lua(p))
        return (0, mark, msg.topic, frm, len(payload), *[to_lua(p) for p in payload])

    if resume:
        return adapt_resume

    def adapt(msg: Message) -> tuple[Any, ...]:
        payload = msg.payload
        frm = sender_text(msg.sender)
        if len(payload) == 1:
            return (mark, msg.topic, frm, 1, to_lua(payload[0]))
        return (mark, msg.topic, frm, len(payload), *[to_lua(p) for p in payload])

    return adapt


def _message_adapter(drv: LuaProcess) -> Adapter:
    sb = drv.sb
    adapt = sb.message_adapter
    if adapt is None:
        adapt = sb.message_adapter = message_adapter(sb)
    return adapt


def _value_adapter(drv: LuaProcess) -> Adapter:
    payload_value = drv.sb.lib.payload_value
    to_lua = drv.sb.convert.received

    def adapt(msg: Message) -> tuple[Any, ...]:
        payload = msg.payload
        if len(payload) == 1:
            return (to_lua(payload[0]), True)
        return (payload_value(len(payload), *[to_lua(p) for p in payload]), True)

    return adapt


def event_to_dict(ev: Event) -> dict[str, Any]:
    d: dict[str, Any] = {"kind": str(ev.kind), "from": str(ev.sender)}
    if ev.kind is EventKind.CANCEL:
        d["reason"] = ev.reason
    else:
        result: dict[str, Any] = {}
        if ev.error is not None:
            result["error"] = ev.error
        elif ev.value is not None:
            result["value"] = ev.value
        d["result"] = result
    return d


def _event_adapter(drv: LuaProcess) -> Adapter:
    to_lua = drv.sb.to_lua

    def adapt(ev: Any) -> tuple[Any, ...]:
        if isinstance(ev, Event):
            try:
                return (to_lua(event_to_dict(ev)), True)
            except Error:
                d = event_to_dict(ev)
                d.get("result", {}).pop("value", None)
                return (to_lua(d), True)
        return (to_lua(ev), True)

    return adapt


def _cached_channel(drv: LuaProcess, key: Any, make: Callable[..., LChannel], *args: Any) -> Any:
    cache = drv.cache
    if cache is None:
        cache = drv.cache = {}
    got = cache.get(key)
    if got is None:
        lch = make(drv, *args)
        got = (lch, drv.sb.lib.wrap_channel(lch))
        cache[key] = got
    return got[1]


def new_inbox(drv: LuaProcess) -> LChannel:
    """The process's inbox as an :class:`LChannel` (see ``_channels.INBOX``)."""
    ch = LChannel(source=drv.ctx.inbox(), adapt=_message_adapter(drv), kind="inbox")
    ch.resume_adapt = drv.sb.lib.message_resume
    return ch


def _new_events(drv: LuaProcess) -> LChannel:
    return LChannel(source=drv.ctx.events(), adapt=_event_adapter(drv), kind="events")


@command("events")
def _events(drv: LuaProcess, tid: int) -> tuple[Any, ...]:
    return (0, _cached_channel(drv, "events", _new_events))


def _events_channel(drv: LuaProcess) -> LChannel:
    """The script's events channel itself (created if the script never asked)."""
    _cached_channel(drv, "events", _new_events)
    return drv.cache["events"][0]  # type: ignore[index]


@command("listen")
def _listen(
    drv: LuaProcess, tid: int, topic: Any = None, as_message: Any = False
) -> tuple[Any, ...]:
    if not isinstance(topic, str) or not topic:
        raise Error("bad argument #1 to 'listen' (topic string expected)", kind=ErrorKind.INVALID)
    key = ("listen", topic)
    got = drv.cache.get(key) if drv.cache else None
    if got is not None and got[0].closed:
        got = None
        del drv.cache[key]  # type: ignore[union-attr]
    src = drv.ctx.listen(topic)  # raises Error(INVALID) for '@' topics
    adapt = _message_adapter(drv) if as_message else _value_adapter(drv)
    return (0, _cached_channel(drv, key, _new_listen, src, adapt, topic))


def _new_listen(drv: LuaProcess, src: Source, adapt: Adapter, topic: str) -> LChannel:
    return LChannel(1, source=src, adapt=adapt, kind=f"listen:{topic}")


@command("unlisten")
def _unlisten(drv: LuaProcess, tid: int, h: Any) -> tuple[Any, ...]:
    if h is INBOX:
        h = drv.inbox_channel()
    if type(h) is LChannel:
        # (the cache holds other per-process objects too: timer slots...)
        for key, value in list((drv.cache or {}).items()):
            if isinstance(key, tuple) and key[0] == "listen" and value[0] is h:
                drv.ctx.unlisten(key[1])
                del drv.cache[key]  # type: ignore[union-attr]
        h.source = None
        h.close()
    return (0,)


# -- names ----------------------------------------------------------------------------------------


def _name_and_pid(name: Any, pid: Any) -> tuple[str, Pid | None]:
    """The arguments of ``process.registry.register``, checked: ``Error(INVALID)``."""
    if not isinstance(name, str) or not name:
        raise Error("name must be a non-empty string", kind=ErrorKind.INVALID)
    if pid is None:
        return name, None
    return name, pid if isinstance(pid, Pid) else Pid.parse(str(pid))


@command("register")
def _register(drv: LuaProcess, tid: int, name: Any = None, pid: Any = None) -> Any:
    try:
        drv.ctx.register(*_name_and_pid(name, pid))
    except Error as exc:
        return _err(drv, exc)
    return (0, True)


@command("register_global")
def _register_global(drv: LuaProcess, tid: int, name: Any = None, pid: Any = None) -> Any:
    """``process.registry.register(name, pid, CONSISTENT | STRONG)``: wait for the
    cluster to confirm the name (``true``) or refuse it (``nil, err`` ALREADY_EXISTS)."""
    try:
        name, target = _name_and_pid(name, pid)
    except Error as exc:
        return _err(drv, exc)
    ctx = drv.ctx

    async def direct() -> tuple[Any, ...]:
        try:
            await ctx.register_global(name, target)
        except Error as exc:
            return _err(drv, exc)
        return (0, True)

    def resume_of(ev: Event) -> tuple[Any, ...]:
        return _err(drv, ev.error) if ev.error is not None else (0, True)

    def via_events(drv_: LuaProcess, tid_: int) -> Any:
        # beside sibling tasks: a helper process waits for the answer instead
        try:
            helper = ctx.spawn(_claim, name, target or ctx.pid, monitor=True)
        except Error as exc:
            return _err(drv, exc)
        drv.wait_exit(helper, tid_, _events_channel(drv), resume_of)
        return BLOCKED

    return DirectAwait(direct, via_events)


async def _claim(ctx: Context, name: str, owner: Pid) -> None:
    await ctx.register_global(name, owner)


@command("lookup")
def _lookup(drv: LuaProcess, tid: int, name: Any = None) -> Any:
    try:
        if not isinstance(name, str) or not name:
            raise Error("name must be a non-empty string", kind=ErrorKind.INVALID)
        pid = drv.ctx.lookup(name)
    except Error as exc:
        return _err(drv, exc)
    return (0, str(pid))


@command("unregister")
def _unregister(drv: LuaProcess, tid: int, name: Any = None) -> Any:
    if not isinstance(name, str):
        return (0, False)
    return (0, bool(drv.ctx.unregister(name)))
