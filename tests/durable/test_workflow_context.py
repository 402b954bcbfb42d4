"""Every WorkflowContext mapping, with Python workflow bodies on a real dev server:
call -> activity (errors keep kind and retryable), call_async, timers, signals into the
mailbox, send to workflows and to processes, children with EXIT events, exec, cancel,
unsupported operations, Temporal cancellation -> CANCEL, error exits, the sandbox."""

from __future__ import annotations

import uuid

import pytest
import temporalio.client
import trio
from durable_harness import CLIENT, WORKER, harness

from beamish.actors import (
    CLOSED,
    Error,
    ErrorKind,
    EventKind,
    Pid,
    ProcessExit,
    Timeout,
    current_values,
)
from beamish.durable._convert import from_failure
from beamish.durable._interceptors import client_header
from beamish.durable._workflow import WorkflowEntry

pytestmark = pytest.mark.temporal


# -- bodies ----------------------------------------------------------------------------


async def calls_activity(ctx, x):
    return await ctx.call("app:double", x)


async def calls_failing_activity(ctx):
    try:
        await ctx.call("app:fail_not_found")
    except Error as e:
        return {"kind": e.kind.value, "retryable": e.retryable, "message": e.message}
    return None


async def retries_then_succeeds(ctx):
    return await ctx.call(
        "app:flaky",
        options={"activity.retry_policy": {"initial_interval": 10, "maximum_attempts": 3}},
    )


async def reads_context(ctx):
    own = await ctx.call("app:values")
    extra = await ctx.call("app:values", context={"extra": 1})
    return {"own": own, "extra": extra, "wf_values": dict(ctx.values)}


async def calls_async(ctx, n):
    futures = [ctx.call_async("app:double", i) for i in range(n)]
    out = []
    for f in futures:
        out.append(await f.result())
    slow = ctx.call_async("app:slow")
    assert slow.cancel()
    try:
        await slow.result()
    except Error as e:
        out.append(e.kind.value)
    value, err = await futures[0].channel.receive() if False else futures[0].result_nowait()
    out.append([value, err])
    return out


async def uses_timers(ctx):
    t0 = ctx.now()
    await ctx.sleep(0.2)
    ch = ctx.after(0.1)
    got = await ctx.select([ctx.inbox(), ch])
    assert got is not None and got[0] is ch
    return {
        "slept": (ctx.now() - t0).total_seconds() >= 0.3,
        "fired_at_is_time": hasattr(got[1], "isoformat"),
        "uuid7": ctx.uuid7(),
    }


async def echoes_signals(ctx, n):
    got = []
    for _ in range(n):
        msg = await ctx.receive()
        got.append([msg.topic, msg.data, str(msg.sender) if msg.sender else None])
    return got


async def receives_selectively(ctx):
    urgent = await ctx.receive(match=lambda m: m.topic == "urgent")
    try:
        await ctx.receive(0.2, match=lambda m: m.topic == "never")
        timed_out = False
    except Timeout:
        timed_out = True
    rest = [(await ctx.receive()).topic for _ in range(2)]
    return [urgent.data, timed_out, rest]


async def listens(ctx):
    a = ctx.listen("a")
    first = await ctx.receive()  # "b" arrives in the inbox: nobody listens to it
    second = await a.receive()
    try:
        await ctx.receive(timeout=0.2)
    except Timeout:
        timed_out = True
    else:
        timed_out = False
    return [first.topic, first.data, second.topic, second.data, timed_out]


async def pinger(ctx, target):
    ctx.send(target, "ping", 1, 2)
    ctx.send(target, "ping", 3)
    msg = await ctx.receive()
    return [msg.topic, msg.data, str(msg.sender)]


async def ponger(ctx):
    got = []
    for _ in range(2):
        msg = await ctx.receive()
        got.append(msg.data)
        sender = msg.sender
    ctx.send(sender, "pong", got)
    return got


async def sends_to_process(ctx, pid):
    ctx.send(pid, "from_wf", {"x": 1})
    ctx.send(ctx.pid, "self", 7)  # to ourselves: delivered locally
    msg = await ctx.receive()
    return [msg.topic, msg.data]


