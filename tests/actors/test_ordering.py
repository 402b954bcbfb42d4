"""Property: per-sender FIFO order holds under any interleaving of senders."""

import trio
from hypothesis import given, settings
from hypothesis import strategies as st

from beamish.actors import Node


@settings(max_examples=40, deadline=None)
@given(
    plan=st.lists(
        st.tuples(st.integers(0, 4), st.integers(1, 6), st.booleans()),
        min_size=1,
        max_size=40,
    )
)
def test_messages_from_one_sender_arrive_in_send_order(plan):
    """Senders 0..4 each send bursts; bursts interleave with yields chosen by hypothesis."""
    per_sender: dict[int, int] = {}
    for sender, burst, _ in plan:
        per_sender[sender] = per_sender.get(sender, 0) + burst

    async def sender(proc, me, dest, steps):
        seq = 0
        for burst, yield_after in steps:
            for _ in range(burst):
                proc.send(dest, "seq", me, seq)
                seq += 1
            if yield_after:
                await trio.sleep(0)

    async def receiver(proc, total):
        got: dict[int, list[int]] = {}
        for _ in range(total):
            me, seq = (await proc.receive()).payload
            got.setdefault(me, []).append(seq)
        return got

    async def main():
        async with Node() as node:
            rx = node.spawn(receiver, sum(per_sender.values()))
            steps: dict[int, list[tuple[int, bool]]] = {}
            for s, burst, y in plan:
                steps.setdefault(s, []).append((burst, y))
            for s, st_ in steps.items():
                node.spawn(sender, s, rx, st_)
            got, error = await node.wait(rx)
            assert error is None
            assert got == {s: list(range(n)) for s, n in per_sender.items()}

    trio.run(main)
