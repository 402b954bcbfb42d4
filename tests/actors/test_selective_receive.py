"""Selective receive: ``ctx.receive(match=...)`` takes the oldest matching message and
keeps the others queued, in order; timeouts and predicate errors take nothing."""

import pytest
import trio
from hypothesis import given, settings
from hypothesis import strategies as st

from beamish.actors import CLOSED, Channel, Message, Node, Timeout


def _fill(ctx, items):
    for topic, value in items:
        ctx.send(ctx.pid, topic, value)


async def test_the_oldest_match_is_taken_and_the_rest_keep_their_order():
    async def body(ctx):
        _fill(ctx, [("a", 1), ("b", 2), ("a", 3), ("b", 4)])
        first_b = await ctx.receive(match=lambda m: m.topic == "b")
        rest = [(await ctx.receive()).data for _ in range(3)]
        return first_b.data, rest

    async with Node() as node:
        assert await node.exec(body) == (2, [1, 3, 4])


async def test_a_match_that_arrives_later_wakes_the_receiver():
    async def body(ctx):
        async def later():
            await trio.sleep(0.01)
            _fill(ctx, [("noise", 0), ("reply", 42)])

        async with trio.open_nursery() as nursery:
            nursery.start_soon(later)
            got = await ctx.receive(match=lambda m: m.topic == "reply")
        return got.data, (await ctx.receive()).topic

    async with Node() as node:
        assert await node.exec(body) == (42, "noise")


async def test_a_timeout_raises_and_leaves_the_mailbox_unchanged():
    async def body(ctx):
        _fill(ctx, [("a", 1), ("a", 2)])
        with pytest.raises(Timeout, match="no message matched"):
            await ctx.receive(0.01, match=lambda m: m.topic == "b")
        return [(await ctx.receive(0)).data for _ in range(2)]

    async with Node() as node:
        assert await node.exec(body) == [1, 2]


async def test_a_failing_predicate_propagates_and_takes_nothing():
    def picky(msg):
        if msg.data == 2:
            raise ValueError("cannot judge 2")
        return False

    async def body(ctx):
        _fill(ctx, [("a", 1), ("a", 2)])
        with pytest.raises(ValueError, match="cannot judge 2"):
            await ctx.receive(match=picky)
        return [(await ctx.receive(0)).data for _ in range(2)]

    async with Node() as node:
        assert await node.exec(body) == [1, 2]


async def test_a_cancelled_selective_receive_takes_nothing():
    async def body(ctx):
        _fill(ctx, [("a", 1)])
        with trio.move_on_after(0.01):
            await ctx.receive(match=lambda m: m.topic == "b")
        return (await ctx.receive(0)).data

    async with Node() as node:
        assert await node.exec(body) == 1


async def test_a_closed_channel_with_no_match_returns_closed():
    ch = Channel("c")
    ch.put_nowait(1)
    ch.close()
    assert await ch.receive_match(lambda x: x == 2) is CLOSED
    assert await ch.receive() == 1


async def test_positional_patterns_work_as_predicates():
    def is_reply(msg):
        match msg:
            case Message("reply", int()):
                return True
        return False

    async def body(ctx):
        _fill(ctx, [("reply", "not an int"), ("reply", 7)])
        return (await ctx.receive(1, match=is_reply)).data

    async with Node() as node:
        assert await node.exec(body) == 7


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.sampled_from("xy"), st.integers()), max_size=30))
def test_selective_receive_partitions_the_mailbox_in_order(items):
    """Taking every "x" message selectively, then the rest plainly, sees each message
    once: the "x" ones in their order, then the others in theirs."""

    async def body(ctx):
        _fill(ctx, items)
        xs = [
            (await ctx.receive(match=lambda m: m.topic == "x")).data
            for _ in range(sum(1 for t, _ in items if t == "x"))
        ]
        others = []
        while True:
            try:
                others.append((await ctx.receive(0)).data)
            except Timeout:
                return xs, others

    async def main():
        async with Node() as node:
            return await node.exec(body)

    xs, others = trio.run(main)
    assert xs == [v for t, v in items if t == "x"]
    assert others == [v for t, v in items if t != "x"]
