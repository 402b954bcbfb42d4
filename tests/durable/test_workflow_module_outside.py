"""``workflow.execute`` / ``workflow.exec`` from Lua functions and processes: an app
from YAML on the real Temporal dev server starts a workflow entry by its ID (the worker
comes from the entry's meta) and gets its result, or ``nil, err`` with the kind kept for
a failed workflow, NOT_FOUND for an unknown entry, INVALID for an entry that is not a
workflow; cancelling the caller ends its wait."""

from __future__ import annotations

from pathlib import Path

import pytest
import trio
import yaml

from beamish._app import App
from beamish.actors import Error, ErrorKind
from beamish.durable._wfmodule import bind_app

pytestmark = pytest.mark.temporal

WF_DOUBLE = """
function main(x)
  return {doubled = x * 2}
end
return {main = main}
"""

WF_BROKEN = """
function main(why)
  error(errors.new{kind = errors.CONFLICT, message = "stock gone: " .. why,
                   retryable = false})
end
return {main = main}
"""

WF_WAIT = """
local time = require("time")
function main()
  time.sleep("1h")
  return "woke"
end
return {main = main}
"""

# The function reports what it got back, so the test sees the Lua side of the contract.
CALLER = """
local workflow = require("workflow")
function main(how, id, ...)
  local call = how == "exec" and workflow.exec or workflow.execute
  local r, err = call(id, ...)
  if err then
    return {failed = true, kind = err:kind(), retryable = err:retryable(),
            message = err:message()}
  end
  return {value = r}
end
return {main = main}
"""

PROCESS = """
local workflow = require("workflow")
function main(id, x)
  local r, err = workflow.exec(id, x)
  if err then return {failed = true, kind = err:kind(), message = err:message()} end
  return {value = r}
end
return {main = main}
"""

# Inside a workflow the same names start a child workflow.
WF_PARENT = """
local workflow = require("workflow")
function main(x)
  local a = workflow.execute("app:wf_double", x)
  local b = workflow.exec("app:wf_double", a.doubled)
  return b.doubled
end
return {main = main}
"""

PLAIN = """
function main() return 1 end
return {main = main}
"""


def _app(tmp_path: Path, address: str, task_queue: str) -> Path:
    files = {
        "wf_double.lua": WF_DOUBLE,
        "wf_broken.lua": WF_BROKEN,
        "wf_wait.lua": WF_WAIT,
        "caller.lua": CALLER,
        "runner.lua": PROCESS,
        "plain.lua": PLAIN,
        "wf_parent.lua": WF_PARENT,
    }
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    on_worker = {"temporal": {"workflow": {"worker": "worker"}}}

    def wf(name: str) -> dict:
        return {
            "name": name,
            "kind": "workflow.lua",
            "source": f"file://{name}.lua",
            "modules": ["time"],
            "meta": on_worker,
        }

    entries = [
        {"name": "temporal", "kind": "temporal.client", "address": address},
        {
            "name": "worker",
            "kind": "temporal.worker",
            "client": "temporal",
            "task_queue": task_queue,
            "worker_options": {"sticky_schedule_to_start_timeout": "1s"},
        },
        {"name": "host", "kind": "process.host"},
        wf("wf_double"),
        wf("wf_broken"),
        wf("wf_wait"),
        {**wf("wf_parent"), "modules": ["workflow"]},
        {
            "name": "caller",
            "kind": "function.lua",
            "source": "file://caller.lua",
            "method": "main",
            "modules": ["workflow"],
        },
        {
            "name": "runner",
            "kind": "process.lua",
            "source": "file://runner.lua",
            "method": "main",
            "modules": ["workflow"],
        },
        {"name": "plain", "kind": "function.lua", "source": "file://plain.lua", "method": "main"},
    ]
    (tmp_path / "_index.yaml").write_text(
        yaml.safe_dump({"version": "1.0", "namespace": "app", "entries": entries})
    )
    return tmp_path


@pytest.fixture
def app_dir(tmp_path, temporal_server, task_queue):
    return _app(tmp_path, temporal_server.address, task_queue)


