"""The name registry and spawn-or-signal."""

import pytest
import trio

from beamish.actors import Error, ErrorKind, Node, ProcessNotFound


async def idle(proc):
    await trio.sleep_forever()


async def collect(proc, n):
    return [(await proc.receive()).payload for _ in range(n)]


async def test_register_lookup_unregister():
    async with Node() as node:
        pid = node.spawn(idle)
        node.register("svc", pid)
        node.register("svc", pid)  # same name, same PID: no-op
        assert node.lookup("svc") == pid
        node.send("svc", "hello")  # send by name
        assert node.unregister("svc") is True
        assert node.unregister("svc") is False
        with pytest.raises(ProcessNotFound, match="'svc'"):
            node.lookup("svc")
        node.terminate(pid)


async def test_name_taken_by_another_pid_is_already_exists():
    async with Node() as node:
        a, b = node.spawn(idle), node.spawn(idle)
        node.register("x", a)
        with pytest.raises(Error, match=r"already registered to \{") as info:
            node.register("x", b)
        assert info.value.kind is ErrorKind.ALREADY_EXISTS
        node.terminate(a)
        node.terminate(b)


@pytest.mark.parametrize("bad", ["", "{h|1}"])
async def test_invalid_names_are_rejected(bad):
    async with Node() as node:
        pid = node.spawn(idle)
        with pytest.raises(Error) as info:
            node.register(bad, pid)
        assert info.value.kind is ErrorKind.INVALID
        node.terminate(pid)


async def test_names_are_released_when_the_owner_exits():
    async with Node() as node:

        async def body(proc):
            proc.register("a")
            proc.register("b")
            return None

        pid = node.spawn(body)
        await node.wait(pid)
        for name in ("a", "b"):
            with pytest.raises(ProcessNotFound):
                node.lookup(name)
        assert len(node.names) == 0


async def test_spawn_with_a_name_registers_it_atomically():
    async with Node() as node:
        pid = node.spawn(idle, name="worker")
        assert node.lookup("worker") == pid
        node.terminate(pid)


async def test_spawn_or_signal_returns_the_running_process_and_delivers_messages():
    async with Node() as node:
        first = node.spawn(collect, 3, name="singleton", messages=[("init", (1,))])
        again = node.spawn(collect, 3, name="singleton", messages=[("more", (2,)), ("more", (3,))])
        assert again == first
        value, error = await node.wait(first)
    assert error is None and value == [(1,), (2,), (3,)]


async def test_start_messages_arrive_before_any_later_message():
    async with Node() as node:
        pid = node.spawn(collect, 2, name="p", messages=[("init", ("first",))])
        node.send(pid, "later", "second")
        value, _ = await node.wait(pid)
    assert value == [("first",), ("second",)]


async def test_spawn_or_signal_across_hosts_is_already_exists():
    async with Node() as node:
        node.add_host("h2")
        pid = node.spawn(idle, name="n")
        with pytest.raises(Error, match="another host") as info:
            node.spawn(idle, name="n", host="h2")
        assert info.value.kind is ErrorKind.ALREADY_EXISTS
        node.terminate(pid)


async def test_registering_a_dead_pid_is_not_found():
    async with Node() as node:

        async def quick(proc):
            return 1

        pid = node.spawn(quick)
        await node.wait(pid)
        with pytest.raises(ProcessNotFound):
            node.register("late", pid)
