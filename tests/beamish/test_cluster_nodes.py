"""Nodes as separate OS processes (``beamish run --node --cluster``) on a real NATS server.

The test itself is one more node (``t``) of the same cluster. Covered here: every PID
operation against a node in another process, that node's death by SIGKILL, a NATS
server restart, name races between two other nodes, process groups across processes,
``beamish nodes``, and worker pools (a killed worker, no orphans after ``-x``).
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import psutil
import pytest
import trio

from beamish import App
from beamish.actors import NODE_DISCONNECTED, ClusterConfig, EventKind, NatsServer, Node

APP = Path(__file__).resolve().parents[1] / "cluster_app"
_ids = itertools.count()


@pytest.fixture
def nats(tmp_path):
    with NatsServer(tmp_path / "nats") as server:
        yield server


@pytest.fixture
def cluster_name():
    return f"c{next(_ids)}_{os.getpid()}"


def cfg(url: str, cluster: str) -> ClusterConfig:
    return ClusterConfig(url=url, cluster=cluster, heartbeat=0.1, node_timeout=1.0)


class NodeProcess:
    """``beamish run tests/cluster_app --node NAME`` in a child process."""

    def __init__(self, name: str, url: str, cluster: str, app: Path = APP) -> None:
        env = {**os.environ, "BEAMISH_LOG_LEVEL": "WARNING"}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "beamish._cli", "run", str(app), "--node", name,
             "--cluster", url, "--cluster-name", cluster],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
        self.name = name

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:  # pragma: no cover - reported below
                self.proc.kill()
                self.proc.wait()
        self.proc.stderr.close()


@pytest.fixture
def spawn_node(nats, cluster_name):
    started: list[NodeProcess] = []

    def start(name: str) -> NodeProcess:
        node = NodeProcess(name, nats.url, cluster_name)
        started.append(node)
        return node

    yield start
    for node in started:
        node.stop()


async def peers(node: Node, *names: str, timeout: float = 30) -> None:
    """Wait until ``names`` are peers of ``node`` with their app installed."""
    with trio.fail_after(timeout):
        while not all("app:processes" in getattr(node.cluster.peers.get(n), "hosts", ())
                      for n in names):
            await trio.sleep(0.02)


def run_with(nats, cluster_name, fn):
    async def main():
        async with Node(name="t", cluster=cfg(nats.url, cluster_name)) as t:
            return await fn(t)

    return trio.run(main)


def test_every_pid_operation_reaches_a_node_in_another_process(nats, cluster_name, spawn_node):
    b = spawn_node("b")

    async def t(node: Node):
        await peers(node, "b")
        assert "app:processes" in node.cluster.peers["b"].hosts

        async def client(ctx):
            echo = ctx.spawn_monitored("app:echo", host="b@app:processes")
            for i in range(200):
                ctx.send(echo, "n", i, {"i": [i]})
            got = [(await ctx.receive(timeout=10)).payload for _ in range(200)]
            assert got == [(i, {"i": [i]}) for i in range(200)]
            ctx.trap_links = True
            linked = ctx.spawn_linked("app:echo", host="b@app:processes")
            ctx.send(linked, "crash")
            down = await ctx.events().receive(timeout=10)
            victim = ctx.spawn_monitored("app:echo", host="b@app:processes")
            ctx.terminate(victim)
            term = await ctx.events().receive(timeout=10)
            ctx.cancel(echo, "bye")  # echo does not read events: it keeps running
            ctx.send(echo, "stop")
            done = await ctx.events().receive(timeout=10)
            where = await ctx.exec("app:echo", host="b@app:processes",
                                   messages=[("stop", ())])
            return down, term, done, where

        down, term, done, where = await node.exec(client)
        assert (down.kind, down.error.message) == (EventKind.LINK_DOWN, "crashed on request")
        assert term.error.message == "process terminated"
        assert (done.kind, done.value) == (EventKind.EXIT, "stopped")
        assert where == "stopped"

    run_with(nats, cluster_name, t)
    b.stop()
    assert b.proc.returncode == 0


def test_sigkill_of_a_node_tells_its_watchers_node_disconnected(nats, cluster_name, spawn_node):
    b = spawn_node("b")

    async def t(node: Node):
        await peers(node, "b")

        async def watcher(ctx):
            ctx.trap_links = True
            ctx.spawn_monitored("app:echo", host="b@app:processes")
            ctx.spawn_linked("app:member", "g", "held-by-b", host="b@app:processes")
            with trio.fail_after(10):
                while node.names.lookup("held-by-b") is None:
                    await trio.sleep(0.02)
            assert node.groups.scope("app:pg").get_members("g")
            os.kill(b.proc.pid, signal.SIGKILL)
            t0 = trio.current_time()
            evs = [await ctx.events().receive(timeout=10) for _ in range(2)]
            return trio.current_time() - t0, sorted((e.kind.value, e.error.message)
                                                    for e in evs)

        took, evs = await node.exec(watcher)
        assert evs == [("pid.exit", NODE_DISCONNECTED), ("pid.link.down", NODE_DISCONNECTED)]
        assert took < 10
        assert "b" not in node.cluster.peers
        assert node.names.lookup("held-by-b") is None
        assert node.groups.scope("app:pg").get_members("g") == []

    run_with(nats, cluster_name, t)


def test_a_nats_restart_is_survived(nats, cluster_name, spawn_node):
    spawn_node("b")

    async def t(node: Node):
        await peers(node, "b")
        await trio.to_thread.run_sync(nats.stop)
        await trio.sleep(0.3)
        await trio.to_thread.run_sync(nats.start)
        # both nodes reconnect by themselves and find each other again
        with trio.fail_after(30):
            while True:
                await peers(node, "b")
                try:
                    return await _ping(node)
                except Exception:
                    await trio.sleep(0.2)

    async def _ping(node):
        async def client(ctx):
            echo = ctx.spawn("app:echo", host="b@app:processes")
            ctx.send(echo, "ping", 1)
            msg = await ctx.receive(timeout=2)
            ctx.send(echo, "stop")
            return msg.payload

        return await node.exec(client)

    assert run_with(nats, cluster_name, t) == (1,)


@pytest.mark.parametrize("claimer", ["app:claim", "app:lclaim"])
def test_name_races_between_two_other_nodes_have_one_winner(
    nats, cluster_name, spawn_node, claimer
):
    spawn_node("b")
    spawn_node("c")

    async def t(node: Node):
        await peers(node, "b", "c")

        results = []

        async def run_one(where):
            async def body(ctx):
                pid = ctx.spawn_monitored(claimer, "the-one", host=f"{where}@app:processes")
                with trio.move_on_after(3):
                    ev = await ctx.events().receive()
                    return ev.value
                ctx.send(pid, "release")
                return "won"

            results.append(await node.exec(body))

        async with trio.open_nursery() as n:
            n.start_soon(run_one, "b")
            n.start_soon(run_one, "c")
        assert sorted(results) == ["AlreadyExists", "won"]

    run_with(nats, cluster_name, t)


def test_process_groups_across_processes(nats, cluster_name, spawn_node):
    spawn_node("b")
    spawn_node("c")

    async def t(node: Node):
        await peers(node, "b", "c")

        async def body(ctx):
            pg = ctx.pg("app:pg")
            pg.monitor("room")
            for where in ("b", "c"):
                ctx.spawn("app:member", "room", f"m-{where}", host=f"{where}@app:processes")
            joined = [(await ctx.receive(timeout=10)).payload[0] for _ in range(2)]
            assert {e["kind"] for e in joined} == {"member.joined"}
            members = pg.get_members("room")
            assert {p.node for p in members} == {"b", "c"}
            assert pg.get_local_members("room") == []
            assert pg.broadcast("room", "hi", 1) == 2
            replies = {(await ctx.receive(timeout=10)).sender for _ in range(2)}
            return set(members) == replies

        assert await node.exec(body)

    run_with(nats, cluster_name, t)


def test_beamish_nodes_lists_the_cluster(nats, cluster_name, spawn_node):
    spawn_node("b")

    async def t(node: Node):
        await peers(node, "b")
        out = await trio.run_process(
            [sys.executable, "-m", "beamish._cli", "nodes", "--cluster", nats.url,
             "--cluster-name", cluster_name], capture_stdout=True)
        return json.loads(out.stdout)

    nodes = run_with(nats, cluster_name, t)
    assert set(nodes) == {"b", "t"}
    assert "app:processes" in nodes["b"]["hosts"]


@pytest.fixture
def pool_app(tmp_path):
    app = tmp_path / "pool_app"
    shutil.copytree(APP, app)
    text = (app / "app.yaml").read_text()
    (app / "app.yaml").write_text(text.replace(
        "  - name: processes\n    kind: process.host\n",
        "  - name: processes\n    kind: process.host\n    host:\n      workers: 32\n"))
    return app


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="a pool needs 2 cores")
def test_a_pool_worker_killed_is_reported_and_restarted(pool_app):
    async def main():
        async with App(pool_app, shutdown_timeout=5) as app:
            pool = app.pool
            assert pool is not None and len(pool.names) == min(32, len(os.sched_getaffinity(0)))
            node = app.node

            async def body(ctx):
                pids = [ctx.spawn_monitored("app:echo", host="app:processes")
                        for _ in range(4)]
                assert {p.node for p in pids} == set(pool.names)  # spread over the pool
                victim = pids[0].node
                old = node.cluster.peers[victim].incarnation
                os.kill(pool.pid_of(victim), signal.SIGKILL)
                evs = []
                while len(evs) < 2:
                    ev = await ctx.events().receive(timeout=15)
                    if ev.sender.node == victim:
                        evs.append(ev.error.message)
                with trio.fail_after(30):
                    while (victim not in node.cluster.peers
                           or node.cluster.peers[victim].incarnation == old):
                        await trio.sleep(0.05)
                again = await ctx.exec("app:echo", host=f"{victim}@app:processes",
                                       messages=[("stop", ())])
                return evs, again

            evs, again = await node.exec(body)
            assert evs == [NODE_DISCONNECTED, NODE_DISCONNECTED]
            assert again == "stopped"

    trio.run(main)


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="a pool needs 2 cores")
def test_a_pool_app_run_with_x_leaves_no_process_behind(pool_app):
    tag = uuid.uuid4().hex
    out = subprocess.run(
        [sys.executable, "-m", "beamish._cli", "run", str(pool_app), "-x", "app:where"],
        capture_output=True, text=True, timeout=120, env={**os.environ, "BEAMISH_TAG": tag})
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["node"] == "main"
    left = []
    for p in psutil.process_iter(["pid"]):
        try:
            if p.environ().get("BEAMISH_TAG") == tag:
                left.append(p)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    assert left == []


def test_workers_1_or_the_env_cap_keep_one_process(pool_app, monkeypatch):
    monkeypatch.setenv("BEAMISH_WORKERS", "1")

    async def main():
        async with App(pool_app) as app:
            assert app.pool is None and app.node.cluster is None
            return await app.run_entry("app:where")

    assert trio.run(main)["node"] == ""


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="a pool needs 2 cores")
def test_a_service_on_a_pool_is_restarted_on_a_worker_and_workers_stay_up(pool_app):
    (pool_app / "svc.yaml").write_text(
        "namespace: svc\n"
        "entries:\n"
        "  - name: member\n"
        "    kind: process.service\n"
        "    process: app:member\n"
        "    host: app:processes\n"
        "    input: [g, the-service]\n"
        "    lifecycle: {auto_start: true}\n")

    async def main():
        async with App(pool_app, shutdown_timeout=5) as app:
            node, pool = app.node, app.pool

            async def holder() -> object:
                with trio.fail_after(20):
                    while node.names.lookup("the-service") is None:
                        await trio.sleep(0.02)
                return node.names.lookup("the-service")

            first = await holder()
            assert first.node in pool.names
            node.send(first, "crash")
            with trio.fail_after(20):
                while node.names.lookup("the-service") in (None, first):
                    await trio.sleep(0.02)
            second = node.names.lookup("the-service")
            assert second.node in pool.names and second != first
            # a worker outlives the thread-pool thread that could have forked it
            # (trio's idle threads exit after 10 s, and PDEATHSIG follows the thread)
            await trio.sleep(11)
            assert all(not r for r in pool.restarts.values())
            assert set(pool.names) <= set(node.cluster.peers)

    trio.run(main)


def test_a_worker_node_says_workflow_hosts_run_on_the_main_node(pool_app):
    (pool_app / "wf.yaml").write_text(
        "namespace: wf\n"
        "entries:\n"
        "  - {name: temporal, kind: temporal.client}\n"
        "  - {name: worker, kind: temporal.worker, client: wf:temporal, task_queue: q}\n")

    async def main():
        async with App(pool_app, node="main-w9", cluster="embedded", worker_of="main") as app:
            assert "wf:temporal" not in app.node.hosts  # no Temporal on a worker
            with pytest.raises(Exception) as e:
                app.node.spawn("app:echo", host="wf:worker")
            return e.value

    error = trio.run(main)
    assert error.kind.name == "UNAVAILABLE"
    assert "runs on the pool's main node 'main'" in error.message