async def test_a_function_executes_a_workflow_and_gets_its_result(app_dir):
    async with App(app_dir) as app:
        assert app.unavailable == {}
        got = await app.node.call("app:caller", "execute", "app:wf_double", 21)
        assert got == {"value": {"doubled": 42}}
        got = await app.node.call("app:caller", "exec", "app:wf_double", 5)
        assert got == {"value": {"doubled": 10}}


async def test_inside_a_workflow_execute_and_exec_start_children(app_dir):
    async with App(app_dir) as app:
        got = await app.node.call("app:caller", "execute", "app:wf_parent", 3)
        assert got == {"value": 12}


async def test_a_process_execs_a_workflow(app_dir):
    async with App(app_dir) as app:
        got = await app.node.exec("app:runner", "app:wf_double", 4, host="app:host")
        assert got == {"value": {"doubled": 8}}


async def test_a_failed_workflow_comes_back_as_nil_err_with_its_kind(app_dir):
    async with App(app_dir) as app:
        got = await app.node.call("app:caller", "exec", "app:wf_broken", "book")
        assert got["failed"] is True
        assert got["kind"] == ErrorKind.CONFLICT.value
        assert got["retryable"] is False
        assert "stock gone: book" in got["message"]


async def test_unknown_entry_is_not_found_naming_it(app_dir):
    async with App(app_dir) as app:
        got = await app.node.call("app:caller", "execute", "app:no_such_flow")
        assert got["kind"] == ErrorKind.NOT_FOUND.value
        assert "app:no_such_flow" in got["message"]
        got = await app.node.exec("app:runner", "app:missing", 1, host="app:host")
        assert got["kind"] == ErrorKind.NOT_FOUND.value and "app:missing" in got["message"]


async def test_an_entry_that_is_not_a_workflow_is_invalid(app_dir):
    async with App(app_dir) as app:
        for target in ("app:plain", "app:runner"):
            got = await app.node.call("app:caller", "exec", target)
            assert got["kind"] == ErrorKind.INVALID.value, got
            assert target in got["message"] and "not a workflow" in got["message"]


async def test_a_malformed_id_is_invalid(app_dir):
    async with App(app_dir) as app:
        got = await app.node.call("app:caller", "exec", "no-namespace")
        assert got["kind"] == ErrorKind.INVALID.value and "namespace:name" in got["message"]


async def test_no_worker_gives_the_same_error_as_process_exec(app_dir):
    """The worker of the entry is not on the node: the kernel's host error, as for
    ``process.exec(id, worker)``."""
    async with App(app_dir) as app:
        with pytest.raises(Error) as via_process:
            await app.node.exec("app:wf_double", 1, host="app:elsewhere")
        assert via_process.value.kind is ErrorKind.NOT_FOUND
        # Rebind: every workflow entry now names a worker that is not on the node.
        bind_app(app, lambda entry: "app:elsewhere")
        got = await app.node.call("app:caller", "exec", "app:wf_double", 1)
        assert got["kind"] == ErrorKind.NOT_FOUND.value
        assert got["message"] == via_process.value.message


async def test_cancelling_the_calling_function_ends_its_wait(app_dir):
    async with App(app_dir) as app:
        host = app.node.host("app:worker")
        before = host.started
        finished = []

        async def call(scope_box):
            with trio.CancelScope() as scope:
                scope_box.append(scope)
                await app.node.call("app:caller", "exec", "app:wf_wait")
                finished.append("returned")  # pragma: no cover - must not happen
            finished.append("cancelled")

        box: list[trio.CancelScope] = []
        async with trio.open_nursery() as nursery:
            nursery.start_soon(call, box)
            while host.started == before:  # the workflow's start is queued
                await trio.sleep(0.01)
            box[0].cancel()
        assert finished == ["cancelled"]
        # The node still serves workflow calls afterwards.
        got = await app.node.call("app:caller", "exec", "app:wf_double", 3)
        assert got == {"value": {"doubled": 6}}


async def test_cancelling_the_calling_process_ends_it(app_dir):
    async with App(app_dir) as app:
        host = app.node.host("app:worker")
        before = host.started
        pid = app.node.spawn("app:runner", "app:wf_wait", None, host="app:host")
        while host.started == before:
            await trio.sleep(0.01)
        app.node.terminate(pid)
        value, error = await app.node.wait(pid)
        assert value is None and error is not None