async def child_ok(ctx, x):
    msgs = []
    if x == "wait":
        for _ in range(2):
            msgs.append((await ctx.receive()).data)
        return msgs
    return x * 10


async def child_fails(ctx):
    raise Error("child broke", kind=ErrorKind.CONFLICT, retryable=False)


async def parent(ctx):
    p1 = ctx.spawn("app:child_ok", 4)
    p2 = ctx.spawn("app:child_fails")
    p3 = ctx.spawn("app:child_ok", "wait", messages=[("m", ("first",))])
    ctx.send(p3, "m", "second")
    exits = {}
    for _ in range(3):
        ev = await ctx.events().receive()
        assert ev.kind is EventKind.EXIT
        exits[str(ev.sender)] = (
            {"value": ev.value}
            if ev.error is None
            else {"error": ev.error.kind.value, "msg": ev.error.message}
        )
    return {
        "pids_ok": all(p.host == WORKER and p.node == CLIENT for p in (p1, p2, p3)),
        "p1": exits[str(p1)],
        "p2": exits[str(p2)],
        "p3": exits[str(p3)],
    }


async def execs(ctx):
    ok = await ctx.exec("app:child_ok", 5)
    try:
        await ctx.exec("app:child_fails")
    except ProcessExit as e:
        return [ok, e.kind.value, e.error.message]
    return [ok]


async def unsupported(ctx):
    out = []
    for op in (ctx.monitor, ctx.link, ctx.unmonitor, ctx.unlink):
        try:
            op(ctx.pid)
        except Error as e:
            out.append([e.kind.value, "not supported in workflow context" in e.message])
    try:
        ctx.lookup("x")
    except Error as e:
        out.append([e.kind.value, "not supported in workflow context" in e.message])
    try:
        ctx.spawn(unsupported)
    except Error as e:
        out.append([e.kind.value, "entry ID" in e.message])
    return out


async def waits_for_cancel(ctx):
    ev = await ctx.events().receive()
    await ctx.call("app:double", 1)  # still allowed to work after the request
    return {"kind": ev.kind.value, "sender": str(ev.sender), "status": "canceled"}


async def raises_error(ctx):
    raise Error("bad input", kind=ErrorKind.INVALID, retryable=False, details={"field": "x"})


async def raises_python(ctx):
    return {}["missing"]


async def versions(ctx):
    return ctx.version("change-1", 0, 2)


async def stops_processes(ctx, to_cancel, to_terminate):
    ctx.cancel(to_cancel, "wf says stop")
    ctx.terminate(to_terminate)
    return True


# -- functions (kernel side) ---------------------------------------------------------------

_flaky_runs = {"n": 0}


def _flaky():
    _flaky_runs["n"] += 1
    if _flaky_runs["n"] < 3:
        raise Error("try again", kind=ErrorKind.UNAVAILABLE, retryable=True)
    return _flaky_runs["n"]


async def _slow():
    await trio.sleep(3600)


def _fail_not_found():
    raise Error("no such thing", kind=ErrorKind.NOT_FOUND, retryable=False)


FUNCTIONS = {
    "app:double": lambda x: x * 2,
    "app:fail_not_found": _fail_not_found,
    "app:flaky": _flaky,
    "app:values": lambda: dict(current_values()),
    "app:slow": _slow,
}

ENTRIES = {
    "app:calls_activity": calls_activity,
    "app:calls_failing_activity": calls_failing_activity,
    "app:retries_then_succeeds": retries_then_succeeds,
    "app:reads_context": reads_context,
    "app:calls_async": calls_async,
    "app:uses_timers": uses_timers,
    "app:echoes_signals": echoes_signals,
    "app:listens": listens,
    "app:receives_selectively": receives_selectively,
    "app:pinger": pinger,
    "app:ponger": ponger,
    "app:sends_to_process": sends_to_process,
    "app:child_ok": child_ok,
    "app:child_fails": child_fails,
    "app:parent": parent,
    "app:execs": execs,
    "app:unsupported": unsupported,
    "app:waits_for_cancel": waits_for_cancel,
    "app:raises_error": raises_error,
    "app:raises_python": raises_python,
    "app:versions": versions,
    "app:stops_processes": stops_processes,
    "app:sandboxed": WorkflowEntry(
        "app:sandboxed", "durable_samples:sandboxed_body", sandboxed=True
    ),
}


