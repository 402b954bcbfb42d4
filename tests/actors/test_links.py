"""Monitors, links, cancel and terminate: the events channel and exit propagation."""

import pytest
import trio
import trio.testing

from beamish.actors import (
    LINK_FAILED,
    SYSTEM_PID,
    TERMINATED,
    Error,
    ErrorKind,
    EventKind,
    Node,
    ProcessExit,
    ProcessNotFound,
)


async def returns(proc, value):
    return value


async def crashes(proc, message="crash"):
    raise Error(message, kind=ErrorKind.INTERNAL)


async def waits_forever(proc):
    await trio.sleep_forever()


async def waits_for_cancel(proc):
    ev = await proc.events().receive()
    return f"cancelled: {ev.reason}"


async def test_monitor_gets_exit_with_value_on_normal_exit():
    async def body(proc):
        child = proc.spawn_monitored(returns, 42)
        ev = await proc.events().receive()
        return ev.kind, ev.sender == child, ev.value, ev.error

    async with Node() as node:
        assert await node.exec(body) == (EventKind.EXIT, True, 42, None)


async def test_monitor_gets_exit_with_error_on_crash():
    async def body(proc):
        proc.spawn_monitored(crashes, "kaput")
        ev = await proc.events().receive()
        return ev.error.message, ev.value

    async with Node() as node:
        assert await node.exec(body) == ("kaput", None)


async def test_monitor_after_spawn_and_unmonitor():
    async def body(proc):
        a = proc.spawn(waits_forever)
        b = proc.spawn(waits_forever)
        proc.monitor(a)
        proc.monitor(b)
        proc.unmonitor(b)
        proc.terminate(b)
        proc.terminate(a)
        ev = await proc.events().receive()
        assert ev.sender == a and ev.error.message == TERMINATED
        return await proc.events().receive(timeout=0.05)

    async with Node() as node:
        with pytest.raises(ProcessExit, match="timed out"):
            await node.exec(body)


async def test_strict_monitor_and_link_of_a_dead_process_are_not_found():
    async def body(proc):
        child = proc.spawn(returns, 1)
        await proc.sleep(0.01)
        with pytest.raises(ProcessNotFound):
            proc.monitor(child, strict=True)
        with pytest.raises(ProcessNotFound):
            proc.link(child)
        return "ok"

    async with Node() as node:
        assert await node.exec(body) == "ok"


async def test_spawn_monitored_cannot_miss_an_immediate_exit():
    # The child exits before the parent runs again; the monitor was attached atomically.
    async def body(proc):
        for _ in range(20):
            proc.spawn_monitored(returns, None)
        return [(await proc.events().receive()).kind for _ in range(20)]

    async with Node() as node:
        assert await node.exec(body) == [EventKind.EXIT] * 20


async def test_link_down_kills_an_untrapped_linked_process():
    async def parent(proc):
        proc.spawn_linked(crashes)
        await trio.sleep_forever()

    async with Node() as node:
        with pytest.raises(ProcessExit, match=LINK_FAILED) as info:
            await node.exec(parent)
    assert info.value.error.details["error"]["message"] == "crash"


async def test_normal_exit_does_not_propagate_through_links():
    async def parent(proc):
        proc.spawn_linked(returns, 1)
        await proc.sleep(0.02)
        return "alive"

    async with Node() as node:
        assert await node.exec(parent) == "alive"


async def test_trap_links_turns_link_down_into_an_event():
    async def parent(proc):
        proc.trap_links = True
        child = proc.spawn_linked(crashes, "child died")
        ev = await proc.events().receive()
        return ev.kind, ev.sender == child, ev.error.message

    async with Node() as node:
        assert await node.exec(parent) == (EventKind.LINK_DOWN, True, "child died")


async def test_link_failure_cascades_through_a_chain():
    async def link_to(proc, target):
        proc.link(target)
        await trio.sleep_forever()

    async def body(proc):
        proc.trap_links = True
        root = proc.spawn(waits_forever)
        mid = proc.spawn(link_to, root)
        leaf = proc.spawn(link_to, mid)
        for p in (root, mid, leaf):
            proc.monitor(p)
        await trio.testing.wait_all_tasks_blocked()
        proc.terminate(root)
        exits = {}
        for _ in range(3):
            ev = await proc.events().receive()
            exits[ev.sender] = ev.error.message
        return exits[root], exits[mid], exits[leaf]

    async with Node() as node:
        assert await node.exec(body) == (TERMINATED, LINK_FAILED, LINK_FAILED)


