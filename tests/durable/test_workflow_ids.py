"""Workflow IDs against a real server: a name (or an explicit ID) means one workflow,
once; conflict and reuse policies decide what a second spawn of that ID does, and a
refused start is reported to the caller that waits for the start's outcome (the Lua
``process.spawn`` does), with a message saying what the existing workflow is doing and
which policy refused."""

from __future__ import annotations

import contextlib
import inspect
import json
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import psutil
import pytest
import trio
import yaml

from beamish._app import App
from beamish.actors import Error, ErrorKind, EventKind, Node, Pid, pending_start
from beamish.durable._client import ClientConfig, TemporalClient
from beamish.durable._host import WorkerHost

pytestmark = pytest.mark.temporal

CLIENT = "app:temporal"
WORKER = "app:worker"


async def counted(ctx: Any, tag: Any) -> Any:
    await ctx.call("app:record", tag)
    return {"tag": tag}


async def waiter(ctx: Any) -> Any:
    got = []
    while True:
        msg = await ctx.receive()
        if msg.topic == "finish":
            return got
        got.append(msg.data)


@contextlib.asynccontextmanager
async def running(server: Any, task_queue: str) -> AsyncIterator[tuple[Node, WorkerHost, list]]:
    runs: list[Any] = []
    async with Node() as node:
        node.functions.register("app:record", lambda tag: runs.append(tag) or len(runs))
        tc = TemporalClient(CLIENT, ClientConfig(address=server.address))
        await tc.start(node)
        host = tc.add_worker(WORKER, task_queue)
        host.register_workflow("app:counted", counted)
        host.register_workflow("app:waiter", waiter)
        await host.start_worker()
        try:
            yield node, host, runs
        finally:
            await tc.aclose()


async def confirmed(pid: Pid) -> Pid:
    """What a yielding caller does right after spawn: wait for the start's outcome."""
    when = pending_start(pid)
    assert when is not None, "a workflow spawn is confirmed later"
    outcome: list[Error | None] = []
    known = trio.Event()
    when(lambda error: (outcome.append(error), known.set()))
    await known.wait()
    if outcome[0] is not None:
        raise outcome[0]
    return pid


async def refusal(pid: Pid) -> Error:
    with pytest.raises(Error) as info:
        await confirmed(pid)
    assert info.value.kind is ErrorKind.ALREADY_EXISTS and not info.value.retryable
    return info.value


async def test_a_name_means_once_a_finished_workflow_is_not_run_again(temporal_server, task_queue):
    async with running(temporal_server, task_queue) as (node, _, runs):
        name = f"once-{task_queue}"
        p1 = await confirmed(node.spawn("app:counted", 1, host=WORKER, name=name))
        assert await node.wait(p1) == ({"tag": 1}, None)
        # the same name again: the finished workflow is the one asked for
        p2 = await confirmed(node.spawn("app:counted", 2, host=WORKER, name=name))
        assert p2 == p1 == Pid(WORKER, name, CLIENT)
        assert await node.wait(p2) == ({"tag": 1}, None)  # its remembered result
        assert await node.exec("app:counted", 3, host=WORKER, name=name) == {"tag": 1}
        assert runs == [1]


async def test_allow_duplicate_runs_a_finished_workflow_again(temporal_server, task_queue):
    async with running(temporal_server, task_queue) as (node, _, runs):
        wf_id = f"again-{task_queue}"
        opts = {"temporal.workflow.id": wf_id}
        assert await node.exec("app:counted", 1, host=WORKER, options=opts) == {"tag": 1}
        again = {**opts, "temporal.workflow.id_reuse_policy": "allow_duplicate"}
        assert await node.exec("app:counted", 2, host=WORKER, options=again) == {"tag": 2}
        assert runs == [1, 2]


async def test_fail_policy_on_a_running_workflow_refuses_and_leaves_it_running(
    temporal_server, task_queue
):
    async with running(temporal_server, task_queue) as (node, _, _runs):
        wf_id = f"busy-{task_queue}"

        async def parent(ctx: Any) -> Any:
            first = await confirmed(
                ctx.spawn_monitored("app:waiter", host=WORKER, options={"workflow.id": wf_id})
            )
            second = ctx.spawn(
                "app:waiter",
                host=WORKER,
                options={"workflow.id": wf_id, "workflow.id_conflict_policy": "fail"},
                messages=[("m", ("lost",))],
            )
            err = await refusal(second)
            ctx.send(first, "m", "kept")
            ctx.send(first, "finish")
            ev = await ctx.events().receive()  # the real end, no EXIT for the refusal
            return first, err, ev

        first, err, ev = await node.exec(parent)
        assert "is already running (id conflict policy FAIL)" in err.message
        assert str(first) in err.message
        assert err.details["status"] == "running"
        assert (ev.kind, ev.sender, ev.value, ev.error) == (EventKind.EXIT, first, ["kept"], None)