def _h(server, tq):
    return harness(server, tq, ENTRIES, functions=FUNCTIONS)


async def _failure(h, handle) -> Error:
    with pytest.raises(temporalio.client.WorkflowFailureError) as info:
        await h.result(handle)
    return from_failure(info.value)


# -- tests ---------------------------------------------------------------------------------


async def test_call_runs_the_function_as_an_activity(temporal_server, task_queue):
    async with _h(temporal_server, task_queue) as h:
        assert await h.execute("app:calls_activity", 21) == 42
        assert h.worker.statistics()["activities_dispatched"] == 1


async def test_activity_errors_keep_kind_and_retryable_flag(temporal_server, task_queue):
    async with _h(temporal_server, task_queue) as h:
        got = await h.execute("app:calls_failing_activity")
        assert got == {"kind": "NotFound", "retryable": False, "message": "no such thing"}


async def test_retryable_activity_errors_are_retried_by_the_policy(temporal_server, task_queue):
    _flaky_runs["n"] = 0
    async with _h(temporal_server, task_queue) as h:
        assert await h.execute("app:retries_then_succeeds") == 3


async def test_context_values_flow_from_the_starter_into_activities(temporal_server, task_queue):
    async with _h(temporal_server, task_queue) as h:

        async def start():
            token = client_header.set({"tenant": "acme"})
            try:
                return await h.client.start_workflow(
                    "app:reads_context", id=f"ctx-{uuid.uuid4()}", task_queue=task_queue
                )
            finally:
                client_header.reset(token)

        handle = await h.on_loop(start)
        got = await h.result(handle)
        assert got["wf_values"] == {"tenant": "acme"}
        assert got["own"] == {"tenant": "acme"}
        assert got["extra"] == {"tenant": "acme", "extra": 1}


async def test_call_async_returns_futures_that_complete_and_cancel(temporal_server, task_queue):
    async with _h(temporal_server, task_queue) as h:
        got = await h.execute("app:calls_async", 3)
        assert got == [0, 2, 4, "Canceled", [0, None]]


async def test_sleep_and_after_are_durable_timers(temporal_server, task_queue):
    async with _h(temporal_server, task_queue) as h:
        handle = await h.start("app:uses_timers")
        got = await h.result(handle)
        assert got["slept"] and got["fired_at_is_time"]
        assert uuid.UUID(got["uuid7"]).version == 7
        history = await h.on_loop(handle.fetch_history)
        timers = [e for e in history.events if e.HasField("timer_started_event_attributes")]
        assert len(timers) == 2


async def test_signals_arrive_in_the_inbox_in_order_with_their_sender(temporal_server, task_queue):
    async with _h(temporal_server, task_queue) as h:
        handle = await h.start("app:echoes_signals", 3)

        async def signal_all():
            token = client_header.set({"temporal.signal.from": "{app:local|0x00001}"})
            try:
                await handle.signal("greet", "hi")
                await handle.signal("multi", args=[1, 2])
                await handle.signal("none")
            finally:
                client_header.reset(token)

        await h.on_loop(signal_all)
        assert await h.result(handle) == [
            ["greet", "hi", "{app:local|0x00001}"],
            ["multi", [1, 2], "{app:local|0x00001}"],
            ["none", None, "{app:local|0x00001}"],
        ]


async def test_selective_receive_skips_and_keeps_earlier_signals(temporal_server, task_queue):
    async with _h(temporal_server, task_queue) as h:
        handle = await h.start("app:receives_selectively")
        for topic in ("a", "b", "urgent"):
            await h.on_loop(handle.signal, topic, topic.upper())
        assert await h.result(handle) == ["URGENT", True, ["a", "b"]]


