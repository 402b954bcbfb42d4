"""Processes: spawn, exec, messages, topics, retention, context values."""

import pytest
import trio

from beamish.actors import (
    Error,
    ErrorKind,
    Message,
    Node,
    Pid,
    ProcessExit,
    ProcessNotFound,
    Timeout,
    current_values,
)


async def echo(proc):
    msg = await proc.receive()
    proc.send(msg.sender, "echo", *msg.payload)
    return "done"


async def test_exec_returns_the_body_result():
    async def body(proc, a, b):
        return a + b

    async with Node() as node:
        assert await node.exec(body, 2, 3) == 5


async def test_exec_raises_process_exit_with_the_body_error():
    async def body(proc):
        raise Error("boom", kind=ErrorKind.INVALID, retryable=False)

    async with Node() as node:
        with pytest.raises(ProcessExit, match="boom") as info:
            await node.exec(body)
    assert info.value.kind is ErrorKind.INVALID
    assert info.value.error.retryable is False


async def test_a_foreign_exception_becomes_an_internal_error_with_a_stack():
    async def body(proc):
        raise ValueError("bad value")

    async with Node() as node:
        with pytest.raises(ProcessExit) as info:
            await node.exec(body)
    assert info.value.kind is ErrorKind.INTERNAL
    assert "ValueError: bad value" in info.value.message
    assert "raise ValueError" in info.value.error.stack


async def test_pids_are_on_the_requested_host_and_unique():
    async with Node() as node:
        node.add_host("app:processes")
        pids = [node.spawn(echo, host="app:processes") for _ in range(3)]
        assert [str(p) for p in pids] == [
            "{app:processes|0x00001}",
            "{app:processes|0x00002}",
            "{app:processes|0x00003}",
        ]
        for p in pids:
            node.terminate(p)


async def test_node_name_appears_in_pids():
    async with Node(name="n1") as node:
        pid = node.spawn(echo)
        assert str(pid).startswith("{n1@node:local|")
        node.terminate(pid)


async def test_spawn_on_an_unknown_host_names_the_host():
    async with Node() as node:
        with pytest.raises(Error, match="host 'app:nope' not found") as info:
            node.spawn(echo, host="app:nope")
    assert info.value.kind is ErrorKind.NOT_FOUND


async def test_spawn_by_entry_id_and_unknown_entry():
    async with Node() as node:
        node.register_process("app:echo", echo)
        pid = node.spawn("app:echo")
        assert node.process(pid).entry_id == "app:echo"
        node.send(pid, "hi", 1)
        with pytest.raises(Error, match="process entry 'app:missing' not found"):
            node.spawn("app:missing")


async def test_send_and_receive_carry_topic_sender_and_payload():
    async def client(proc, server):
        proc.send(server, "req", 1, "two", [3])
        msg = await proc.receive()
        return msg.topic, msg.sender, msg.payload, msg.data

    async with Node() as node:
        server = node.spawn(echo)
        topic, sender, payload, data = await node.exec(client, server)
    assert (topic, sender, payload, data) == ("echo", server, (1, "two", [3]), [1, "two", [3]])


def test_message_data_shapes():
    assert Message("t", None, ()).data is None
    assert Message("t", None, (5,)).data == 5
    assert Message("t", None, (1, 2)).data == [1, 2]


async def test_send_to_a_dead_pid_is_process_not_found():
    async def quick(proc):
        return None

    async with Node() as node:
        pid = node.spawn(quick)
        await node.wait(pid)
        with pytest.raises(ProcessNotFound, match=r"is not alive") as info:
            node.send(pid, "hello")
        assert info.value.kind is ErrorKind.NOT_FOUND
        assert str(pid) in info.value.message
        with pytest.raises(ProcessNotFound, match="host 'other' does not exist"):
            node.send(Pid("other", "0x1"), "hello")
        with pytest.raises(ProcessNotFound, match="name 'ghost'"):
            node.send("ghost", "hello")


async def test_at_topics_are_reserved():
    async def body(proc):
        with pytest.raises(Error, match="reserved"):
            proc.send(proc.pid, "@inbox", 1)
        with pytest.raises(Error, match="reserved"):
            proc.listen("@events")
        with pytest.raises(Error, match="non-empty"):
            proc.send(proc.pid, "", 1)
        with pytest.raises(Error, match="non-empty string"):
            proc.send(proc.pid, 5, 1)
        return "ok"

    async with Node() as node:
        assert await node.exec(body) == "ok"


async def test_listen_routes_its_topic_and_inbox_gets_the_rest():
    async def body(proc):
        prices = proc.listen("price")
        proc.send(proc.pid, "price", 10)
        proc.send(proc.pid, "news", "hi")
        proc.send(proc.pid, "price", 11)
        news = await proc.receive()
        p1, p2 = await prices.receive(), await prices.receive()
        return news.payload, p1.payload, p2.payload

    async with Node() as node:
        assert await node.exec(body) == (("hi",), (10,), (11,))


async def test_messages_before_any_subscription_are_kept_in_order():
    async def body(proc):
        # Nothing subscribed yet: messages wait in the backlog.
        for i in range(3):
            proc.send(proc.pid, "a", i)
            proc.send(proc.pid, "b", i)
        a = proc.listen("a")  # takes only its topic, in order
        got_a = [(await a.receive()).data for _ in range(3)]
        got_rest = [(await proc.receive()).data for _ in range(3)]
        return got_a, got_rest

    async with Node() as node:
        assert await node.exec(body) == ([0, 1, 2], [0, 1, 2])


