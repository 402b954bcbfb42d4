"""Fixtures for the durable layer. The session's one real Temporal dev server
(``temporal_server``) is defined in ``tests/conftest.py``, shared with ``tests/conformance``.

The server is started lazily by the first test that asks for it and always stopped at
the end of the session (``DevServer.stop`` is bounded: SIGTERM, wait, SIGKILL). It runs
with PDEATHSIG, so even a killed pytest leaves no server behind. Tests isolate from
each other with their own task queues and workflow IDs, never by restarting the server;
crash tests that must kill a server start their own.
"""

from __future__ import annotations

import sys
import uuid
from pathlib import Path

import pytest

# Helper modules beside the tests (durable_harness, durable_samples) are imported by
# name, also by Temporal's sandbox when it loads a workflow body by path; with
# --import-mode=importlib the test folder is not on sys.path by itself.
_HERE = str(Path(__file__).parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)


@pytest.fixture
def task_queue() -> str:
    """A task queue no other test uses."""
    return f"tq-{uuid.uuid4().hex[:12]}"