async def test_listen_takes_its_topic_and_receive_times_out_on_a_timer(temporal_server, task_queue):
    async with _h(temporal_server, task_queue) as h:
        handle = await h.start("app:listens")
        await h.on_loop(handle.signal, "b", "to inbox")
        await h.on_loop(handle.signal, "a", "to listener")
        assert await h.result(handle) == ["b", "to inbox", "a", "to listener", True]


async def test_send_between_workflows_is_an_external_signal_with_sender(
    temporal_server, task_queue
):
    async with _h(temporal_server, task_queue) as h:
        pong = await h.start("app:ponger")
        pong_pid = Pid(WORKER, pong.id, CLIENT)
        ping = await h.start("app:pinger", str(pong_pid))
        ping_got = await h.result(ping)
        assert await h.result(pong) == [[1, 2], 3]
        assert ping_got == ["pong", [[1, 2], 3], str(pong_pid)]


async def test_send_to_an_ordinary_process_is_delivered_once(temporal_server, task_queue):
    async with _h(temporal_server, task_queue) as h:
        received = []

        async def proc(ctx):
            msg = await ctx.receive()
            received.append((msg.topic, msg.data, msg.sender))

        pid = h.node.spawn(proc)
        handle = await h.start("app:sends_to_process", str(pid))
        assert await h.result(handle) == ["self", 7]
        with trio.fail_after(30):
            while not received:
                await trio.sleep(0.01)
        topic, data, sender = received[0]
        assert (topic, data) == ("from_wf", {"x": 1})
        assert sender == Pid(WORKER, handle.id, CLIENT)


async def test_spawned_children_report_exit_on_events(temporal_server, task_queue):
    async with _h(temporal_server, task_queue) as h:
        got = await h.execute("app:parent")
        assert got["pids_ok"]
        assert got["p1"] == {"value": 40}
        assert got["p2"] == {"error": "Conflict", "msg": "child broke"}
        assert got["p3"] == {"value": ["first", "second"]}


async def test_exec_returns_the_child_result_or_raises_process_exit(temporal_server, task_queue):
    async with _h(temporal_server, task_queue) as h:
        assert await h.execute("app:execs") == [50, "Conflict", "child broke"]


async def test_monitor_link_and_names_are_not_supported_in_workflows(temporal_server, task_queue):
    async with _h(temporal_server, task_queue) as h:
        got = await h.execute("app:unsupported")
        assert got == [["Invalid", True]] * 5 + [["Invalid", True]]


async def test_temporal_cancellation_becomes_a_cancel_event(temporal_server, task_queue):
    async with _h(temporal_server, task_queue) as h:
        handle = await h.start("app:waits_for_cancel")
        await h.on_loop(handle.cancel)
        got = await h.result(handle)
        assert got == {"kind": "pid.cancel", "sender": "{|topology}", "status": "canceled"}


async def test_an_error_exit_fails_the_workflow_with_its_kind(temporal_server, task_queue):
    async with _h(temporal_server, task_queue) as h:
        err = await _failure(h, await h.start("app:raises_error"))
        assert (err.kind, err.message, err.retryable) == (ErrorKind.INVALID, "bad input", False)
        assert err.details == {"field": "x"}
        err = await _failure(h, await h.start("app:raises_python"))
        assert err.kind is ErrorKind.INTERNAL
        assert "KeyError" in err.message


async def test_version_gives_new_runs_the_max_version(temporal_server, task_queue):
    async with _h(temporal_server, task_queue) as h:
        assert await h.execute("app:versions") == 2


async def test_workflow_cancels_and_terminates_ordinary_processes(temporal_server, task_queue):
    async with _h(temporal_server, task_queue) as h:
        events = []

        async def cancellable(ctx):
            ev = await ctx.events().receive()
            events.append((ev.kind, ev.reason))

        async def forever(ctx):
            await trio.sleep_forever()

        a = h.node.spawn(cancellable)
        b = h.node.spawn(forever)
        value, err = None, None

        async def watch():
            nonlocal value, err
            value, err = await h.node.wait(b)

        async with trio.open_nursery() as n:
            n.start_soon(watch)
            assert await h.execute("app:stops_processes", str(a), str(b)) is True
        assert events == [(EventKind.CANCEL, "wf says stop")]
        assert err is not None and err.message == "process terminated"


