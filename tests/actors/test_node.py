"""Node lifecycle: shutdown cancels, waits, terminates, leaves nothing running."""

import pytest
import trio
import trio.testing

from beamish.actors import TERMINATED, Error, ErrorKind, EventKind, Node


async def test_shutdown_sends_cancel_and_lets_processes_exit_cleanly():
    results = {}

    async def polite(proc):
        ev = await proc.events().receive()
        results["reason"] = (ev.kind, ev.reason)
        return "clean"

    async with Node() as node:
        node.spawn(polite)
    assert results["reason"] == (EventKind.CANCEL, "scheduler shutdown")
    assert node.statistics()["processes"] == 0


async def test_shutdown_terminates_processes_that_ignore_cancel():
    exits = []

    async def stubborn(proc):
        try:
            await trio.sleep_forever()
        finally:
            exits.append("cleanup ran")

    async with trio.open_nursery() as outer:
        async with Node(shutdown_timeout=0.05) as node:
            s = node.spawn(stubborn)

            async def record():
                exits.append((await node.wait(s))[1].message)

            outer.start_soon(record)
            await trio.testing.wait_all_tasks_blocked()
    assert "cleanup ran" in exits and TERMINATED in exits
    assert node.processes() == []


async def test_spawn_after_shutdown_is_unavailable():
    async def body(proc):
        return 1

    async with Node() as node:
        pass
    with pytest.raises(Error, match="not running") as info:
        node.spawn(body)
    assert info.value.kind is ErrorKind.UNAVAILABLE


async def test_a_node_opens_once():
    node = Node()
    async with node:
        pass
    with pytest.raises(Error, match="only once"):
        async with node:
            pass


async def test_exception_in_the_node_block_terminates_everything_and_propagates():
    async def idle(proc):
        await trio.sleep_forever()

    with pytest.raises(RuntimeError, match="user bug"):
        async with Node(shutdown_timeout=0.01) as node:
            node.spawn(idle)
            raise RuntimeError("user bug")
    assert node.processes() == []


async def test_hosts_report_statistics():
    async def idle(proc):
        await trio.sleep_forever()

    async with Node(shutdown_timeout=0.01) as node:
        node.add_host("app:p")
        node.spawn(idle, host="app:p")
        stats = node.statistics()
        assert stats["hosts"]["app:p"]["live"] == 1
        with pytest.raises(Error, match="already exists"):
            node.add_host("app:p")