async def test_unlisten_closes_the_channel_and_later_messages_go_to_the_inbox():
    async def body(proc):
        ch = proc.listen("t")
        proc.unlisten(ch)
        assert ch.closed
        proc.send(proc.pid, "t", 1)
        return (await proc.receive(timeout=1)).data

    async with Node() as node:
        assert await node.exec(body) == 1


async def test_listen_returns_the_same_channel_and_inbox_is_stable():
    async def body(proc):
        return proc.listen("x") is proc.listen("x") and proc.inbox() is proc.inbox()

    async with Node() as node:
        assert await node.exec(body) is True


async def test_receive_with_timeout_raises_timeout():
    async def body(proc):
        with pytest.raises(Timeout):
            await proc.receive(timeout=0.01)
        return "timed out"

    async with Node() as node:
        assert await node.exec(body) == "timed out"


async def test_select_over_inbox_events_topic_and_timer():
    async def body(proc):
        timer = proc.after(0.01)
        ch, item = await proc.select([proc.events(), proc.inbox(), timer])
        assert ch is timer
        proc.send(proc.pid, "x", 1)
        ch, item = await proc.select([proc.events(), proc.inbox()])
        assert ch is proc.inbox() and item.data == 1
        return await proc.select([proc.inbox()], timeout=0.01)

    async with Node() as node:
        assert await node.exec(body) is None


async def test_context_values_reach_the_child_and_its_functions():
    async with Node() as node:
        node.functions.register("app:whoami", lambda: current_values()["user"])

        async def body(proc):
            return proc.values["user"], await proc.call("app:whoami")

        assert await node.exec(body, context={"user": "ann"}) == ("ann", "ann")


async def test_isolation_receiver_cannot_mutate_what_sender_holds():
    async def mutator(proc):
        msg = await proc.receive()
        msg.data["items"].append("evil")
        proc.send(msg.sender, "done")

    async def body(proc):
        state = {"items": [1, 2]}
        m = proc.spawn(mutator)
        proc.send(m, "take", state)
        await proc.receive()
        return state

    async with Node() as node:
        assert await node.exec(body) == {"items": [1, 2]}


async def test_spawn_args_are_isolated_too():
    async def child(proc, lst):
        lst.append(99)

    async with Node() as node:
        data = [1]
        await node.exec(child, data)
        assert data == [1]


async def test_statistics_and_repr_show_state():
    async def body(proc):
        proc.send(proc.pid, "x", 1)
        stats = proc.statistics()
        return stats["backlog"], repr(proc)

    async with Node() as node:
        backlog, text = await node.exec(body)
    assert backlog == 1
    assert "running" in text


async def test_thousands_of_processes_run_concurrently():
    async def worker(proc, parent, i):
        msg = await proc.receive()
        proc.send(parent, "done", i + msg.data)

    async def body(proc, n):
        pids = [proc.spawn(worker, proc.pid, i) for i in range(n)]
        for p in pids:
            proc.send(p, "go", 1)
        total = 0
        for _ in range(n):
            total += (await proc.receive()).data
        return total

    async with Node() as node:
        assert await node.exec(body, 5000) == sum(range(1, 5001))


async def test_a_plain_function_body_is_refused_at_spawn():
    def not_async(ctx):
        return 1

    async with Node() as node:
        with pytest.raises(Error) as info:
            node.spawn(not_async)
        assert info.value.kind is ErrorKind.INVALID
        assert "not_async" in info.value.message and "async def" in info.value.message
        assert node.processes() == []  # nothing started


async def test_a_callable_that_returns_no_awaitable_fails_with_a_clear_error():
    async with Node() as node:
        with pytest.raises(ProcessExit) as info:
            await node.exec(lambda ctx: 42)
        assert info.value.kind is ErrorKind.INVALID
        assert "returned int, not an awaitable" in info.value.error.message


async def test_a_lambda_returning_a_coroutine_is_a_body():
    async def body(ctx, n):
        return n + 1

    async with Node() as node:
        assert await node.exec(lambda ctx: body(ctx, 1)) == 2


async def test_messages_match_positionally_on_topic_data_and_sender():
    async def body(ctx):
        ctx.send(ctx.pid, "add", 2, 3)
        ctx.send(ctx.pid, "stop")
        seen = []
        for _ in range(2):
            match await ctx.receive():
                case Message("add", [a, b], sender) if sender == ctx.pid:
                    seen.append(a + b)
                case Message("stop"):
                    seen.append("stop")
        return seen

    async with Node() as node:
        assert await node.exec(body) == [5, "stop"]


async def test_wait_on_an_exited_process_returns_its_remembered_exit():
    async def fails(ctx):
        raise Error("gone", kind=ErrorKind.CONFLICT)

    async with Node(exit_memory=2) as node:
        first = node.spawn(fails)
        await trio.sleep(0.01)
        value, error = await node.wait(first)
        assert value is None and error.kind is ErrorKind.CONFLICT
        later = [node.spawn(fails) for _ in range(2)]  # push the first one out
        await trio.sleep(0.01)
        with pytest.raises(ProcessNotFound):
            await node.wait(first)
        assert (await node.wait(later[-1]))[1].message == "gone"