async def test_sandboxed_python_workflow_loaded_by_path(temporal_server, task_queue):
    async with _h(temporal_server, task_queue) as h:
        assert await h.execute("app:sandboxed", 4) == {"doubled": 8, "in_sandbox": True}


def test_closed_sentinel_is_the_kernels():
    from beamish.durable._wchannel import CLOSED as WF_CLOSED

    assert WF_CLOSED is CLOSED


async def non_retryable_kind(ctx):
    try:
        await ctx.call(
            "app:always_unavailable",
            options={
                "activity.retry_policy": {
                    "initial_interval": 10,
                    "maximum_attempts": 5,
                    "non_retryable_error_types": ["Unavailable"],
                }
            },
        )
    except Error as e:
        return e.kind.value
    return None


async def sends_then_sleeps(ctx, pid):
    ctx.send(pid, "once", 1)
    await ctx.sleep(0.05)
    await ctx.call("app:double", 1)
    await ctx.sleep(0.05)
    return "done"


async def test_non_retryable_error_types_stop_retries(temporal_server, task_queue):
    runs = {"n": 0}

    def always_unavailable():
        runs["n"] += 1
        raise Error("down", kind=ErrorKind.UNAVAILABLE, retryable=True)

    async with harness(
        temporal_server,
        task_queue,
        {"app:non_retryable_kind": non_retryable_kind},
        functions={"app:always_unavailable": always_unavailable},
    ) as h:
        assert await h.execute("app:non_retryable_kind") == "Unavailable"
        assert runs["n"] == 1


async def test_without_a_workflow_cache_every_task_replays_and_sends_once(
    temporal_server, task_queue
):
    # max_cached_workflows=0: each workflow task rebuilds the workflow from its history,
    # so every earlier effect is replayed; a send to a process must not happen again.
    entries = {**ENTRIES, "app:sends_then_sleeps": sends_then_sleeps}
    async with harness(
        temporal_server,
        task_queue,
        entries,
        functions=FUNCTIONS,
        options={"max_cached_workflows": 0},
    ) as h:
        got = []

        async def proc(ctx):
            while True:
                got.append((await ctx.receive()).topic)

        pid = h.node.spawn(proc)
        assert await h.execute("app:sends_then_sleeps", str(pid)) == "done"
        assert got == ["once"]
        parent_result = await h.execute("app:parent")
        assert parent_result["p3"] == {"value": ["first", "second"]}
        assert await h.execute("app:execs") == [50, "Conflict", "child broke"]


async def reports_parent(ctx):
    return {"parent": None if ctx.parent is None else str(ctx.parent), "alive": ctx.is_alive()}


async def asks_a_child_for_its_parent(ctx):
    return {
        "me": str(ctx.pid),
        "own": await reports_parent(ctx),
        "child": await ctx.exec("app:reports_parent"),
    }


async def calls_a_bad_function_id(ctx):
    try:
        await ctx.call("app:math:add", 1)
    except Error as e:
        return [e.kind.value, e.message]
    return None


async def test_a_child_knows_its_parent_and_a_root_workflow_has_none(temporal_server, task_queue):
    entries = {
        "app:reports_parent": reports_parent,
        "app:asks_a_child_for_its_parent": asks_a_child_for_its_parent,
    }
    async with harness(temporal_server, task_queue, entries) as h:
        got = await h.execute("app:asks_a_child_for_its_parent")
        assert Pid.parse(got["me"]).host == WORKER
        assert got["own"] == {"parent": None, "alive": True}
        assert got["child"] == {"parent": got["me"], "alive": True}


async def test_activity_function_ids_follow_the_kernel_rule(temporal_server, task_queue):
    entries = {"app:calls_a_bad_function_id": calls_a_bad_function_id}
    async with harness(temporal_server, task_queue, entries) as h:
        kind, message = await h.execute("app:calls_a_bad_function_id")
        assert kind == "Invalid"
        assert message.startswith("invalid function ID 'app:math:add': expected 'namespace:name'")
