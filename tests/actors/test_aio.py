"""run_asyncio: asyncio-only code awaited from processes, with results, exceptions,
structured cancellation in both directions, one shared loop, and no thread left over."""

import asyncio
import threading

import pytest
import trio

from beamish.actors import Error, ErrorKind, Node, run_asyncio


async def asyncio_only(x):
    # asyncio.sleep and get_running_loop fail outside an asyncio loop.
    await asyncio.sleep(0.001)
    return x * 2, type(asyncio.get_running_loop()).__name__


def _bridge_threads():
    return [t for t in threading.enumerate() if t.name == "beamish-asyncio"]


async def test_a_process_awaits_an_asyncio_coroutine():
    async def body(ctx, x):
        return await run_asyncio(asyncio_only, x)

    async with Node() as node:
        value, loop_kind = await node.exec(body, 21)
    assert value == 42
    assert "EventLoop" in loop_kind


async def test_keyword_arguments_and_coroutine_objects():
    async def kw(a, *, b):
        await asyncio.sleep(0)
        return a - b

    assert await run_asyncio(kw, 5, b=2) == 3
    assert await run_asyncio(kw(7, b=1)) == 6


async def test_the_asyncio_exception_reaches_the_caller_as_is():
    class LibraryError(Exception):
        pass

    async def fails():
        await asyncio.sleep(0)
        raise LibraryError("connection refused")

    with pytest.raises(LibraryError, match="connection refused"):
        await run_asyncio(fails)


async def test_cancelling_the_caller_cancels_and_awaits_the_asyncio_task():
    seen = []

    async def slow():
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            await asyncio.sleep(0.01)  # cleanup that itself awaits
            seen.append("cleaned up")
            raise

    with trio.move_on_after(0.05) as scope:
        await run_asyncio(slow)
    assert scope.cancelled_caught
    assert seen == ["cleaned up"]  # finished before the caller went on


async def test_terminating_a_process_cancels_its_asyncio_task():
    cancelled = trio.Event()
    token = trio.lowlevel.current_trio_token()

    async def slow():
        try:
            await asyncio.sleep(30)
        finally:
            token.run_sync_soon(cancelled.set)

    async def body(ctx):
        await run_asyncio(slow)

    async with Node() as node:
        pid = node.spawn(body)
        await trio.sleep(0.05)
        node.terminate(pid)
        with trio.fail_after(5):
            await cancelled.wait()


async def test_a_task_cancelled_on_the_asyncio_side_is_a_canceled_error():
    async def cancels_itself():
        asyncio.current_task().cancel()
        await asyncio.sleep(1)

    with pytest.raises(Error) as info:
        await run_asyncio(cancels_itself)
    assert info.value.kind is ErrorKind.CANCELED


async def test_calls_share_one_loop_so_asyncio_objects_carry_over():
    queue = await run_asyncio(_make_queue)

    async def put(v):
        await queue.put(v)

    async def producer(ctx, v):
        await run_asyncio(put, v)

    async with Node() as node:
        for v in range(3):
            await node.exec(producer, v)
    assert [await run_asyncio(queue.get) for _ in range(3)] == [0, 1, 2]
    assert len(_bridge_threads()) == 1


async def _make_queue():
    return asyncio.Queue()


async def test_bad_arguments_are_invalid():
    def sync():
        return 1

    with pytest.raises(Error, match="not an async function") as info:
        await run_asyncio(sync)
    assert info.value.kind is ErrorKind.INVALID
    with pytest.raises(Error, match="needs an async function"):
        await run_asyncio(42)  # type: ignore[arg-type]


def test_the_loop_thread_stops_when_the_trio_run_ends():
    async def main():
        await run_asyncio(asyncio_only, 1)
        assert len(_bridge_threads()) == 1

    trio.run(main)
    assert _bridge_threads() == []


def test_a_node_under_asyncio_says_to_use_trio():
    async def main():
        async with Node():
            pass

    with pytest.raises(Error, match=r"trio.run\(main\), not asyncio.run") as info:
        asyncio.run(main())
    assert info.value.kind is ErrorKind.INVALID
