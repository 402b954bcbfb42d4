"""Per-process quotas of the kernel (``Limits``): mailbox length and bytes, live
children, start-up messages. Each flood is refused at the sender with an error naming
the limit, the host stays healthy (a heartbeat sibling keeps answering), and the slot
comes back when the cause goes away.

Times are generous ``trio.fail_after`` bounds that only catch a hang; nothing here
asserts how fast anything is.
"""

from __future__ import annotations

import math

import pytest
import trio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from beamish.actors import (
    DEFAULT_LIMITS,
    Error,
    ErrorKind,
    EventKind,
    Limits,
    LocalHost,
    Node,
)
from beamish.actors._limits import SizedMessage

HOST = "t:h"
BOUND = 60  # seconds: only catches a hang


def node_with(**limits: int) -> Node:
    node = Node(shutdown_timeout=0.05)  # the test processes ignore the shutdown CANCEL
    node.add_host(LocalHost(HOST, limits=Limits().with_(**limits)))
    return node


async def heartbeat(ctx):
    """Answers every "ping" with a "pong" carrying its count."""
    n = 0
    while True:
        msg = await ctx.receive()
        n += 1
        ctx.send(msg.sender, "pong", n)


async def ping(ctx, pid) -> int:
    ctx.send(pid, "ping")
    msg = await ctx.receive(timeout=BOUND)
    assert msg.topic == "pong"
    return msg.data


async def deaf(ctx):
    """Never reads its inbox: everything sent to it stays queued (in the backlog)."""
    await ctx.listen("stop").receive()


def assert_limit_error(err: Error, setting: str, limit: int, *, retryable: bool = True) -> None:
    assert err.kind is (ErrorKind.RATE_LIMITED if retryable else ErrorKind.INVALID)
    assert err.retryable is retryable
    assert f"limits.{setting} of host {HOST!r} is {limit}" in err.message
    assert err.details["limit"] == setting
    assert err.details["value"] == limit
    assert err.details["host"] == HOST


# -- mailbox length ----------------------------------------------------------------------------

async def test_a_send_to_a_full_mailbox_fails_at_the_sender_and_the_host_stays_healthy():
    async with node_with(mailbox_messages=5) as node:
        heart = node.spawn(heartbeat, host=HOST)
        victim = node.spawn(deaf, host=HOST)

        async def flooder(ctx):
            before = await ping(ctx, heart)
            sent = 0
            with pytest.raises(Error) as info:
                while True:
                    ctx.send(victim, "junk", sent)
                    sent += 1
            after = await ping(ctx, heart)
            return sent, info.value, before, after

        with trio.fail_after(BOUND):
            sent, err, before, after = await node.exec(flooder)
        assert sent == 5
        assert_limit_error(err, "mailbox_messages", 5)
        assert f"cannot send to {victim}: its mailbox is full, 5 messages" in err.message
        assert err.details["pid"] == str(victim)
        assert (before, after) == (1, 2)
        assert node.process(victim).statistics()["queued"] == 5


async def test_a_self_send_flood_is_refused_and_draining_makes_room_again():
    async with node_with(mailbox_messages=100) as node:
        heart = node.spawn(heartbeat, host=HOST)

        async def flood(ctx):
            sent = 0
            try:
                while True:
                    ctx.send(ctx.pid, "self", sent)
                    sent += 1
            except Error as exc:
                refused = exc
            await ctx.receive()  # one slot comes back
            ctx.send(ctx.pid, "self", "fits again")
            with pytest.raises(Error, match="mailbox is full"):
                ctx.send(ctx.pid, "self", "but only one")
            return sent, refused

        async def client(ctx):
            sent, refused = await ctx.exec(flood, host=HOST)
            return sent, refused, await ping(ctx, heart)

        with trio.fail_after(BOUND):
            sent, refused, beat = await node.exec(client)
        assert sent == 100
        assert_limit_error(refused, "mailbox_messages", 100)
        assert beat == 1


async def test_a_send_from_outside_any_process_is_refused_too():
    async with node_with(mailbox_messages=2) as node:
        victim = node.spawn(deaf, host=HOST)
        node.send(victim, "a")
        node.send(victim, "b")
        with pytest.raises(Error, match=r"limits\.mailbox_messages of host 't:h' is 2"):
            node.send(victim, "c")


