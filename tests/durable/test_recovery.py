"""Crash recovery against a real dev server.

* A worker process is SIGKILLed during a durable timer, and between two activities
  (waiting for a signal after the first); a fresh worker process finishes each workflow
  and no completed activity runs again (runs are counted in a file, outside any worker).
* The Temporal server is SIGKILLed mid-run and restarted on the same database file;
  every workflow completes and none is lost (client, worker and exit watchers reconnect
  by themselves).
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import durable_samples
import pytest
import trio

from beamish.actors import Node, die_with_parent
from beamish.durable import ClientConfig, DevServer, TemporalClient, connect_client

pytestmark = pytest.mark.temporal

HERE = Path(__file__).parent


class _Worker:
    """A crash_worker.py process (dies with us: PDEATHSIG)."""

    def __init__(self, address: str, task_queue: str, steps: Path) -> None:
        preexec = die_with_parent()
        self.proc = subprocess.Popen(
            [sys.executable, str(HERE / "crash_worker.py"), address, task_queue, str(steps)],
            stdout=subprocess.PIPE,
            text=True,
            preexec_fn=preexec,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        assert line.strip() == "ready", f"worker did not start: {line!r}"

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()


def _lines(path: Path) -> list[str]:
    return path.read_text().split() if path.exists() else []


async def _wait_for_history(handle, attr: str, deadline_s: float = 30.0) -> None:
    """Bounded poll until the history holds an event with ``attr`` and no workflow task
    is outstanding (so the kill catches the workflow idle, not holding a task that would
    have to time out first)."""
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        events = list((await handle.fetch_history()).events)
        last = events[-1] if events else None
        busy = last is not None and (
            last.HasField("workflow_task_scheduled_event_attributes")
            or last.HasField("workflow_task_started_event_attributes")
        )
        if any(e.HasField(attr) for e in events) and not busy:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"history never got {attr} followed by a completed workflow task")


@pytest.mark.parametrize("entry", ["app:steps_with_timer", "app:lua_steps_with_timer"])
def test_worker_killed_during_a_timer_is_finished_by_a_new_worker(
    temporal_server, task_queue, tmp_path, entry
):
    steps = tmp_path / "steps"
    w1 = _Worker(temporal_server.address, task_queue, steps)
    w2 = None
    try:

        async def start():
            client = await connect_client(temporal_server.address)
            handle = await client.start_workflow(
                entry,
                args=["t", 2.0],
                id=f"crash-{uuid.uuid4()}",
                task_queue=task_queue,
            )
            await _wait_for_history(handle, "timer_started_event_attributes")
            return handle.id

        wf_id = asyncio.run(start())
        assert _lines(steps) == ["t:A"]
        w1.kill()
        w2 = _Worker(temporal_server.address, task_queue, steps)

        async def finish():
            client = await connect_client(temporal_server.address)
            return await asyncio.wait_for(client.get_workflow_handle(wf_id).result(), 60)

        assert asyncio.run(finish()) == "t:done"
        assert _lines(steps) == ["t:A", "t:B"]
    finally:
        w1.kill()
        if w2 is not None:
            w2.stop()


def test_worker_killed_between_two_activities_is_finished_by_a_new_worker(
    temporal_server, task_queue, tmp_path
):
    steps = tmp_path / "steps"
    w1 = _Worker(temporal_server.address, task_queue, steps)
    w2 = None
    try:

        async def start():
            client = await connect_client(temporal_server.address)
            handle = await client.start_workflow(
                "app:steps_with_signal",
                args=["s"],
                id=f"crash-{uuid.uuid4()}",
                task_queue=task_queue,
            )
            await _wait_for_history(handle, "activity_task_completed_event_attributes")
            return handle.id

        wf_id = asyncio.run(start())
        w1.kill()
        assert _lines(steps) == ["s:A"]
        w2 = _Worker(temporal_server.address, task_queue, steps)

        async def finish():
            client = await connect_client(temporal_server.address)
            handle = client.get_workflow_handle(wf_id)
            await handle.signal("go", "now")
            return await asyncio.wait_for(handle.result(), 60)

        assert asyncio.run(finish()) == "s:done"
        assert _lines(steps) == ["s:A", "s:B:now"]
    finally:
        w1.kill()
        if w2 is not None:
            w2.stop()


async def test_server_killed_and_restarted_on_the_same_db_loses_no_workflow(tmp_path):
    server = DevServer(db_filename=tmp_path / "t.db", startup_timeout=60)
    server.start()
    steps: list[str] = []
    try:
        async with Node() as node:
            node.functions.register("app:step", steps.append)
            tc = TemporalClient("app:temporal", ClientConfig(address=server.address))
            await tc.start(node)
            host = tc.add_worker(
                "app:worker", "restart-q", options={"sticky_schedule_to_start_timeout": "1s"}
            )
            host.register_workflow("app:steps_with_timer", durable_samples.steps_with_timer)
            await host.start_worker()
            try:
                pids = [
                    node.spawn("app:steps_with_timer", f"w{i}", 1.5, host="app:worker")
                    for i in range(5)
                ]
                with trio.fail_after(30):  # every workflow is in its timer
                    while sorted(steps) != sorted(f"w{i}:A" for i in range(5)):
                        await trio.sleep(0.02)
                await trio.sleep(0.2)
                server.kill()
                await trio.sleep(0.5)
                server.launch()  # fork on this long-lived thread (PDEATHSIG follows it)
                await trio.to_thread.run_sync(server.wait_ready)
                with trio.fail_after(90):
                    results = [await node.wait(p) for p in pids]
                assert results == [(f"w{i}:done", None) for i in range(5)]
                assert sorted(steps) == sorted(
                    [f"w{i}:A" for i in range(5)] + [f"w{i}:B" for i in range(5)]
                )
            finally:
                await tc.aclose()
    finally:
        server.stop()
