"""The process contract, kept alike by both backends: the same body, the same result.

Every case runs one Python body (``python:<name>``) and one Lua script (``lua:<name>``)
under both backends of ``beamish.actors.Context``: the kernel (``Process``) and a
Temporal workflow (``WorkflowContext``). Each pair is written to return the same data,
so one assertion covers the four runs. Peers are kernel processes, functions are node
functions (activities in a workflow). The documented differences between backends are
in ``test_differences.py``.
"""

from __future__ import annotations

import datetime
import uuid

import pytest
import trio

from beamish.actors import Error, ErrorKind, EventKind, Pid, ProcessExit, Timeout, current_values

LUA_EPILOGUE = "\nreturn {main = main}\n"
LUA_PRELUDE = (
    'local funcs = require("funcs") local time = require("time") '
    'local uuid = require("uuid") local ctx = require("ctx")\n'
    # the kind of the error a call raised or returned, else "ok"
    "local function kind_of(f, ...)\n"
    "  local ok, r, e = pcall(f, ...)\n"
    '  if not ok then return type(r) == "string" and ("raised:" .. r) or r:kind() end\n'
    "  if e ~= nil then return e:kind() end\n"
    '  return "ok"\n'
    "end\n"
)

#: The payload of the round trip: nested, unicode, a list.
PAYLOAD = {"n": 1, "s": "héllo", "l": [1, 2, 3], "m": {"k": True}}


def present(result):
    """The keys of ``result`` that hold a value: a Lua table cannot hold nil, so a
    Python body's ``None`` field is an absent key in the Lua one's."""
    return {k: v for k, v in result.items() if v is not None}


# -- peers (kernel processes the bodies talk to) -------------------------------------------


async def echo_peer(ctx):
    """Answers "ping" with "pong" {echo, sender}; "side-please" with a "side" message."""
    while True:
        msg = await ctx.receive()
        if msg.topic == "side-please":
            ctx.send(msg.sender, "side", "kept")
        else:
            ctx.send(msg.sender, "pong", {"echo": msg.data, "sender": str(msg.sender)})


async def cancel_recorder(ctx):
    """Exits with what its first event says."""
    ev = await ctx.events().receive()
    return [ev.kind.value, ev.reason, str(ev.sender)]


async def waits_forever(ctx):
    await ctx.receive()


async def exits_at_once(ctx):
    return None


# -- functions -------------------------------------------------------------------------------


def _fail_not_found():
    raise Error("no such thing", kind=ErrorKind.NOT_FOUND, retryable=False)


async def _slow():
    await trio.sleep(30)  # cancelled by the caller's timeout long before


FUNCTIONS = {
    "conf:slow": _slow,
    "conf:double": lambda x: x * 2,
    "conf:fail_not_found": _fail_not_found,
    "conf:values": lambda: dict(current_values()),
}


# -- Python bodies ---------------------------------------------------------------------------


async def ping(ctx, peer):
    ctx.send(peer, "ping", PAYLOAD)
    msg = await ctx.receive()
    return {
        "topic": msg.topic,
        "data": msg.data,
        "from_peer": str(msg.sender) == peer,
        "me": str(ctx.pid),
    }


async def routes(ctx):
    a = ctx.listen("a")
    first = await ctx.receive()
    second = await a.receive()
    return [[first.topic, first.data], [second.topic, second.data]]


async def late_subscriber(ctx):
    go = ctx.listen("go")
    await go.receive()
    a = ctx.listen("a")
    got_a = [(await a.receive()).data for _ in range(2)]
    rest = await ctx.receive()
    return {"a": got_a, "inbox": [rest.topic, rest.data]}


async def at_topics(ctx, peer):
    out = {}
    for what, op in (
        ("send", lambda: ctx.send(peer, "@x", 1)),
        ("listen", lambda: ctx.listen("@x")),
    ):
        try:
            op()
            out[what] = "ok"
        except Error as e:
            out[what] = e.kind.value
    return out


async def times_out(ctx, peer):
    side = ctx.listen("side")
    ctx.send(peer, "side-please")
    try:
        await ctx.receive(timeout=0.1)
        timed_out = False
    except Timeout:
        timed_out = True
    select_none = await ctx.select([ctx.inbox()], timeout=0.05) is None
    ctx.send(peer, "ping", 7)
    reply = await ctx.receive()
    kept = await side.receive()
    return {
        "timed_out": timed_out,
        "select_none": select_none,
        "reply": [reply.topic, reply.data["echo"]],
        "side": kept.data,
    }