async def test_inbox_topics_backlog_and_events_all_count_and_cancel_is_refused_when_full():
    async with node_with(mailbox_messages=4) as node:
        started = trio.Event()
        proceed = trio.Event()

        async def body(ctx):
            ctx.listen("topic")
            started.set()
            await proceed.wait()
            ctx.inbox()  # the backlog moves into the inbox: still counted once
            assert ctx.statistics()["queued"] == 4
            return None

        pid = node.spawn(body, host=HOST)
        await started.wait()
        node.send(pid, "topic", 1)        # a listened topic
        node.send(pid, "other", 2)        # the backlog (no inbox asked for yet)
        node.send(pid, "other", 3)
        node.cancel(pid, "please")        # the events channel
        with pytest.raises(Error, match="cannot cancel"):
            node.cancel(pid, "again")
        with pytest.raises(Error, match="mailbox is full, 4 messages"):
            node.send(pid, "other", 4)
        proceed.set()
        with trio.fail_after(BOUND):
            assert await node.wait(pid) == (None, None)


async def test_kernel_events_are_counted_but_never_refused():
    async with node_with(mailbox_messages=1) as node:

        async def child(ctx):
            return "done"

        async def watcher(ctx):
            for _ in range(3):
                ctx.spawn(child, monitor=True)
            events = ctx.events()
            while len(events) < 3:  # three EXITs arrive although the limit is 1
                await ctx.sleep(0.001)
            with pytest.raises(Error, match="mailbox is full, 3 messages"):
                ctx.send(ctx.pid, "self")
            kinds = [(await events.receive()).kind for _ in range(3)]
            ctx.send(ctx.pid, "self")  # room again
            return kinds

        with trio.fail_after(BOUND):
            assert await node.exec(watcher, host=HOST) == [EventKind.EXIT] * 3


async def test_an_unlisten_gives_back_what_its_channel_still_held():
    async with node_with(mailbox_messages=3, mailbox_bytes=100) as node:

        async def body(ctx):
            ctx.listen("t")
            ctx.send(ctx.pid, "t", 1)
            ctx.send_sized(ctx.pid, "t", 60, "x" * 60)
            assert (ctx.queued, ctx.statistics()["queued_bytes"]) == (2, 60)
            ch = ctx.listen("t")
            ctx.unlisten("t")
            assert (ctx.queued, ctx.statistics()["queued_bytes"]) == (0, 0)
            assert (await ch.receive()).payload == (1,)  # still readable, not counted
            assert ctx.queued == 0
            for i in range(3):
                ctx.send(ctx.pid, "t", i)
            return ctx.queued

        with trio.fail_after(BOUND):
            assert await node.exec(body, host=HOST) == 3


# -- mailbox bytes -----------------------------------------------------------------------------

async def test_sized_sends_count_their_bytes_until_received():
    async with node_with(mailbox_bytes=100) as node:
        victim = node.spawn(deaf, host=HOST)

        async def sender(ctx):
            for _ in range(3):
                ctx.send_sized(victim, "blob", 30, "x" * 30)
            with pytest.raises(Error) as full:
                ctx.send_sized(victim, "blob", 30, "x" * 30)
            with pytest.raises(Error) as huge:
                ctx.send_sized(victim, "blob", 101, "x" * 101)
            ctx.send(victim, "unsized", "x" * 1000)  # a size nobody told: not counted
            return full.value, huge.value

        with trio.fail_after(BOUND):
            full, huge = await node.exec(sender)
        assert_limit_error(full, "mailbox_bytes", 100)
        assert "cannot send 30 payload bytes" in full.message
        assert "already holds 90 bytes" in full.message
        assert_limit_error(huge, "mailbox_bytes", 100, retryable=False)
        assert "more than its whole mailbox may hold" in huge.message
        stats = node.process(victim).statistics()
        assert (stats["queued"], stats["queued_bytes"]) == (4, 90)


