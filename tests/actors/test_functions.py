"""Functions: call, call_async, timeouts, errors, cancellation with the caller."""

import pytest
import trio

from beamish.actors import (
    Error,
    ErrorKind,
    Node,
    ProcessExit,
    Timeout,
    current_context,
    current_values,
)


def add(a, b):
    return a + b


async def async_mul(a, b):
    await trio.sleep(0)
    return a * b


async def test_call_sync_and_async_functions_from_outside_and_inside():
    async with Node() as node:
        node.functions.register("app.math:add", add)
        node.functions.register("app.math:mul", async_mul)
        assert await node.call("app.math:add", 2, 3) == 5
        assert await node.call("app.math:mul", 2, 3) == 6

        async def body(proc):
            return await proc.call("app.math:add", 1, 1)

        assert await node.exec(body) == 2


async def test_functions_run_in_the_callers_context():
    async with Node() as node:
        node.functions.register("app:me", lambda: current_context().pid)

        async def body(proc):
            return proc.pid, await proc.call("app:me")

        pid, seen = await node.exec(body)
        assert pid == seen
        # From outside a process the function gets a frame of its own.
        frame_pid = await node.call("app:me")
        assert frame_pid.host == "node:functions"
        assert not node.is_alive(frame_pid)


async def test_call_context_values_merge_with_the_callers():
    async with Node() as node:
        node.functions.register("app:ctx", lambda: dict(current_values()))

        async def body(proc):
            return await proc.call("app:ctx", context={"b": 2, "a": 9})

        assert await node.exec(body, context={"a": 1}) == {"a": 9, "b": 2}
        assert await node.call("app:ctx", context={"x": 1}) == {"x": 1}


async def test_unknown_and_malformed_function_ids():
    async with Node() as node:
        with pytest.raises(Error, match="'app:nope' is not registered") as info:
            await node.call("app:nope")
        assert info.value.kind is ErrorKind.NOT_FOUND
        for bad in ("nocolon", "a:b:c", ":x", ""):
            with pytest.raises(Error) as info:
                await node.call(bad)
            assert info.value.kind is ErrorKind.INVALID


async def test_function_errors_keep_kind_and_retryable():
    def fails():
        raise Error("db down", kind=ErrorKind.UNAVAILABLE, retryable=True)

    def crashes():
        return 1 / 0

    async with Node() as node:
        node.functions.register("app:fails", fails)
        node.functions.register("app:crash", crashes)
        with pytest.raises(Error, match="db down") as info:
            await node.call("app:fails")
        assert info.value.kind is ErrorKind.UNAVAILABLE and info.value.retryable is True
        with pytest.raises(Error, match="ZeroDivisionError") as info:
            await node.call("app:crash")
        assert info.value.kind is ErrorKind.INTERNAL


async def test_call_timeout():
    async with Node() as node:
        node.functions.register("app:slow", lambda: trio.sleep(10))

        async def slow():
            await trio.sleep(10)

        node.functions.register("app:slow", slow)
        with pytest.raises(Timeout, match="app:slow timed out") as info:
            await node.call("app:slow", timeout=0.01)
        assert info.value.kind is ErrorKind.TIMEOUT and info.value.retryable


async def test_cancelling_the_caller_cancels_the_call():
    finished = []

    async def slow():
        await trio.sleep(10)
        finished.append(1)

    async with Node() as node:
        node.functions.register("app:slow", slow)
        with trio.move_on_after(0.01):
            await node.call("app:slow")
    assert finished == []


async def test_call_async_future_result_error_and_cancel():
    async def slow(x):
        await trio.sleep(0.01)
        return x

    def bad():
        raise Error("nope", kind=ErrorKind.INVALID)

    async with Node() as node:
        node.functions.register("app:slow", slow)
        node.functions.register("app:bad", bad)

        async def body(proc):
            f1 = proc.call_async("app:slow", 7)
            assert not f1.is_complete()
            assert f1.result_nowait() == (None, None)
            f2 = proc.call_async("app:bad")
            f3 = proc.call_async("app:slow", 1)
            assert f3.cancel() is True
            value = await f1.result()
            with pytest.raises(Error, match="nope"):
                await f2.result()
            with pytest.raises(Error) as info:
                await f3.result()
            assert info.value.kind is ErrorKind.CANCELED and f3.is_canceled()
            assert f3.error() is info.value and f1.error() is None
            assert f2.error().message == "nope"
            assert f1.cancel() is False  # too late: already complete
            _, item = await proc.select([f1.channel])
            return value, item

        value, item = await node.exec(body)
        assert value == 7 and item == (7, None)


async def test_call_async_unknown_function_fails_fast():
    async with Node() as node:

        async def body(proc):
            proc.call_async("app:ghost")

        with pytest.raises(ProcessExit, match="not registered"):
            await node.exec(body)


async def test_sync_function_returning_an_awaitable_is_rejected():
    async def coro():
        return 1

    async with Node() as node:
        node.functions.register("app:bad", lambda: coro())
        with pytest.raises(Error, match="async def"):
            await node.call("app:bad")


def test_current_context_outside_anything_is_a_clear_error():
    with pytest.raises(Error, match="no beamish context"):
        current_context()