async def calls(ctx):
    result = await ctx.call("conf:double", 21)
    try:
        await ctx.call("conf:fail_not_found")
        error = None
    except Error as e:
        error = {"kind": e.kind.value, "message": e.message, "retryable": e.retryable}
    return {"result": result, "error": error}


async def calls_async(ctx):
    f1 = ctx.call_async("conf:double", 1)
    f2 = ctx.call_async("conf:double", 2)
    f3 = ctx.call_async("conf:fail_not_found")
    v2 = await f2.result()
    v1 = await f1.result()
    try:
        await f3.result()
        kind = None
    except Error as e:
        kind = e.kind.value
    return {"values": [v1, v2], "error": kind, "complete": f1.is_complete()}


async def sleeps(ctx):
    t0 = ctx.monotonic()
    await ctx.sleep(0.05)
    t1 = ctx.monotonic()
    fired = await ctx.after(0.05).receive()
    t2 = ctx.monotonic()
    return {
        "slept": t1 - t0 >= 0.05,
        "after": t2 - t1 >= 0.05,
        "fired_is_time": isinstance(fired, datetime.datetime),
    }


async def clock(ctx):
    t0 = ctx.now()
    await ctx.sleep(0.02)
    t1 = ctx.now()
    return {
        "utc": t0.tzinfo is not None and t0.utcoffset() == datetime.timedelta(0),
        "forward": t1 > t0,
        "iso": t0.isoformat(),
    }


async def ids(ctx):
    return [ctx.uuid4(), ctx.uuid7(), ctx.uuid4()]


async def randoms(ctx):
    return [ctx.random() for _ in range(32)]


async def child(ctx, x):
    if x == "fail":
        raise Error("child broke", kind=ErrorKind.CONFLICT, retryable=False)
    return x * 10


async def watches_child(ctx, x):
    pid = ctx.spawn("python:child", x, monitor=True)
    ev = await ctx.events().receive()
    return {
        "kind": ev.kind.value,
        "from_child": ev.sender == pid,
        "value": ev.value,
        "error": None if ev.error is None else [ev.error.kind.value, ev.error.message],
    }


async def execs(ctx):
    ok = await ctx.exec("python:child", 5)
    try:
        await ctx.exec("python:child", "fail")
        error = None
    except ProcessExit as e:
        error = [e.kind.value, e.error.message]
    return {"value": ok, "error": error}


async def cancels(ctx, peer):
    ctx.cancel(peer, "please stop")
    return str(ctx.pid)


async def awaits_cancel(ctx):
    ev = await ctx.events().receive()
    return [ev.kind.value, ev.reason, str(ev.sender)]


async def sends_to_the_dead(ctx, dead):
    try:
        ctx.send(dead, "hello", 1)
    except Error as e:
        return e.kind.value
    return "ok"


async def calls_with_timeout(ctx):
    try:
        await ctx.call("conf:slow", timeout=0.1)
    except Timeout as e:
        return e.kind.value
    except Error as e:
        return f"{type(e).__name__} (not Timeout), kind {e.kind.value}"
    return "returned"


async def terminates(ctx, peer):
    ctx.terminate(peer)
    return str(ctx.pid)


async def collects(ctx, n):
    return [(await ctx.receive()).data for _ in range(n)]


async def spawns_named(ctx, name):
    first = ctx.spawn("python:collects", 2, name=name, messages=[("m", ("first",))], monitor=True)
    again = ctx.spawn("python:collects", 2, name=name, messages=[("m", ("second",))])
    ev = await ctx.events().receive()
    return {
        "same_pid": first == again,
        "from_it": ev.sender == first,
        "value": ev.value,
        "error": None if ev.error is None else ev.error.message,
    }


async def reads_values(ctx):
    return {"own": dict(ctx.values), "call": await ctx.call("conf:values")}


def _parent(ctx):
    return None if ctx.parent is None else str(ctx.parent)


async def parent_of(ctx):
    return _parent(ctx)


async def spawns_parent_of(ctx):
    pid = ctx.spawn("python:parent_of", monitor=True)
    ev = await ctx.events().receive()
    assert ev.sender == pid
    return {"me": str(ctx.pid), "childs_parent": ev.value, "my_parent": _parent(ctx)}


