"""The embedded dev server: start, readiness, restart on the same port, bounded stop,
clear errors for a missing binary, a busy port and an unusable or shared database."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
from pathlib import Path

import pytest

from beamish.actors import Error, ErrorKind
from beamish.durable._client import connect_client
from beamish.durable._server import DevServer, ServerState, find_temporal_binary

pytestmark = pytest.mark.temporal


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie still answers kill(0): look at its state
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


def test_find_temporal_binary_returns_an_executable() -> None:
    path = find_temporal_binary()
    assert path.name == "temporal"
    assert os.access(path, os.X_OK)


def test_server_accepts_clients_and_persists_to_the_db(temporal_server: DevServer) -> None:
    assert temporal_server.running
    assert temporal_server.db_filename is not None and temporal_server.db_filename.exists()

    async def main() -> None:
        client = await connect_client(temporal_server.address)
        count = await client.count_workflows()
        assert count.count >= 0

    asyncio.run(main())


def test_start_stop_is_idempotent_and_leaves_no_process(tmp_path: Path) -> None:
    server = DevServer(db_filename=tmp_path / "a" / "t.db", startup_timeout=60)
    assert server.state is ServerState.NEW
    server.stop()  # stop before start is a no-op
    assert server.state is ServerState.NEW
    server.start()
    pid = server.pid
    assert pid is not None and _alive(pid)
    server.start()  # already running: no second process
    assert server.pid == pid
    server.stop()
    server.stop()
    assert server.state is ServerState.STOPPED
    assert not _alive(pid)


def test_restart_after_sigkill_reuses_port_and_keeps_workflow_history(tmp_path: Path) -> None:
    server = DevServer(db_filename=tmp_path / "t.db", startup_timeout=60)
    server.start()
    try:
        port = server.port

        async def count() -> int:
            # beamish's connect: it waits out a frontend that is "not healthy yet"
            client = await connect_client(server.address)
            return (await client.count_workflows()).count

        asyncio.run(count())
        assert server.pid is not None
        os.kill(server.pid, signal.SIGKILL)
        server.stop()  # reaps the dead child
        assert server.state is ServerState.STOPPED
        server.start()
        assert server.port == port
        assert asyncio.run(count()) >= 0
    finally:
        server.stop()


def test_missing_binary_is_a_not_found_error(tmp_path: Path) -> None:
    server = DevServer(db_filename=tmp_path / "t.db", binary=tmp_path / "nope" / "temporal")
    with pytest.raises(Error, match=r"does not exist or is not executable") as info:
        server.start()
    assert info.value.kind is ErrorKind.NOT_FOUND
    assert server.state is ServerState.NEW


def test_busy_port_is_an_already_exists_error(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        server = DevServer(db_filename=tmp_path / "t.db", port=port)
        with pytest.raises(Error, match=rf"port {port} on 127.0.0.1 is already in use") as info:
            server.start()
        assert info.value.kind is ErrorKind.ALREADY_EXISTS
        # the db lock was released: another server may use the file
        assert server._lock_fd is None


def test_db_path_that_is_a_directory_is_invalid(tmp_path: Path) -> None:
    (tmp_path / "db").mkdir()
    server = DevServer(db_filename=tmp_path / "db")
    with pytest.raises(Error, match=r"exists and is not a file") as info:
        server.start()
    assert info.value.kind is ErrorKind.INVALID


def test_db_folder_that_cannot_be_created_is_invalid(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    server = DevServer(db_filename=tmp_path / "file" / "sub" / "t.db")
    with pytest.raises(Error, match=r"cannot create the folder") as info:
        server.start()
    assert info.value.kind is ErrorKind.INVALID


def test_two_servers_cannot_share_one_db(temporal_server: DevServer) -> None:
    other = DevServer(db_filename=temporal_server.db_filename)
    with pytest.raises(Error, match=r"already used by another embedded server") as info:
        other.start()
    assert info.value.kind is ErrorKind.ALREADY_EXISTS
    assert temporal_server.running


def test_corrupt_db_reports_the_server_log(tmp_path: Path) -> None:
    db = tmp_path / "t.db"
    db.write_bytes(b"this is not a sqlite database" * 100)
    server = DevServer(db_filename=db, startup_timeout=60)
    with pytest.raises(Error, match=r"exited with code") as info:
        server.start()
    assert info.value.kind is ErrorKind.UNAVAILABLE
    assert server.state is ServerState.STOPPED


def test_server_dies_with_its_parent_even_on_sigkill(tmp_path: Path) -> None:
    import subprocess
    import sys
    import time

    script = (
        "import sys\n"
        "from beamish.durable._server import DevServer\n"
        f"s = DevServer(db_filename={str(tmp_path / 't.db')!r}, startup_timeout=60)\n"
        "s.start()\n"
        "print(s.pid, flush=True)\n"
        "sys.stdin.read()\n"
    )
    parent = subprocess.Popen(
        [sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    try:
        assert parent.stdout is not None
        server_pid = int(parent.stdout.readline())
        assert _alive(server_pid)
        parent.kill()
        parent.wait()
        for _ in range(500):  # bounded poll, not a timing assertion
            if not _alive(server_pid):
                break
            time.sleep(0.01)
        assert not _alive(server_pid)
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
