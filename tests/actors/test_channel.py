import pytest
import trio
import trio.testing

from beamish.actors import CLOSED, Channel, Error, Timeout, WouldBlock, select
from beamish.actors._channel import BUDGET


async def test_receive_returns_items_in_order():
    ch = Channel("c")
    n = 3 * BUDGET  # more than the budget: exercises the checkpointing path
    for i in range(n):
        ch.put_nowait(i)
    assert [await ch.receive() for _ in range(n)] == list(range(n))


async def test_draining_a_flooded_channel_lets_other_tasks_run():
    ch = Channel("flood")
    n = 4 * BUDGET
    for i in range(n):
        ch.put_nowait(i)
    progress: list[int] = []  # how many items were taken each time the other task ran

    async def drain() -> None:
        for _ in range(n):
            await ch.receive()

    async def other() -> None:
        while len(ch):
            progress.append(n - len(ch))
            await trio.lowlevel.checkpoint()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(drain)
        nursery.start_soon(other)
    # The other task ran between the drainer's budgets, not only before or after it.
    assert any(0 < taken < n for taken in progress)


async def test_receive_parks_until_put():
    ch = Channel()
    got = []

    async def reader():
        got.append(await ch.receive())

    async with trio.open_nursery() as n:
        n.start_soon(reader)
        await trio.testing.wait_all_tasks_blocked()
        assert got == []
        ch.put_nowait("x")
    assert got == ["x"]


async def test_receive_timeout_raises_and_leaves_channel_unchanged():
    ch = Channel("slow")
    with pytest.raises(Timeout, match="slow"):
        await ch.receive(timeout=0.01)
    ch.put_nowait(1)
    assert ch.receive_nowait() == 1


async def test_cancelled_receive_does_not_lose_a_later_item():
    ch = Channel()
    with trio.move_on_after(0.01):
        await ch.receive()
    ch.put_nowait("kept")
    assert await ch.receive() == "kept"


def test_receive_nowait_on_empty_raises_would_block():
    with pytest.raises(WouldBlock):
        Channel().receive_nowait()


async def test_close_keeps_queued_items_then_reports_closed():
    ch = Channel()
    ch.put_nowait(1)
    ch.close()
    ch.close()  # idempotent
    assert await ch.receive() == 1
    assert await ch.receive() is CLOSED
    with pytest.raises(Error, match="closed channel"):
        ch.put_nowait(2)


async def test_close_wakes_a_parked_receiver():
    ch = Channel()
    got = []

    async def reader():
        got.append(await ch.receive())

    async with trio.open_nursery() as n:
        n.start_soon(reader)
        await trio.testing.wait_all_tasks_blocked()
        ch.close()
    assert got == [CLOSED]


async def test_two_concurrent_receivers_each_get_one_item():
    ch = Channel()
    got = []

    async def reader():
        got.append(await ch.receive())

    async with trio.open_nursery() as n:
        n.start_soon(reader)
        n.start_soon(reader)
        await trio.testing.wait_all_tasks_blocked()
        ch.put_nowait(1)
        ch.put_nowait(2)
    assert sorted(got) == [1, 2]


async def test_select_prefers_earlier_ready_channel_and_times_out():
    a, b = Channel("a"), Channel("b")
    b.put_nowait("b1")
    a.put_nowait("a1")
    assert await select([a, b]) == (a, "a1")
    assert await select([a, b]) == (b, "b1")
    assert await select([a, b], timeout=0.01) is None
    assert await select([a, b], timeout=0) is None


async def test_select_wakes_on_any_channel_and_cleans_up_waiters():
    a, b = Channel("a"), Channel("b")
    result = []

    async def waiter():
        result.append(await select([a, b]))

    async with trio.open_nursery() as n:
        n.start_soon(waiter)
        await trio.testing.wait_all_tasks_blocked()
        b.put_nowait("hello")
    assert result == [(b, "hello")]
    assert a.statistics()["waiters"] == 0 and b.statistics()["waiters"] == 0


async def test_select_reports_closed_channel():
    a = Channel()
    a.close()
    assert await select([a]) == (a, CLOSED)