PYTHON_BODIES = {
    "ping": ping,
    "routes": routes,
    "late_subscriber": late_subscriber,
    "at_topics": at_topics,
    "times_out": times_out,
    "calls": calls,
    "calls_async": calls_async,
    "sleeps": sleeps,
    "clock": clock,
    "ids": ids,
    "randoms": randoms,
    "child": child,
    "watches_child": watches_child,
    "execs": execs,
    "cancels": cancels,
    "awaits_cancel": awaits_cancel,
    "reads_values": reads_values,
    "sends_to_the_dead": sends_to_the_dead,
    "calls_with_timeout": calls_with_timeout,
    "terminates": terminates,
    "collects": collects,
    "spawns_named": spawns_named,
    "parent_of": parent_of,
    "spawns_parent_of": spawns_parent_of,
}


# -- the same bodies in Lua ------------------------------------------------------------------

LUA = {
    "ping": """
function main(peer)
  process.send(peer, "ping", {n = 1, s = "héllo", l = {1, 2, 3}, m = {k = true}})
  local m = process.inbox():receive()
  return {topic = m:topic(), data = m:payload():data(), from_peer = m:from() == peer,
          me = process.pid()}
end""",
    "routes": """
function main()
  local a = process.listen("a", {message = true})
  local first = process.inbox():receive()
  local second = a:receive()
  return {{first:topic(), first:payload():data()}, {second:topic(), second:payload():data()}}
end""",
    "late_subscriber": """
function main()
  local go = process.listen("go")
  go:receive()
  local a = process.listen("a")
  local a1 = a:receive()
  local a2 = a:receive()
  local rest = process.inbox():receive()
  return {a = {a1, a2}, inbox = {rest:topic(), rest:payload():data()}}
end""",
    "at_topics": """
function main(peer)
  return {send = kind_of(process.send, peer, "@x", 1), listen = kind_of(process.listen, "@x")}
end""",
    "times_out": """
function main(peer)
  local side = process.listen("side")
  local inbox = process.inbox()
  process.send(peer, "side-please")
  local r = channel.select{inbox:case_receive(), time.after("100ms"):case_receive()}
  local timed_out = r.channel ~= inbox
  local s = channel.select{inbox:case_receive(), time.after("50ms"):case_receive()}
  local select_none = s.channel ~= inbox
  process.send(peer, "ping", 7)
  local reply = inbox:receive()
  local kept = side:receive()
  return {timed_out = timed_out, select_none = select_none,
          reply = {reply:topic(), reply:payload():data().echo}, side = kept}
end""",
    "calls": """
function main()
  local result = funcs.call("conf:double", 21)
  local _, e = funcs.call("conf:fail_not_found")
  return {result = result,
          error = {kind = e:kind(), message = e:message(), retryable = e:retryable()}}
end""",
    "calls_async": """
function main()
  local f1 = funcs.async("conf:double", 1)
  local f2 = funcs.async("conf:double", 2)
  local f3 = funcs.async("conf:fail_not_found")
  local v2 = f2:response():receive():data()
  local v1 = f1:response():receive():data()
  f3:response():receive()
  local _, e = f3:result()
  return {values = {v1, v2}, error = e and e:kind(), complete = f1:is_complete()}
end""",
    "sleeps": """
function main()
  local t0 = time.now()
  time.sleep("50ms")
  local t1 = time.now()
  local fired = time.after("50ms"):receive()
  local t2 = time.now()
  return {slept = t1:sub(t0):milliseconds() >= 50, after = t2:sub(t1):milliseconds() >= 50,
          fired_is_time = pcall(function() return fired:unix_nano() end)}
end""",
    "clock": """
function main()
  local t0 = time.now()
  time.sleep("20ms")
  local t1 = time.now()
  return {utc = t0:location():string() == "UTC", forward = t1:after(t0),
          iso = t0:format(time.RFC3339NANO)}
end""",
    "ids": """
function main()
  return {uuid.v4(), uuid.v7(), uuid.v4()}
end""",
    "randoms": """
function main()
  local out = {}
  for i = 1, 32 do out[i] = math.random() end
  return out
end""",
    "child": """
function main(x)
  if x == "fail" then
    error(errors.new{kind = errors.CONFLICT, message = "child broke", retryable = false})
  end
  return x * 10
end""",
    "watches_child": """
function main(x)
  local pid = process.spawn_monitored("lua:child", nil, x)
  local e = process.events():receive()
  local err = e.result.error
  return {kind = e.kind, from_child = e.from == pid, value = e.result.value,
          error = err and {err:kind(), err:message()}}
end""",
    "execs": """
function main()
  local ok = process.exec("lua:child", nil, 5)
  local _, err = process.exec("lua:child", nil, "fail")
  return {value = ok, error = err and {err:kind(), err:message()}}
end""",
    "cancels": """
function main(peer)
  process.cancel(peer, "please stop")
  return process.pid()
end""",
    "awaits_cancel": """
function main()
  local e = process.events():receive()
  return {e.kind, e.reason, e.from}
end""",
    "sends_to_the_dead": """
function main(dead)
  return kind_of(process.send, dead, "hello", 1)
end""",
    "calls_with_timeout": """
function main()
  local _, e = funcs.new():with_options({timeout = 100}):call("conf:slow")
  return e and e:kind() or "returned"
end""",
    "terminates": """
function main(peer)
  process.terminate(peer)
  return process.pid()
end""",
    "reads_values": """
function main()
  local own = ctx.all()
  return {own = own, call = funcs.call("conf:values")}
end""",
}
LUA_SCRIPTS = {name: LUA_PRELUDE + src.lstrip("\n") + LUA_EPILOGUE for name, src in LUA.items()}