async def test_unlink_stops_propagation():
    async def body(proc):
        child = proc.spawn_linked(waits_forever)
        proc.unlink(child)
        proc.terminate(child)
        await proc.sleep(0.02)
        return "survived"

    async with Node() as node:
        assert await node.exec(body) == "survived"


async def test_cancel_is_a_cooperative_event_and_the_process_exits_normally():
    async def body(proc):
        child = proc.spawn_linked_monitored(waits_for_cancel)
        proc.cancel(child, "please stop")
        ev = await proc.events().receive()
        return ev.kind, ev.value, ev.error

    async with Node() as node:
        assert await node.exec(body) == (EventKind.EXIT, "cancelled: please stop", None)


async def test_cancel_from_outside_comes_from_the_system_pid():
    async with Node() as node:

        async def body(proc):
            ev = await proc.events().receive()
            return ev.sender, ev.reason

        pid = node.spawn(body)
        node.cancel(pid, "bye")
        value, error = await node.wait(pid)
        assert value == (SYSTEM_PID, "bye") and error is None


async def test_terminate_forces_exit_with_process_terminated():
    async with Node() as node:
        pid = node.spawn(waits_forever)
        node.terminate(pid)
        _, error = await node.wait(pid)
    assert error.message == TERMINATED and error.kind is ErrorKind.INTERNAL


async def test_terminate_a_dead_process_is_not_found():
    async with Node() as node:
        pid = node.spawn(returns, 1)
        await node.wait(pid)
        with pytest.raises(ProcessNotFound):
            node.terminate(pid)
        with pytest.raises(ProcessNotFound):
            node.cancel(pid)


async def test_terminating_a_caller_cancels_its_function_call():
    started, finished = trio.Event(), []

    async def slow():
        started.set()
        await trio.sleep(10)
        finished.append(True)

    async def caller(proc):
        await proc.call("app:slow")

    async with Node() as node:
        node.functions.register("app:slow", slow)
        pid = node.spawn(caller)
        await started.wait()
        node.terminate(pid)
        _, error = await node.wait(pid)
    assert error.message == TERMINATED and finished == []


async def test_terminating_a_caller_cancels_its_async_calls():
    started, finished = trio.Event(), []

    async def slow():
        started.set()
        await trio.sleep(10)
        finished.append(True)

    async def caller(proc):
        fut = proc.call_async("app:slow")
        await trio.sleep_forever()
        return fut

    async with Node() as node:
        node.functions.register("app:slow", slow)
        pid = node.spawn(caller)
        await started.wait()
        node.terminate(pid)
        await node.wait(pid)
        await trio.testing.wait_all_tasks_blocked()
    assert finished == []


async def test_exec_from_a_cancelled_caller_leaves_the_child_running():
    async with Node(shutdown_timeout=0.01) as node:

        async def caller(proc):
            await proc.exec(waits_forever, name="child")

        pid = node.spawn(caller)
        await trio.testing.wait_all_tasks_blocked()
        node.terminate(pid)
        await node.wait(pid)
        assert node.is_alive(node.lookup("child"))


async def test_monitor_of_a_dead_pid_delivers_exit_noproc_at_once():
    async def body(proc):
        child = proc.spawn_monitored(returns, 1)
        await proc.events().receive()  # it is gone
        proc.monitor(child)
        ev = await proc.events().receive()
        with pytest.raises(ProcessNotFound):
            proc.monitor(child, strict=True)  # Wippy's process.monitor: an error
        with pytest.raises(ProcessNotFound):
            proc.monitor("no-such-name")  # no PID to report an EXIT from
        return ev.kind, ev.sender == child, ev.error.kind, ev.error.details

    async with Node() as node:
        kind, same, error_kind, details = await node.exec(body)
    assert (kind, same, error_kind, details) == (
        EventKind.EXIT,
        True,
        ErrorKind.NOT_FOUND,
        {"reason": "noproc"},
    )


async def test_events_match_positionally():
    from beamish.actors import Event

    async def body(proc):
        proc.spawn_monitored(returns, 7)
        match await proc.events().receive():
            case Event(EventKind.EXIT, _, value, None):
                return value
        return "no match"

    async with Node() as node:
        assert await node.exec(body) == 7
