"""Replay: histories of beamish workflows replay cleanly with temporalio's Replayer in a
fresh process (activities, timers, uuid, clock, signals, a child); a changed body — an
activity renamed, a timer added — is reported as nondeterminism."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import durable_samples
import pytest
from durable_harness import harness

from beamish.durable._lua import lua_workflow_body

pytestmark = pytest.mark.temporal

HERE = Path(__file__).parent

ENTRIES = {
    "app:replay_subject": durable_samples.replay_subject,
    "app:replay_child": durable_samples.replay_child,
    "app:lua_replay_subject": lua_workflow_body(
        "app:lua_replay_subject",
        durable_samples.LUA_REPLAY_SUBJECT,
        modules=("funcs", "time", "uuid", "workflow"),
    ),
}


def _replay(variant: str, files: list[Path]) -> list[dict]:
    out = subprocess.run(
        [sys.executable, str(HERE / "replay_check.py"), variant, *map(str, files)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def histories(temporal_server, tmp_path_factory) -> dict[str, list[Path]]:
    import trio

    folder = tmp_path_factory.mktemp("histories")
    files: dict[str, list[Path]] = {"python": [], "lua": []}

    async def record(h, kind: str, entry_id: str) -> None:
        handle = await h.start(entry_id, 5)
        await h.on_loop(handle.signal, "go", "signal-data")
        result = await h.result(handle)
        assert result["a"] == 10 and result["child"] == 20 and result["msg"] == "signal-data"
        history = await h.on_loop(handle.fetch_history)
        path = folder / f"{kind}-subject.json"
        path.write_text(history.to_json())
        files[kind].append(path)
        # the child's history too (its id is recorded in the parent's history)
        for e in history.events:
            if e.HasField("child_workflow_execution_started_event_attributes"):
                attrs = e.child_workflow_execution_started_event_attributes
                cid = attrs.workflow_execution.workflow_id
                ch = await h.on_loop(h.client.get_workflow_handle(cid).fetch_history)
                p = folder / f"{kind}-child.json"
                p.write_text(ch.to_json())
                files[kind].append(p)

    async def main():
        async with harness(
            temporal_server, "replay-q", ENTRIES, functions={"app:double": lambda x: x * 2}
        ) as h:
            await record(h, "python", "app:replay_subject")
            await record(h, "lua", "app:lua_replay_subject")

    trio.run(main)
    return files


def test_histories_replay_cleanly_in_a_fresh_process(histories):
    results = _replay("original", histories["python"] + histories["lua"])
    assert len(results) == 4
    assert all(r["ok"] for r in results), results


@pytest.mark.parametrize("kind", ["python", "lua"])
@pytest.mark.parametrize("variant", ["renamed_activity", "added_timer"])
def test_a_changed_workflow_is_reported_as_nondeterminism(histories, kind, variant):
    (result,) = _replay(variant, histories[kind][:1])
    assert not result["ok"]
    assert "Nondeterminism" in result["error"]