# -- messaging -------------------------------------------------------------------------------


def test_send_and_receive_round_trip_with_a_peer(rt, backend, lang):
    peer = rt.peer(echo_peer)
    got = rt.exec(backend, f"{lang}:ping", str(peer))
    assert got["topic"] == "pong"
    assert got["data"] == {"echo": PAYLOAD, "sender": got["me"]}
    assert got["from_peer"] is True


def test_a_listened_topic_goes_to_its_channel_and_the_rest_to_the_inbox(rt, backend, lang):
    pid = rt.spawn(backend, f"{lang}:routes")
    rt.send(pid, "b", "to inbox")
    rt.send(pid, "a", "to listener")
    assert rt.wait(pid) == ([["b", "to inbox"], ["a", "to listener"]], None)


def test_messages_sent_before_anyone_subscribes_wait_in_order(rt, backend, lang):
    pid = rt.spawn(backend, f"{lang}:late_subscriber")
    for topic, value in (("a", 1), ("b", 2), ("a", 3), ("go", None)):
        rt.send(pid, topic, value)
    assert rt.wait(pid) == ({"a": [1, 3], "inbox": ["b", 2]}, None)


def test_topics_starting_with_at_are_refused_as_invalid(rt, backend, lang):
    peer = rt.peer(echo_peer)
    got = rt.exec(backend, f"{lang}:at_topics", str(peer))
    assert got == {"send": ErrorKind.INVALID.value, "listen": ErrorKind.INVALID.value}


def test_a_receive_that_times_out_leaves_the_mailbox_unchanged(rt, backend, lang):
    # The timed-out receive consumed nothing: the "side" message is still on its
    # channel, and the next inbox message goes to the next receive.
    peer = rt.peer(echo_peer)
    got = rt.exec(backend, f"{lang}:times_out", str(peer))
    assert got == {"timed_out": True, "select_none": True, "reply": ["pong", 7], "side": "kept"}


def test_send_to_a_dead_pid_raises_at_once_only_where_sends_are_live(rt, backend, lang):
    # A documented difference (Context.send): the kernel checks the receiver at once; a
    # durable context records the send and it leaves after the workflow task, so a dead
    # receiver cannot fail the body (the message is dropped with a logged warning). Only
    # a signal to a missing *workflow* is waited for by Lua (test_lua_workflows).
    dead = rt.peer(exits_at_once)
    assert rt.wait(dead) == (None, None)
    expected = "ok" if backend == "workflow" else "NotFound"
    assert rt.exec(backend, f"{lang}:sends_to_the_dead", str(dead)) == expected


# -- functions -------------------------------------------------------------------------------


def test_call_returns_the_result_and_keeps_the_callee_error_kind(rt, backend, lang):
    got = rt.exec(backend, f"{lang}:calls")
    assert got == {
        "result": 42,
        "error": {"kind": "NotFound", "message": "no such thing", "retryable": False},
    }


def test_call_async_returns_futures_of_the_results(rt, backend, lang):
    got = rt.exec(backend, f"{lang}:calls_async")
    assert got == {"values": [2, 4], "error": "NotFound", "complete": True}


def test_call_with_a_timeout_raises_timeout(rt, backend, lang):
    assert rt.exec(backend, f"{lang}:calls_with_timeout") == "Timeout"


# -- time and ids ----------------------------------------------------------------------------


def test_sleep_and_after_wait_on_the_context_clock(rt, backend, lang):
    got = rt.exec(backend, f"{lang}:sleeps")
    assert got == {"slept": True, "after": True, "fired_is_time": True}