async def test_error_when_already_started_refuses_a_named_start(temporal_server, task_queue):
    async with running(temporal_server, task_queue) as (node, _, _runs):
        name = f"strict-{task_queue}"
        first = await confirmed(node.spawn("app:waiter", host=WORKER, name=name))
        strict = {"temporal.workflow.execution_error_when_already_started": True}
        err = await refusal(node.spawn("app:waiter", host=WORKER, name=name, options=strict))
        assert "already running" in err.message and "FAIL" in err.message
        # without the flag the same name reaches the running workflow, messages too
        again = await confirmed(
            node.spawn("app:waiter", host=WORKER, name=name, messages=[("m", ("hi",))])
        )
        assert again == first
        node.send(first, "finish")
        assert await node.wait(first) == (["hi"], None)


async def test_fail_policy_on_a_finished_workflow_names_the_reuse_policy(
    temporal_server, task_queue
):
    async with running(temporal_server, task_queue) as (node, _, runs):
        wf_id = f"done-{task_queue}"
        opts = {"workflow.id": wf_id}
        assert await node.exec("app:counted", 1, host=WORKER, options=opts) == {"tag": 1}
        fail = {**opts, "workflow.id_conflict_policy": "fail"}
        err = await refusal(node.spawn("app:counted", 2, host=WORKER, options=fail))
        assert "has already finished (completed)" in err.message
        assert "id reuse policy REJECT_DUPLICATE" in err.message
        assert "id_reuse_policy = allow_duplicate" in err.message
        assert err.details["status"] == "completed"
        # start-up messages cannot reach a finished workflow: refused too
        err = await refusal(
            node.spawn("app:counted", 3, host=WORKER, options=opts, messages=[("m", (1,))])
        )
        assert "start-up messages cannot be delivered" in err.message
        assert runs == [1]


async def test_an_unclaimed_refusal_is_an_exit_to_that_spawns_monitor_only(
    temporal_server, task_queue
):
    async with running(temporal_server, task_queue) as (node, _, _runs):
        wf_id = f"exit-{task_queue}"
        opts = {"workflow.id": wf_id}
        first = await confirmed(node.spawn("app:waiter", host=WORKER, options=opts))
        other_events: list[Any] = []

        async def watcher(ctx: Any) -> Any:
            ctx.monitor(first)
            ev = await ctx.events().receive()
            other_events.append(ev)
            return ev

        async def parent(ctx: Any) -> Any:
            ctx.spawn_monitored(
                "app:waiter",
                host=WORKER,
                options={**opts, "workflow.execution_error_when_already_started": True},
            )
            return await ctx.events().receive()

        async with trio.open_nursery() as nursery:
            nursery.start_soon(node.exec, watcher)
            ev = await node.exec(parent)
            assert ev.kind is EventKind.EXIT and ev.sender == first
            assert ev.error is not None and ev.error.kind is ErrorKind.ALREADY_EXISTS
            assert other_events == []  # the running workflow's watchers heard nothing
            node.send(first, "finish")
        assert [(e.kind, e.value) for e in other_events] == [(EventKind.EXIT, [])]


# -- a whole app, run twice on one embedded server database ------------------------------

ONCE_PY = """
async def job(ctx, path, i):
    await ctx.call("app:record", path, i)
    return {"job": i}


def record(path, i):
    with open(path, "a") as f:
        f.write(f"{i}\\n")
    return i
"""

MAIN_LUA = """
local function main(n, path, reuse)
  local events = process.events()
  local jobs = {}
  local options = {}
  if reuse ~= "default" then options["temporal.workflow.id_reuse_policy"] = reuse end
  for i = 1, n do
    local pid, err = process.with_options(options):with_name("job-" .. i)
      :spawn_monitored("app:job", "app:worker", path, i)
    if pid == nil then error(err) end
    jobs[pid] = i
  end
  local results, left = {}, n
  while left > 0 do
    local ev = events:receive()
    local i = jobs[ev.from]
    if i and ev.kind == process.event.EXIT then
      if ev.result.error then error(ev.result.error) end
      results[i] = ev.result.value
      left = left - 1
    end
  end
  return results
end
return { main = main }
"""


def _once_app(d: Path, task_queue: str) -> Path:
    d.mkdir()
    (d / "wf_once.py").write_text(ONCE_PY)
    (d / "main.lua").write_text(MAIN_LUA)
    on_worker = {"temporal": {"workflow": {"worker": "worker"}}}
    entries = [
        {"name": "temporal", "kind": "temporal.client"},  # embedded, DB in d/.beamish
        {
            "name": "worker",
            "kind": "temporal.worker",
            "client": "temporal",
            "task_queue": task_queue,
            "worker_options": {"sticky_schedule_to_start_timeout": "1s"},
        },
        {"name": "host", "kind": "process.host"},
        {"name": "record", "kind": "function.py", "handler": "wf_once:record"},
        {"name": "job", "kind": "workflow.py", "handler": "wf_once:job", "meta": on_worker},
        {"name": "main", "kind": "process.lua", "source": "file://main.lua", "method": "main"},
    ]
    (d / "app.yaml").write_text(yaml.safe_dump({"namespace": "app", "entries": entries}))
    return d


