"""Workflows as processes: spawn on a temporal.worker host returns a workflow PID; send
signals it; cancel/terminate reach Temporal; monitors get EXIT when it ends, links EXIT
when it completes and LINK_DOWN when it fails; exec waits for it; a name makes the start
idempotent."""

from __future__ import annotations

import contextlib

import pytest
import trio

from beamish.actors import Error, ErrorKind, EventKind, Node, Pid, ProcessExit, ProcessNotFound
from beamish.durable._client import ClientConfig, TemporalClient

pytestmark = pytest.mark.temporal

CLIENT = "app:temporal"
WORKER = "app:worker"


async def adder(ctx, a, b):
    return await ctx.call("app:add", a, b)


async def collector(ctx, n):
    got = []
    for _ in range(n):
        msg = await ctx.receive()
        got.append([msg.topic, msg.data, str(msg.sender) if msg.sender else None])
    return got


async def failing(ctx):
    raise Error("nope", kind=ErrorKind.CONFLICT, retryable=False)


async def cancellable(ctx):
    ev = await ctx.events().receive()
    return {"got": ev.kind.value}


async def sleeper(ctx):
    await ctx.sleep(3600)


async def replies(ctx):
    msg = await ctx.receive()
    ctx.send(msg.sender, "reply", msg.data * 2)
    return "ok"


@contextlib.asynccontextmanager
async def running(server, task_queue):
    async with Node() as node:
        node.functions.register("app:add", lambda a, b: a + b)
        tc = TemporalClient(CLIENT, ClientConfig(address=server.address))
        await tc.start(node)
        host = tc.add_worker(WORKER, task_queue)
        for eid, body in {
            "app:adder": adder,
            "app:collector": collector,
            "app:failing": failing,
            "app:cancellable": cancellable,
            "app:sleeper": sleeper,
            "app:replies": replies,
        }.items():
            host.register_workflow(eid, body)
        await host.start_worker()
        try:
            yield node, host
        finally:
            await tc.aclose()


async def test_exec_on_a_worker_host_runs_a_workflow(temporal_server, task_queue):
    async with running(temporal_server, task_queue) as (node, _):
        assert await node.exec("app:adder", 2, 3, host=WORKER) == 5


async def test_spawn_returns_a_workflow_pid_and_monitor_gets_exit(temporal_server, task_queue):
    async with running(temporal_server, task_queue) as (node, _):

        async def parent(ctx):
            pid = ctx.spawn_monitored("app:adder", 20, 22, host=WORKER)
            ev = await ctx.events().receive()
            return pid, ev

        pid, ev = await node.exec(parent)
        assert (pid.node, pid.host) == (CLIENT, WORKER) and pid.id.startswith("0x")
        assert str(pid) == f"{{{CLIENT}@{WORKER}|{pid.id}}}"
        assert (ev.kind, ev.sender, ev.value, ev.error) == (EventKind.EXIT, pid, 42, None)


async def test_send_is_a_signal_in_order_with_the_sender(temporal_server, task_queue):
    async with running(temporal_server, task_queue) as (node, _):

        async def parent(ctx):
            pid = ctx.spawn_monitored("app:collector", 3, host=WORKER, messages=[("start", ("s",))])
            ctx.send(pid, "a", 1)
            ctx.send(pid, "b", 1, 2)
            ev = await ctx.events().receive()
            return ctx.pid, ev

        me, ev = await node.exec(parent)
        assert ev.value == [["start", "s", str(me)], ["a", 1, str(me)], ["b", [1, 2], str(me)]]


async def test_failed_workflow_gives_exit_error_and_link_down(temporal_server, task_queue):
    async with running(temporal_server, task_queue) as (node, _):

        async def parent(ctx):
            ctx.trap_links = True
            pid = ctx.spawn_linked_monitored("app:failing", host=WORKER)
            evs = [await ctx.events().receive(), await ctx.events().receive()]
            return pid, sorted(evs, key=lambda e: e.kind.value)

        pid, (exit_ev, link_ev) = await node.exec(parent)
        assert exit_ev.kind is EventKind.EXIT and link_ev.kind is EventKind.LINK_DOWN
        for ev in (exit_ev, link_ev):
            assert ev.sender == pid
            assert (ev.error.kind, ev.error.message) == (ErrorKind.CONFLICT, "nope")
        with pytest.raises(ProcessExit) as info:
            await node.exec("app:failing", host=WORKER)
        assert info.value.kind is ErrorKind.CONFLICT


