"""The saga and approval examples (examples/saga, examples/approval) run as a user runs
them: YAML + Lua, an embedded Temporal dev server, durable Lua workflows."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from beamish._app import App

pytestmark = pytest.mark.temporal

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _copy(name: str, tmp_path: Path) -> Path:
    # a copy, so the example's .beamish/temporal.db lands in tmp, not in the repo
    return Path(shutil.copytree(EXAMPLES / name, tmp_path / name))


async def test_saga_completes_or_compensates_in_reverse(tmp_path):
    async with App(_copy("saga", tmp_path)) as app:
        order = {"id": "o-1", "item": "book", "qty": 2, "amount": 40, "address": "1 Main St"}
        assert await app.run_entry("saga:order", [order]) == {
            "status": "completed",
            "reservation": "res-book-2",
            "payment": "pay-o-1",
            "shipment": "ship-o-1",
        }
        failed = await app.run_entry("saga:order", [{**order, "id": "o-2", "address": ""}])
        assert failed == {
            "status": "failed",
            "step": "ship_order",
            "error": "no shipping address",
            "kind": "Invalid",
            "compensated": ["saga:refund_payment", "saga:release_inventory"],
        }
        over = await app.run_entry("saga:order", [{**order, "id": "o-3", "amount": 5000}])
        assert over["step"] == "charge_payment"
        assert over["compensated"] == ["saga:release_inventory"]


async def test_approval_waits_for_a_signal_or_expires(tmp_path):
    async with App(_copy("approval", tmp_path)) as app:
        assert await app.run_entry("approval:demo", ["approve"]) == {
            "status": "approved",
            "by": "alice",
            "document": "budget-2025.xlsx",
        }
        rejected = await app.run_entry("approval:demo", ["reject"])
        assert (rejected["status"], rejected["reason"]) == ("rejected", "over budget")
        assert (await app.run_entry("approval:demo", ["none"]))["status"] == "expired"


def test_approval_runs_from_the_command_line(tmp_path):
    d = _copy("approval", tmp_path)
    out = subprocess.run(
        [sys.executable, "-m", "beamish._cli", "run", str(d), "-x", "approval:demo", '"approve"'],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["status"] == "approved"
    assert (d / ".beamish" / "temporal.db").exists()
