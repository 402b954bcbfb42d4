"""The embedded Temporal server is supervised: killed, it comes back on the same database
and port and running workflows finish; killed too often (or unable to start), the app
fails loudly and ``beamish run`` exits non-zero; nothing outlives the app.

Every test starts its own server (never the session's ``temporal_server``): they kill it.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest
import trio
import yaml

from beamish._app import App
from beamish.actors import Error, ErrorKind
from beamish.durable._server import DevServer, ServerState
from beamish.durable._supervisor import ServerSupervisor, describe_exit

pytestmark = pytest.mark.temporal

WORKFLOWS_PY = """
async def order(ctx, item):
    price = await ctx.call("app:price", item)
    await ctx.sleep(2.0)
    again = await ctx.call("app:price", item + item)
    return {"item": item, "price": price, "double": again}


def price(item):
    return len(item) * 10


async def slow(ctx, marker):
    await ctx.call("app:mark", marker)
    await ctx.sleep(600.0)
    return "finished"


def mark(path):
    open(path, "w").close()
    return path
"""


def _app(tmp_path: Path, task_queue: str) -> Path:
    (tmp_path / "wf_supervised.py").write_text(WORKFLOWS_PY)
    on_worker = {"temporal": {"workflow": {"worker": "worker"}}}
    entries = [
        {"name": "temporal", "kind": "temporal.client"},  # embedded
        {
            "name": "worker",
            "kind": "temporal.worker",
            "client": "temporal",
            "task_queue": task_queue,
            "worker_options": {"sticky_schedule_to_start_timeout": "1s"},
        },
        {"name": "price", "kind": "function.py", "handler": "wf_supervised:price"},
        {"name": "mark", "kind": "function.py", "handler": "wf_supervised:mark"},
        {"name": "slow", "kind": "workflow.py", "handler": "wf_supervised:slow", "meta": on_worker},
        {
            "name": "order",
            "kind": "workflow.py",
            "handler": "wf_supervised:order",
            "meta": on_worker,
        },
    ]
    (tmp_path / "app.yaml").write_text(yaml.safe_dump({"namespace": "app", "entries": entries}))
    return tmp_path


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _servers_on(db: Path) -> list[psutil.Process]:
    """Live temporal processes whose command line names ``db``."""
    found = []
    for p in psutil.process_iter(["cmdline"]):
        with_db = str(db) in (p.info["cmdline"] or [])
        if with_db and _alive(p.pid):
            found.append(p)
    return found


def _listening(p: psutil.Process) -> bool:
    try:
        return any(c.status == psutil.CONN_LISTEN for c in p.net_connections(kind="tcp"))
    except psutil.Error:
        return False


async def _wait_new_pid(server: DevServer, old: int) -> int:
    with trio.fail_after(60):  # a hang guard, not a timing assertion
        while True:
            pid = server.pid
            if server.running and pid is not None and pid != old:
                return pid
            await trio.sleep(0.05)


def test_describe_exit_names_signals_and_codes() -> None:
    assert describe_exit(-signal.SIGKILL) == "signal SIGKILL"
    assert describe_exit(3) == "code 3"
    assert describe_exit(-200) == "signal 200"


def test_bad_intensity_is_invalid(tmp_path: Path) -> None:
    with pytest.raises(Error) as info:
        ServerSupervisor(DevServer(db_filename=tmp_path / "t.db"), intensity=-1)
    assert info.value.kind is ErrorKind.INVALID


def test_closed_server_cannot_be_launched_again(tmp_path: Path) -> None:
    server = DevServer(db_filename=tmp_path / "t.db", startup_timeout=60)
    server.start()
    pid = server.pid
    server.close()
    assert pid is not None and not _alive(pid)
    with pytest.raises(Error, match="was closed") as info:
        server.launch()
    assert info.value.kind is ErrorKind.INVALID
    assert server.state is ServerState.STOPPED


async def test_killed_server_restarts_on_the_same_db_and_workflows_finish(
    tmp_path: Path, task_queue: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="beamish.durable")
    d = _app(tmp_path, task_queue)
    items = ["a", "bb", "ccc", "dddd"]
    results: dict[str, object] = {}
    async with App(d) as app:
        client = app.node.host("app:worker").client
        server = client.server
        assert server is not None and server.db_filename is not None
        port, db, old = server.port, server.db_filename, server.pid
        assert old is not None

        async def run(item: str) -> None:
            results[item] = await app.run_entry("app:order", [item])

        async with trio.open_nursery() as nursery:
            for item in items:
                nursery.start_soon(run, item)
            await trio.sleep(0.5)  # the workflows are in their durable timers
            os.kill(old, signal.SIGKILL)
            new = await _wait_new_pid(server, old)
        assert not _alive(old)
        assert server.port == port and server.db_filename == db
        assert client.statistics()["server_restarts"] == 1
        assert app.failure is None
    assert results == {
        i: {"item": i, "price": len(i) * 10, "double": 2 * len(i) * 10} for i in items
    }
    assert app.clean
    messages = [r.getMessage() for r in caplog.records if r.name == "beamish.durable"]
    assert any(
        f"embedded Temporal server (pid {old}) exited with signal SIGKILL; restarting it on "
        f"the same database {db}" in m
        for m in messages
    ), messages
    assert any(f"embedded Temporal server is back (pid {new}" in m for m in messages), messages
    assert not _alive(new)
    assert _servers_on(db) == []


async def test_a_server_that_cannot_come_back_fails_the_app(
    tmp_path: Path, task_queue: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="beamish.durable")
    d = _app(tmp_path, task_queue)
    failed = trio.Event()
    async with App(d) as app:
        app.on_failure(lambda _e: failed.set())
        server = app.node.host("app:worker").client.server
        assert server is not None and server.pid is not None
        db = server.db_filename
        assert db is not None
        server._binary = tmp_path / "gone" / "temporal"  # every restart attempt fails
        os.kill(server.pid, signal.SIGKILL)
        with trio.fail_after(60):  # a hang guard, not a timing assertion
            await failed.wait()
        assert isinstance(app.failure, Error)
        assert app.failure.kind is ErrorKind.UNAVAILABLE
        assert "could not be kept running: 5 restart attempts within 60 s" in str(app.failure)
        assert "does not exist or is not executable" in str(app.failure)
        assert not server.running
    assert not app.clean
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert any("could not be kept running" in r.getMessage() for r in errors)
    assert _servers_on(db) == []


def _run_and_keep_killing(
    d: Path, argv: list[str], ready: Callable[[list[str]], bool]
) -> tuple[int, str, str, int]:
    """Run ``beamish run`` with ``argv``; once ``ready(stderr lines)``, SIGKILL every
    embedded server of ``d`` as soon as it listens. Returns (exit code, stdout, stderr,
    servers killed)."""
    db = d / ".beamish" / "temporal.db"
    beamish = Path(sys.executable).parent / "beamish"
    proc = subprocess.Popen(
        [str(beamish), "run", str(d), *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "BEAMISH_LOG_LEVEL": "INFO"},
    )
    lines: list[str] = []
    assert proc.stderr is not None
    reader = threading.Thread(target=lambda: lines.extend(proc.stderr), daemon=True)
    reader.start()
    try:
        killed: set[int] = set()
        deadline = time.monotonic() + 120  # a hang guard, not a timing assertion
        while not ready(lines) and time.monotonic() < deadline:
            assert proc.poll() is None, "".join(lines)
            time.sleep(0.05)
        while proc.poll() is None and time.monotonic() < deadline:
            for p in _servers_on(db):
                if p.pid not in killed and _listening(p):  # kill only a server that is up
                    killed.add(p.pid)
                    p.kill()
            time.sleep(0.05)
        out = proc.stdout.read() if proc.stdout is not None else ""
        proc.wait(timeout=60)
        reader.join(60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert _servers_on(db) == []  # no orphan server
    return proc.returncode, out, "".join(lines), len(killed)


def test_beamish_run_exits_non_zero_when_the_server_keeps_dying(
    tmp_path: Path, task_queue: str
) -> None:
    d = _app(tmp_path, task_queue)
    code, out, err, killed = _run_and_keep_killing(
        d, [], lambda lines: any("running" in line for line in lines)
    )
    assert code == 1, err
    assert killed == 6, err  # the first start plus five restarts
    assert "restarting it on the same database" in err, err
    assert "ERROR" in err and "could not be kept running" in err
    assert "beamish: stopped (failed:" in err
    assert out == ""


def test_beamish_run_x_fails_instead_of_waiting_forever(tmp_path: Path, task_queue: str) -> None:
    d = _app(tmp_path, task_queue)
    marker = tmp_path / "started"
    code, out, err, killed = _run_and_keep_killing(
        d, ["-x", "app:slow", str(marker)], lambda _lines: marker.exists()
    )
    assert code == 1, err
    assert killed == 6, err
    assert "entry 'app:slow' did not finish: " in err and "could not be kept running" in err
    assert out == ""