async def test_a_link_to_a_workflow_gives_exit_with_its_result(temporal_server, task_queue):
    async with running(temporal_server, task_queue) as (node, _):

        async def parent(ctx):
            pid = ctx.spawn("app:adder", 1, 2, host=WORKER)
            ctx.link(pid)  # after the start, as Wippy's process.link
            both = ctx.spawn_linked_monitored("app:adder", 3, 4, host=WORKER)
            evs = [await ctx.events().receive() for _ in range(2)]
            with trio.move_on_after(0.5):
                evs.append(await ctx.events().receive())  # none: one EXIT per watcher
            return pid, both, evs

        pid, both, evs = await node.exec(parent)
        assert sorted((e.kind, str(e.sender), e.value) for e in evs) == sorted(
            [(EventKind.EXIT, str(pid), 3), (EventKind.EXIT, str(both), 7)]
        )


async def test_untrapped_link_down_from_a_workflow_kills_the_process(temporal_server, task_queue):
    async with running(temporal_server, task_queue) as (node, _):

        async def parent(ctx):
            ctx.spawn_linked("app:failing", host=WORKER)
            await ctx.receive()

        with pytest.raises(ProcessExit, match="linked process failed"):
            await node.exec(parent)


async def test_cancel_is_a_cancel_event_and_terminate_ends_it(temporal_server, task_queue):
    async with running(temporal_server, task_queue) as (node, _):
        pid = node.spawn("app:cancellable", host=WORKER)
        node.cancel(pid, "stop please")
        assert await node.wait(pid) == ({"got": "pid.cancel"}, None)
        with pytest.raises(ProcessNotFound):
            node.send(pid, "late", 1)

        pid = node.spawn("app:sleeper", host=WORKER)
        node.terminate(pid)
        value, err = await node.wait(pid)
        assert value is None and err is not None
        assert err.message == "process terminated"


async def test_spawn_with_a_name_is_idempotent(temporal_server, task_queue):
    async with running(temporal_server, task_queue) as (node, _):
        name = f"order-{task_queue}"
        p1 = node.spawn("app:collector", 2, host=WORKER, name=name, messages=[("m", (1,))])
        p2 = node.spawn("app:collector", 99, host=WORKER, name=name, messages=[("m", (2,))])
        assert p1 == p2 == Pid(WORKER, name, CLIENT)
        value, err = await node.wait(p1)
        assert err is None
        assert [v[1] for v in value] == [1, 2]


async def test_duplicate_generated_id_conflict_fails_the_second_start(temporal_server, task_queue):
    async with running(temporal_server, task_queue) as (node, _):
        wf_id = f"dup-{task_queue}"
        p1 = node.spawn("app:sleeper", host=WORKER, options={"workflow.id": wf_id})
        p2 = node.spawn(
            "app:sleeper",
            host=WORKER,
            options={"workflow.id": wf_id, "workflow.id_conflict_policy": "fail"},
        )
        assert p1 == p2
        # the refused start is reported to whoever waits on that PID now...
        _, err = await node.wait(p2)
        assert err is not None and err.kind is ErrorKind.ALREADY_EXISTS
        # ...but the running workflow of that ID stays alive and reachable
        assert node.is_alive(p1)
        node.terminate(p1)
        _, err = await node.wait(p1)
        assert err is not None and err.message == "process terminated"


async def test_workflow_replies_to_an_ordinary_process(temporal_server, task_queue):
    async with running(temporal_server, task_queue) as (node, _):

        async def asker(ctx):
            pid = ctx.spawn("app:replies", host=WORKER)
            ctx.send(pid, "ask", 21)
            msg = await ctx.receive(timeout=30)
            return msg.topic, msg.data, msg.sender == pid

        assert await node.exec(asker) == ("reply", 42, True)


async def test_unknown_workflow_entry_is_not_found(temporal_server, task_queue):
    async with running(temporal_server, task_queue) as (node, _):
        with pytest.raises(Error, match=r"is not served by temporal\.worker") as info:
            node.spawn("app:nope", host=WORKER)
        assert info.value.kind is ErrorKind.NOT_FOUND


async def test_monitor_after_start_gets_exit(temporal_server, task_queue):
    async with running(temporal_server, task_queue) as (node, _):
        pid = node.spawn("app:collector", 1, host=WORKER)

        async def watcher(ctx):
            ctx.monitor(pid)
            ctx.send(pid, "go", "x")
            return await ctx.events().receive()

        ev = await node.exec(watcher)
        assert ev.kind is EventKind.EXIT and ev.value == [["go", "x", ev.value[0][2]]]
        with trio.fail_after(5):
            while node.is_alive(pid):
                await trio.sleep(0.01)
