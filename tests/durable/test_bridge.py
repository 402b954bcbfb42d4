"""The trio <-> asyncio bridge: values and errors cross both ways, cancellation crosses
both ways and is confirmed, closing stops the thread, and a real Temporal client and
worker run on the bridge loop while an activity calls back into trio."""

from __future__ import annotations

import asyncio
import threading
import uuid
from datetime import timedelta

import pytest
import trio

from beamish.actors import Error, ErrorKind
from beamish.durable._bridge import AsyncioBridge


async def test_run_returns_the_value_computed_on_the_bridge_thread() -> None:
    async with AsyncioBridge.open(name="t-bridge") as bridge:

        async def where() -> tuple[str, bool]:
            loop = asyncio.get_running_loop()
            return threading.current_thread().name, loop is bridge.loop

        name, same_loop = await bridge.run(where)
        assert name == "t-bridge"
        assert same_loop


async def test_run_propagates_the_exception_unchanged() -> None:
    class Boom(Exception):
        pass

    async with AsyncioBridge.open() as bridge:

        async def fail() -> None:
            await asyncio.sleep(0)
            raise Boom("x")

        with pytest.raises(Boom, match=r"^x$"):
            await bridge.run(fail)


async def test_cancelling_the_trio_caller_cancels_the_asyncio_task_and_waits_for_it() -> None:
    async with AsyncioBridge.open() as bridge:
        seen: list[str] = []

        async def slow() -> None:
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                await asyncio.sleep(0.01)  # cleanup takes a moment: the caller must wait
                seen.append("cleaned up")
                raise

        with trio.move_on_after(0.05) as scope:
            await bridge.run(slow)
        assert scope.cancelled_caught
        assert seen == ["cleaned up"]


async def test_a_cancelled_call_whose_task_completed_anyway_returns_its_value() -> None:
    async with AsyncioBridge.open() as bridge:

        async def stubborn() -> str:
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                return "finished anyway"
            return "never"

        got: list[str] = []
        with trio.move_on_after(0.05) as scope:
            got.append(await bridge.run(stubborn))
            await trio.sleep(0)  # the next checkpoint raises Cancelled
            pytest.fail("the scope was cancelled")
        assert scope.cancelled_caught
        assert got == ["finished anyway"]


async def test_to_trio_runs_in_the_kernel_and_returns_values_and_errors() -> None:
    async with AsyncioBridge.open() as bridge:
        trio_thread = threading.current_thread()

        async def in_trio(x: int) -> tuple[int, bool]:
            await trio.sleep(0)
            return x * 2, threading.current_thread() is trio_thread

        async def bad() -> None:
            await trio.sleep(0)
            raise Error("nope", kind=ErrorKind.NOT_FOUND)

        async def on_loop() -> tuple[tuple[int, bool], Error | None, int]:
            value = await bridge.to_trio(in_trio, 21)
            err = None
            try:
                await bridge.to_trio(bad)
            except Error as e:
                err = e
            total = await bridge.to_trio_sync(lambda a, b: a + b, 1, 2)
            return value, err, total

        value, err, total = await bridge.run(on_loop)
        assert value == (42, True)
        assert err is not None and err.kind is ErrorKind.NOT_FOUND
        assert total == 3


async def test_cancelling_the_asyncio_caller_cancels_the_trio_task() -> None:
    async with AsyncioBridge.open() as bridge:
        seen: list[str] = []

        async def forever() -> None:
            try:
                await trio.sleep_forever()
            finally:
                seen.append("trio side cancelled")

        async def on_loop() -> str:
            task = asyncio.get_running_loop().create_task(bridge.to_trio(forever))
            await asyncio.sleep(0.05)
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                return "cancelled"
            return "not cancelled"

        assert await bridge.run(on_loop) == "cancelled"
        assert seen == ["trio side cancelled"]


async def test_submit_and_call_soon_run_in_order_without_waiting() -> None:
    async with AsyncioBridge.open() as bridge:
        order: list[int] = []
        done = trio.Event()
        token = trio.lowlevel.current_trio_token()

        async def add(i: int) -> None:
            order.append(i)

        for i in range(5):
            bridge.submit(add, i)
        bridge.call_soon(lambda: token.run_sync_soon(done.set))
        await done.wait()
        await bridge.run(asyncio.sleep, 0)
        assert order == [0, 1, 2, 3, 4]


async def test_closing_stops_the_thread_cancels_leftover_tasks_and_refuses_calls() -> None:
    cancelled = threading.Event()
    async with AsyncioBridge.open() as bridge:

        async def leftover() -> None:
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                cancelled.set()
                raise

        bridge.submit(leftover)
        await bridge.run(asyncio.sleep, 0)
        thread = bridge.thread
    assert thread is not None and not thread.is_alive()
    assert cancelled.is_set()
    assert bridge.closed
    with pytest.raises(Error, match="the Temporal bridge is closed") as info:
        await bridge.run(asyncio.sleep, 0)
    assert info.value.kind is ErrorKind.UNAVAILABLE


@pytest.mark.temporal
def test_temporal_client_and_worker_live_on_the_bridge(temporal_server, task_queue) -> None:
    import durable_samples
    from temporalio.client import Client
    from temporalio.worker import Worker

    async def main() -> None:
        async with AsyncioBridge.open() as bridge:

            async def kernel_double(x: int) -> int:
                await trio.sleep(0)
                return x * 2

            durable_samples.KERNEL_CALL = lambda x: bridge.to_trio(kernel_double, x)

            async def run_workflow() -> int:
                client = await Client.connect(temporal_server.address)
                async with Worker(
                    client,
                    task_queue=task_queue,
                    workflows=[durable_samples.DoubleWorkflow],
                    activities=[durable_samples.double_in_kernel],
                ):
                    return await client.execute_workflow(
                        durable_samples.DoubleWorkflow.run,
                        21,
                        id=f"bridge-{uuid.uuid4()}",
                        task_queue=task_queue,
                        execution_timeout=timedelta(seconds=60),
                    )

            assert await bridge.run(run_workflow) == 42

    trio.run(main)
