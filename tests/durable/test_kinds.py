"""The durable entry kinds from YAML: temporal.client (given address and embedded),
temporal.worker, workflow.py; load-time errors name the entry and what to fix."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from beamish._app import App
from beamish.actors import LoadError

pytestmark = pytest.mark.temporal

WORKFLOWS_PY = """
async def order(ctx, item):
    price = await ctx.call("app:price", item)
    await ctx.sleep(0.05)
    return {"item": item, "price": price}


def price(item):
    return len(item) * 10
"""


def _app(tmp_path: Path, client: dict, task_queue: str) -> Path:
    (tmp_path / "wf_order.py").write_text(WORKFLOWS_PY)
    on_worker = {"temporal": {"workflow": {"worker": "worker"}}}
    entries = [
        {"name": "temporal", "kind": "temporal.client", **client},
        {
            "name": "worker",
            "kind": "temporal.worker",
            "client": "temporal",
            "task_queue": task_queue,
            "worker_options": {"sticky_schedule_to_start_timeout": "1s"},
        },
        {
            "name": "price",
            "kind": "function.py",
            "handler": "wf_order:price",
            "meta": {"temporal": {"activity": {"worker": "worker"}}},
        },
        {"name": "order", "kind": "workflow.py", "handler": "wf_order:order", "meta": on_worker},
    ]
    (tmp_path / "app.yaml").write_text(yaml.safe_dump({"namespace": "app", "entries": entries}))
    return tmp_path


async def test_yaml_app_runs_a_python_workflow_on_a_given_server(
    tmp_path, temporal_server, task_queue
):
    d = _app(tmp_path, {"address": temporal_server.address}, task_queue)
    async with App(d) as app:
        assert await app.run_entry("app:order", ["book"]) == {"item": "book", "price": 40}
        pid = app.node.spawn("app:order", "pen", host="app:worker")
        assert (pid.node, pid.host) == ("app:temporal", "app:worker")
        assert await app.node.wait(pid) == ({"item": "pen", "price": 30}, None)


async def test_embedded_client_starts_and_stops_its_own_server(tmp_path, task_queue):
    d = _app(tmp_path, {}, task_queue)
    async with App(d) as app:
        assert await app.run_entry("app:order", ["ab"]) == {"item": "ab", "price": 20}
        host = app.node.host("app:worker")
        server = host.client.server
        assert server is not None and server.running
        assert (d / ".beamish" / "temporal.db").exists()
    assert not server.running


def test_worker_without_task_queue_is_a_load_error(tmp_path):
    (tmp_path / "app.yaml").write_text(
        "namespace: app\nentries:\n"
        "  - {name: temporal, kind: temporal.client}\n"
        "  - {name: worker, kind: temporal.worker, client: temporal}\n"
    )
    with pytest.raises(LoadError, match=r"entry 'app:worker'.*missing 'task_queue'"):
        App(tmp_path)


def test_workflow_without_worker_is_a_load_error(tmp_path):
    (tmp_path / "wf_order.py").write_text(WORKFLOWS_PY)
    (tmp_path / "app.yaml").write_text(
        "namespace: app\nentries:\n"
        "  - {name: order, kind: workflow.py, handler: 'wf_order:order'}\n"
    )
    with pytest.raises(LoadError, match=r"missing meta.temporal.workflow.worker"):
        App(tmp_path)


def test_unknown_worker_option_is_a_load_error(tmp_path):
    (tmp_path / "app.yaml").write_text(
        "namespace: app\nentries:\n"
        "  - {name: temporal, kind: temporal.client}\n"
        "  - name: worker\n    kind: temporal.worker\n    client: temporal\n"
        "    task_queue: q\n    worker_options: {max_speed: 3}\n"
    )
    with pytest.raises(LoadError, match=r"unknown worker_options max_speed"):
        App(tmp_path)


def test_bad_client_address_is_a_load_error(tmp_path):
    (tmp_path / "app.yaml").write_text(
        "namespace: app\nentries:\n  - {name: temporal, kind: temporal.client, address: nohost}\n"
    )
    with pytest.raises(LoadError, match=r"must be host:port"):
        App(tmp_path)