def _servers_on(db: Path) -> list[psutil.Process]:
    """Live temporal servers whose command line names ``db``."""
    out = []
    for p in psutil.process_iter(["cmdline"]):
        try:
            if str(db) in (p.info["cmdline"] or []) and p.status() != psutil.STATUS_ZOMBIE:
                out.append(p)
        except psutil.NoSuchProcess:
            pass
    return out


@pytest.mark.parametrize(("reuse", "times"), [("default", 1), ("allow_duplicate", 2)])
def test_a_restarted_app_does_not_run_its_named_workflows_again(tmp_path, task_queue, reuse, times):
    """``beamish run -x`` twice on the same embedded database: with the default a named
    workflow that finished is not run again; re-running is an explicit option."""
    d = _once_app(tmp_path / "app", task_queue)
    runs = tmp_path / "runs.txt"
    n = 6
    beamish = Path(sys.executable).parent / "beamish"
    outputs = []
    for _ in range(2):
        proc = subprocess.run(
            [str(beamish), "run", str(d), "-x", "app:main", str(n), str(runs), reuse],
            capture_output=True,
            text=True,
            timeout=180,  # a hang guard, not a timing assertion
        )
        assert proc.returncode == 0, proc.stderr
        outputs.append(proc.stdout)
        assert _servers_on(d / ".beamish" / "temporal.db") == []  # no orphan server
    expected = [{"job": i} for i in range(1, n + 1)]
    # stdout is the entry's result only, the same both times: the second run got the
    # remembered results of the finished workflows...
    assert [json.loads(out) for out in outputs] == [expected, expected]
    # ...and no workflow ran twice (unless re-running was asked for)
    ran = sorted(int(line) for line in runs.read_text().split())
    assert ran == sorted(list(range(1, n + 1)) * times)


WAITER_PY = inspect.getsource(waiter).replace("ctx: Any", "ctx").replace(" -> Any", "")


# -- the Lua process.spawn: a refused start is nil, err ----------------------------------

SPAWNER_LUA = """
local function spawn(id, policy, tag)
  local options = {["temporal.workflow.id"] = id}
  if policy then options["temporal.workflow.id_conflict_policy"] = policy end
  local pid, err = process.with_options(options):spawn("app:waiter", "app:worker")
  return {pid = pid, err = err and tostring(err), kind = err and err:kind(), tag = tag}
end

local function main(id, beside)
  if beside then  -- a sibling task parked on the inbox: the spawn waits alone
    coroutine.spawn(function() process.inbox():receive() end)
  end
  local first = spawn(id, nil, "first")
  local refused = spawn(id, "fail", "refused")
  local again = spawn(id, "use_existing", "again")
  process.send(first.pid, "finish")
  return {first, refused, again}
end
return { main = main }
"""


@pytest.mark.parametrize("beside", [False, True])
async def test_lua_spawn_returns_nil_err_when_the_start_is_refused(
    tmp_path, temporal_server, task_queue, beside
):
    (tmp_path / "wf_once.py").write_text(ONCE_PY + "\n\n" + WAITER_PY)
    (tmp_path / "spawner.lua").write_text(SPAWNER_LUA)
    on_worker = {"temporal": {"workflow": {"worker": "worker"}}}
    entries = [
        {"name": "temporal", "kind": "temporal.client", "address": temporal_server.address},
        {
            "name": "worker",
            "kind": "temporal.worker",
            "client": "temporal",
            "task_queue": task_queue,
        },
        {"name": "host", "kind": "process.host"},
        {"name": "waiter", "kind": "workflow.py", "handler": "wf_once:waiter", "meta": on_worker},
        {
            "name": "spawner",
            "kind": "process.lua",
            "source": "file://spawner.lua",
            "method": "main",
        },
    ]
    (tmp_path / "app.yaml").write_text(yaml.safe_dump({"namespace": "app", "entries": entries}))
    wf_id = f"lua-{task_queue}"
    async with App(tmp_path) as app:
        first, refused, again = await app.node.exec("app:spawner", wf_id, beside, host="app:host")
        pid = f"{{app:temporal@app:worker|{wf_id}}}"
        assert (first["pid"], first.get("err")) == (pid, None)
        assert refused.get("pid") is None and refused["kind"] == "AlreadyExists"
        assert "is already running (id conflict policy FAIL)" in refused["err"]
        assert (again["pid"], again.get("err")) == (pid, None)
        assert await app.node.wait(Pid.parse(pid)) == ([], None)