async def test_receiving_a_sized_message_gives_its_bytes_back():
    async with node_with(mailbox_bytes=50) as node:

        async def body(ctx):
            ctx.send_sized(ctx.pid, "t", 50, "y" * 50)
            with pytest.raises(Error, match="mailbox_bytes"):
                ctx.send_sized(ctx.pid, "t", 1, "z")
            msg = await ctx.receive()
            assert isinstance(msg, SizedMessage) and msg.data == "y" * 50
            ctx.send_sized(ctx.pid, "t", 50, "y" * 50)
            return ctx.statistics()["queued_bytes"]

        with trio.fail_after(BOUND):
            assert await node.exec(body, host=HOST) == 50


# -- the accounting is exact -------------------------------------------------------------------

OPS = st.lists(
    st.one_of(
        st.tuples(st.just("send"), st.sampled_from("ab"), st.integers(0, 40)),
        st.tuples(st.just("cancel")),
        st.tuples(st.sampled_from(["listen", "unlisten", "take", "take_old"]),
                  st.sampled_from("ab")),
        st.tuples(st.sampled_from(["inbox", "take_inbox", "take_event", "select"])),
    ),
    max_size=40,
)


def real_counts(proc) -> tuple[int, int]:
    items = list(proc._backlog or ())
    for ch in (proc._inbox, proc._events, *(proc._topics or {}).values()):
        if ch is not None:
            items.extend(ch._items or ())
    size = sum(m.size for m in items if isinstance(m, SizedMessage))
    return len(items), size


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(OPS)
def test_the_queued_counts_equal_the_real_queues_under_any_sequence(ops):
    async def scenario():
        async with node_with(mailbox_messages=25, mailbox_bytes=200) as node:
            hold = trio.Event()

            async def body(ctx):
                await hold.wait()

            pid = node.spawn(body, host=HOST)
            proc = node.process(pid)
            unlistened = []
            for op in ops:
                name = op[0]
                try:
                    if name == "send":
                        if op[2]:
                            proc.send_sized(pid, op[1], op[2], "p")
                        else:
                            node.send(pid, op[1], "p")
                    elif name == "cancel":
                        node.cancel(pid, "r")
                    elif name == "listen":
                        proc.listen(op[1])
                    elif name == "unlisten":
                        ch = (proc._topics or {}).get(op[1])
                        proc.unlisten(op[1])
                        if ch is not None:
                            unlistened.append(ch)
                    elif name == "take":
                        ch = (proc._topics or {}).get(op[1])
                        if ch is not None and len(ch):
                            ch.receive_nowait()
                    elif name == "take_old":
                        if unlistened and len(unlistened[-1]):
                            await unlistened[-1].receive()
                    elif name == "inbox":
                        proc.inbox()
                    elif name == "take_inbox":
                        if proc._inbox is not None and len(proc._inbox):
                            await proc.receive(timeout=1)
                    elif name == "take_event":
                        if proc._events is not None and len(proc._events):
                            proc.events().receive_nowait()
                    elif name == "select":
                        chans = [c for c in (proc._events, proc._inbox,
                                             *(proc._topics or {}).values()) if c is not None]
                        if chans:
                            await proc.select(chans, timeout=0)
                except Error as exc:
                    assert exc.kind is ErrorKind.RATE_LIMITED or "mailbox_bytes" in exc.message
                count, size = real_counts(proc)
                assert proc.queued == count, (op, count)
                assert proc.statistics()["queued_bytes"] == size, (op, size)
                assert 0 <= count <= 25 and size <= 200
            hold.set()

    trio.run(scenario)


# -- children ----------------------------------------------------------------------------------

async def waiter(ctx):
    await ctx.receive()


async def test_a_spawn_over_the_children_limit_fails_and_an_exit_frees_the_slot():
    async with node_with(children=3) as node:
        heart = node.spawn(heartbeat, host=HOST)

        async def parent(ctx):
            kids = [ctx.spawn(waiter, monitor=True) for _ in range(3)]
            with pytest.raises(Error) as info:
                ctx.spawn(waiter)
            assert ctx.statistics()["children"] == 3
            beat = await ping(ctx, heart)
            ctx.send(kids[0], "stop")
            ev = await ctx.events().receive(timeout=BOUND)
            assert ev.kind is EventKind.EXIT and ev.sender == kids[0]
            again = ctx.spawn(waiter)  # the exit gave the slot back
            for pid in [*kids[1:], again]:
                ctx.send(pid, "stop")
            return info.value, beat

        with trio.fail_after(BOUND):
            err, beat = await node.exec(parent, host=HOST)
        assert_limit_error(err, "children", 3)
        assert "already has 3 live children" in err.message
        assert beat == 1


