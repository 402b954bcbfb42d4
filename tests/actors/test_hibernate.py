"""Hibernation: an idle process drops its task and wakes on the next delivery."""

import pytest
import trio
import trio.testing

from beamish.actors import LINK_FAILED, TERMINATED, Error, EventKind, Node, WouldBlock


async def counter(ctx, total):
    """Adds "add" payloads; answers "get"; stops on CANCEL; hibernates when idle."""
    while True:
        try:
            ev = ctx.events().receive_nowait()
        except WouldBlock:
            pass
        else:
            if ev.kind is EventKind.CANCEL:
                return total
        try:
            msg = ctx.inbox().receive_nowait()
        except WouldBlock:
            return ctx.hibernate(counter, total)
        if msg.topic == "get":
            ctx.send(msg.sender, "total", total)
        else:
            total += msg.data


async def ask_total(ctx, pid):
    ctx.send(pid, "get")
    return (await ctx.receive()).data


async def test_a_hibernating_process_keeps_its_state_across_wake_ups():
    async with Node() as node:
        pid = node.spawn(counter, 0)
        await trio.testing.wait_all_tasks_blocked()
        assert node.process(pid).statistics()["hibernating"]
        for i in range(1, 4):
            node.send(pid, "add", i)
            await trio.testing.wait_all_tasks_blocked()
            assert node.process(pid).statistics()["hibernating"]
        assert await node.exec(ask_total, pid) == 6


async def test_messages_queued_before_hibernating_run_the_function_at_once():
    async with Node() as node:
        pid = node.spawn(counter, 10, messages=[("add", (1,)), ("add", (2,))])
        assert await node.exec(ask_total, pid) == 13


async def test_an_event_wakes_it_and_its_result_is_the_exit_value():
    async with Node() as node:

        async def watch(ctx, pid):
            ctx.monitor(pid)
            ctx.cancel(pid, "stop")
            ev = await ctx.events().receive()
            return ev.kind, ev.value

        pid = node.spawn(counter, 5)
        await trio.testing.wait_all_tasks_blocked()
        assert await node.exec(watch, pid) == (EventKind.EXIT, 5)
        assert not node.is_alive(pid)


async def test_terminating_a_hibernating_process_finishes_it_at_once():
    async with Node() as node:

        async def watch(ctx, pid):
            ctx.monitor(pid)
            ctx.terminate(pid)
            ev = await ctx.events().receive()
            return ev.error.message

        pid = node.spawn(counter, 0, name="c")
        await trio.testing.wait_all_tasks_blocked()
        assert await node.exec(watch, pid) == TERMINATED
        assert node.names.lookup("c") is None


async def test_an_untrapped_link_failure_kills_a_hibernating_process():
    async def crash_linked(ctx, peer):
        ctx.link(peer)
        raise Error("boom")

    async def watch(ctx, peer):
        ctx.monitor(peer)
        ctx.spawn(crash_linked, peer)
        ev = await ctx.events().receive()
        return ev.error.message

    async with Node() as node:
        pid = node.spawn(counter, 0)
        await trio.testing.wait_all_tasks_blocked()
        assert await node.exec(watch, pid) == LINK_FAILED
        assert not node.is_alive(pid)


async def test_node_shutdown_wakes_hibernating_processes_with_cancel():
    results = []

    async def polite(ctx):
        if ctx.events().statistics()["queued"]:
            results.append((ctx.events().receive_nowait()).reason)
            return "bye"
        return ctx.hibernate(polite)

    async with Node() as node:
        node.spawn(polite)
        await trio.testing.wait_all_tasks_blocked()
    assert results == ["scheduler shutdown"]
    assert node.terminated_at_shutdown == 0


async def test_function_frames_cannot_hibernate():
    async with Node() as node:

        def try_it():
            from beamish.actors import current_context

            return current_context().hibernate(counter, 0)

        node.functions.register("app:h", try_it)
        with pytest.raises(Error, match="cannot hibernate"):
            await node.call("app:h")