def test_now_is_timezone_aware_utc_and_moves_forward(rt, backend, lang):
    got = rt.exec(backend, f"{lang}:clock")
    assert got["utc"] is True and got["forward"] is True
    stamp = datetime.datetime.fromisoformat(got["iso"].replace("Z", "+00:00"))
    assert stamp.utcoffset() == datetime.timedelta(0)
    # the context clock is the real calendar (a workflow's is the server's), not an epoch
    assert abs(stamp - datetime.datetime.now(datetime.UTC)) < datetime.timedelta(hours=1)


def test_uuid4_and_uuid7_are_valid_uuids_of_their_version(rt, backend, lang):
    u4, u7, other = rt.exec(backend, f"{lang}:ids")
    assert [uuid.UUID(u).version for u in (u4, u7, other)] == [4, 7, 4]
    assert all(uuid.UUID(u).variant == uuid.RFC_4122 for u in (u4, u7, other))
    assert str(uuid.UUID(u4)) == u4 and u4 != other


def test_random_is_a_float_in_the_unit_interval(rt, backend, lang):
    got = rt.exec(backend, f"{lang}:randoms")
    assert len(got) == 32 and all(isinstance(x, float) and 0.0 <= x < 1.0 for x in got)
    assert len(set(got)) > 1


# -- processes -------------------------------------------------------------------------------


def test_a_monitored_child_exit_event_carries_its_return_value(rt, backend, lang):
    got = rt.exec(backend, f"{lang}:watches_child", 4)
    assert present(got) == {"kind": EventKind.EXIT.value, "from_child": True, "value": 40}


def test_a_child_error_exit_is_visible_with_its_kind_and_message(rt, backend, lang):
    got = rt.exec(backend, f"{lang}:watches_child", "fail")
    assert present(got) == {
        "kind": EventKind.EXIT.value,
        "from_child": True,
        "error": ["Conflict", "child broke"],
    }


def test_exec_returns_the_child_result_or_its_error(rt, backend, lang):
    assert rt.exec(backend, f"{lang}:execs") == {"value": 50, "error": ["Conflict", "child broke"]}


def test_exec_of_a_failing_body_raises_process_exit_with_its_kind(rt, backend, lang):
    with pytest.raises(ProcessExit) as info:
        rt.exec(backend, f"{lang}:child", "fail")
    assert (info.value.kind, info.value.error.message) == (ErrorKind.CONFLICT, "child broke")


def test_cancel_reaches_the_receiver_as_a_cancel_event_with_its_reason(rt, backend, lang):
    peer = rt.peer(cancel_recorder)
    me = rt.exec(backend, f"{lang}:cancels", str(peer))
    assert rt.wait(peer) == ([EventKind.CANCEL.value, "please stop", me], None)


def test_terminate_stops_the_receiver_with_process_terminated(rt, backend, lang):
    peer = rt.peer(waits_forever)
    rt.exec(backend, f"{lang}:terminates", str(peer))
    value, error = rt.wait(peer)
    assert value is None and error is not None and error.message == "process terminated"


def test_spawn_with_a_taken_name_signals_the_running_process(rt, backend, request):
    name = f"conformance-named-{request.node.callspec.id}"
    got = rt.exec(backend, "python:spawns_named", name)
    assert got == {"same_pid": True, "from_it": True, "value": ["first", "second"], "error": None}


def test_a_cancelled_body_gets_a_cancel_event(rt, backend, lang):
    pid = rt.spawn(backend, f"{lang}:awaits_cancel")
    rt.cancel(pid, "please stop")
    value, error = rt.wait(pid)
    assert error is None
    assert (value[0], value[2]) == (EventKind.CANCEL.value, "{|topology}")


def test_a_cancelled_body_sees_the_cancel_reason(rt, backend, lang):
    pid = rt.spawn(backend, f"{lang}:awaits_cancel")
    rt.cancel(pid, "please stop")
    value, error = rt.wait(pid)
    assert error is None and value[:2] == [EventKind.CANCEL.value, "please stop"]


def test_context_values_reach_the_body_and_the_functions_it_calls(rt, backend, lang):
    values = {"tenant": "acme", "n": 3}
    got = rt.exec(backend, f"{lang}:reads_values", context=values)
    assert got == {"own": values, "call": values}


def test_a_child_knows_its_parent(rt, backend):
    got = rt.exec(backend, "python:spawns_parent_of")
    assert got["childs_parent"] == got["me"]
    assert got["my_parent"] is None  # started from outside any process
    assert Pid.parse(got["me"])