async def test_only_a_process_s_own_live_children_count():
    async with node_with(children=2) as node:

        async def middle(ctx):
            a = ctx.spawn(waiter)
            b = ctx.spawn(waiter)  # the middle's own two: fine
            for pid in (a, b):
                ctx.send(pid, "stop")

        async def top(ctx):
            await ctx.exec(middle, host=HOST)
            await ctx.exec(middle, host=HOST)  # one live child at a time
            ctx.spawn(waiter)
            ctx.spawn(waiter)
            with pytest.raises(Error, match="already has 2 live children"):
                ctx.spawn(waiter)
            return "ok"

        with trio.fail_after(BOUND):
            assert await node.exec(top, host=HOST) == "ok"
        for _ in range(100):
            node.spawn(waiter, host=HOST)  # no spawner, no quota


# -- start-up messages -------------------------------------------------------------------------

async def test_a_spawn_with_too_many_start_up_messages_fails_before_anything_starts():
    async with node_with(spawn_messages=2) as node:

        async def parent(ctx):
            before = len(ctx._node.processes())
            with pytest.raises(Error) as info:
                ctx.spawn(waiter, messages=[("m", (i,)) for i in range(3)])
            assert len(ctx._node.processes()) == before
            kid = ctx.spawn(waiter, messages=[("m", (1,)), ("m", (2,))])
            return info.value, kid

        with trio.fail_after(BOUND):
            err, _kid = await node.exec(parent, host=HOST)
        assert_limit_error(err, "spawn_messages", 2, retryable=False)
        assert "cannot spawn with 3 start-up messages" in err.message
        with pytest.raises(Error, match="spawn_messages"):  # from outside: the target's
            node.spawn(waiter, host=HOST, messages=[("m", ())] * 3)


async def test_a_spawn_refused_for_a_bad_start_up_message_leaves_no_process_and_no_slot():
    async with node_with(children=1) as node:

        async def parent(ctx):
            before = len(ctx._node.processes())
            with pytest.raises(Error, match="reserved"):
                ctx.spawn(waiter, messages=[("ok", ()), ("@bad", ())])
            assert len(ctx._node.processes()) == before
            kid = ctx.spawn(waiter)  # the one slot is still free
            ctx.send(kid, "stop")
            return ctx.statistics()["children"]

        with trio.fail_after(BOUND):
            assert await node.exec(parent, host=HOST) == 1

# -- where the limits come from ----------------------------------------------------------------

async def test_each_process_has_its_host_s_limits():
    limits = Limits(mailbox_messages=7, children=2)
    async with Node(shutdown_timeout=0.05) as node:
        node.add_host(LocalHost(HOST, limits=limits))
        pid = node.spawn(deaf, host=HOST)
        other = node.spawn(deaf)
        assert node.process(pid).limits is limits
        assert node.process(other).limits is DEFAULT_LIMITS
        assert node.host("node:local").limits is DEFAULT_LIMITS


def test_the_defaults_leave_room_for_the_benchmarks():
    # bench_throughput queues up to its n = 200,000 messages in one consumer;
    # bench_spawn holds 20,000 live monitored children of one parent.
    assert DEFAULT_LIMITS.mailbox_messages >= 200_000
    assert DEFAULT_LIMITS.children >= 20_000
    assert all(getattr(DEFAULT_LIMITS, n) > 0 for n in Limits.settings())
    assert not math.isinf(DEFAULT_LIMITS.step_timeout)


# -- timers ------------------------------------------------------------------------------------

async def test_closing_an_after_channel_cancels_its_timer_at_once():
    async with Node() as node:

        async def body(ctx):
            chans = [ctx.after(3600) for _ in range(50)]
            assert len(ctx._timers) == 50
            for ch in chans:
                ch.close()
            for _ in range(10):
                await trio.sleep(0)
            left = len(ctx._timers)
            fired = ctx.after(0)
            return left, await fired.receive(timeout=BOUND) is not None, len(ctx._timers)

        with trio.fail_after(BOUND):
            assert await node.exec(body) == (0, True, 0)
