"""ask/cast: request/reply with a watched server, and what a body that is no Server sees."""

import pytest
import trio
import trio.testing
from hypothesis import given, settings
from hypothesis import strategies as st

from beamish.actors import (
    CALL_TOPIC,
    CAST_TOPIC,
    Call,
    Error,
    ErrorKind,
    Node,
    ProcessExit,
    ProcessNotFound,
    Timeout,
)


async def doubler(ctx):
    """A hand-written server: answers calls, records casts, crashes on request."""
    casts = []
    while True:
        ch, msg = await ctx.select([ctx.inbox(), ctx.events()])
        if ch is not ctx.inbox():
            return "cancelled"  # the node's shutdown
        if msg.topic == CAST_TOPIC:
            casts.append(msg.data)
        elif isinstance(msg, Call):
            if msg.data == "casts":
                msg.reply(casts)
            elif msg.data == "crash":
                raise Error("asked to crash", kind=ErrorKind.INTERNAL)
            elif msg.data == "exit":
                return "done"
            elif msg.data == "refuse":
                msg.fail(Error("refused", kind=ErrorKind.PERMISSION_DENIED))
            elif msg.data == "ignore":
                pass
            else:
                msg.reply(msg.data * 2)


async def run(client, *args):
    async with Node() as node:
        return await node.exec(client, *args)


async def test_ask_returns_the_reply_and_cast_arrives_in_order():
    async def client(ctx):
        srv = ctx.spawn(doubler)
        first = await ctx.ask(srv, 21)
        for n in range(3):
            ctx.cast(srv, n)
        return first, await ctx.ask(srv, "casts")

    assert await run(client) == (42, [0, 1, 2])


async def test_ask_by_registered_name():
    async def client(ctx):
        ctx.spawn(doubler, name="doubler")
        return await ctx.ask("doubler", 5)

    assert await run(client) == 10


async def test_a_call_is_a_call_message_with_the_caller_as_sender():
    async def server(ctx):
        msg = await ctx.receive()
        assert isinstance(msg, Call) and msg.topic == CALL_TOPIC
        assert not msg.answered
        msg.reply(str(msg.sender))
        assert msg.answered
        assert msg.reply("again") is False  # a second answer is dropped
        return None

    async def client(ctx):
        return await ctx.ask(ctx.spawn(server), "who"), str(ctx.pid)

    who, me = await run(client)
    assert who == me


async def test_ask_a_dead_or_unknown_server_fails_at_once():
    async def client(ctx):
        srv = ctx.spawn_monitored(doubler)
        ctx.terminate(srv)
        await ctx.events().receive()  # its EXIT
        errors = []
        for dest in (srv, "nobody"):
            with pytest.raises(ProcessNotFound) as info:
                await ctx.ask(dest, 1, timeout=None)
            errors.append(info.value.kind)
        return errors

    assert await run(client) == [ErrorKind.NOT_FOUND, ErrorKind.NOT_FOUND]


async def test_server_crash_mid_call_wakes_the_caller_with_its_error():
    async def client(ctx):
        srv = ctx.spawn(doubler)
        with pytest.raises(ProcessExit) as info:
            await ctx.ask(srv, "crash", timeout=None)  # no timeout: only the watch ends it
        return info.value.pid == srv, info.value.error.message

    assert await run(client) == (True, "asked to crash")


async def test_server_normal_exit_before_replying_is_a_canceled_process_exit():
    async def client(ctx):
        with pytest.raises(ProcessExit) as info:
            await ctx.ask(ctx.spawn(doubler), "exit", timeout=None)
        return info.value.kind

    assert await run(client) == ErrorKind.CANCELED


async def test_fail_raises_the_servers_error_in_the_caller_and_the_server_lives_on():
    async def client(ctx):
        srv = ctx.spawn(doubler)
        with pytest.raises(Error) as info:
            await ctx.ask(srv, "refuse")
        return info.value.kind, await ctx.ask(srv, 1)

    assert await run(client) == (ErrorKind.PERMISSION_DENIED, 2)


async def test_timeout_then_the_late_reply_never_reaches_the_mailbox():
    async def slow(ctx):
        msg = await ctx.receive()
        await ctx.sleep(0.05)
        return msg.reply("late")  # False: the caller gave up

    async def client(ctx):
        srv = ctx.spawn_monitored(slow)
        with pytest.raises(Timeout):
            await ctx.ask(srv, "x", timeout=0.01)
        exit_event = await ctx.events().receive()
        leftover = await ctx.select([ctx.inbox()], timeout=0.01)
        return exit_event.value, leftover

    assert await run(client) == (False, None)


async def test_calls_to_self_and_non_processes_are_invalid():
    async def client(ctx):
        with pytest.raises(Error) as info:
            await ctx.ask(ctx.pid, 1)
        return info.value.kind, "itself" in info.value.message

    assert await run(client) == (ErrorKind.INVALID, True)


async def test_a_caller_terminated_while_waiting_leaves_the_server_unharmed():
    async def client(ctx, srv):
        await ctx.ask(srv, "ignore", timeout=None)

    async def main(ctx):
        srv = ctx.spawn(doubler)
        waiter = ctx.spawn(client, srv)
        await ctx.sleep(0.01)
        ctx.terminate(waiter)
        await ctx.sleep(0)
        return await ctx.ask(srv, 4)

    assert await run(main) == 8


async def test_an_uncopyable_reply_fails_at_the_server():
    async def server(ctx):
        msg = await ctx.receive()
        with pytest.raises(Error) as info:
            msg.reply(i for i in ())
        msg.reply(info.value.kind)

    async def client(ctx):
        return await ctx.ask(ctx.spawn(server), "x")

    assert await run(client) == ErrorKind.INVALID


async def test_a_reply_is_a_copy():
    async def server(ctx):
        shared = {"n": 1}
        msg = await ctx.receive()
        msg.reply(shared)
        shared["n"] = 2
        msg = await ctx.receive()
        msg.reply(shared)

    async def client(ctx):
        srv = ctx.spawn(server)
        first = await ctx.ask(srv, 0)
        return first, await ctx.ask(srv, 0)

    assert await run(client) == ({"n": 1}, {"n": 2})


@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(-1000, 1000), max_size=20))
def test_concurrent_callers_each_get_their_own_reply(values):
    async def caller(ctx, srv, n):
        return await ctx.ask(srv, n)

    async def main(ctx):
        srv = ctx.spawn(doubler)
        results = {}

        async def one(i, n):
            results[i] = await ctx.exec(caller, srv, n)

        async with trio.open_nursery() as nursery:
            for i, n in enumerate(values):
                nursery.start_soon(one, i, n)
        return [results[i] for i in range(len(values))]

    assert trio.run(run, main) == [2 * n for n in values]
