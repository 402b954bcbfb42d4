"""The YAML kinds ``process.service`` and ``process.supervisor`` in real apps, with Python
and Lua processes, and their load-time errors (``supervision/_kinds.py``)."""

import textwrap
from pathlib import Path

import pytest
import trio
import yaml
from supervision_helpers import settle

from beamish import App, LoadError
from beamish.supervision import ServiceState, services, supervisor_at

S = ServiceState

PY_CODE = """
import trio

LOG = []

async def worker(ctx, name):
    LOG.append(("start", name))
    ev = await ctx.events().receive()
    LOG.append(("stop", name, ev.reason))

async def stubborn(ctx):
    await trio.sleep_forever()

async def crasher(ctx):
    LOG.append(("start", "crasher"))
    raise RuntimeError("crash")
"""

LUA_CODE = """
local funcs = require("funcs")
local errors = require("errors")

local function main(mode)
  if mode == "crash" then
    error("lua crash")
  elseif mode == "fatal" then
    return nil, errors.new({message = "cannot go on", kind = errors.INVALID, retryable = false})
  elseif mode == "done" then
    return "finished"
  elseif mode == "state" then
    local st, err = funcs.call("system.supervisor:state", "app:lua_wait")
    if err then return nil, err end
    return st.status
  end
  local ev = process.events():receive()
  return "stopped: " .. ev.reason
end

return {main = main}
"""


def write(tmp: Path, yaml: str, module: str = "") -> Path:
    (tmp / "app.yaml").write_text(textwrap.dedent(yaml))
    (tmp / f"code_{module}.py").write_text(PY_CODE)
    (tmp / "worker.lua").write_text(LUA_CODE)
    return tmp


def header(module: str) -> str:
    return f"""
    namespace: app
    entries:
      - name: processes
        kind: process.host
      - name: worker
        kind: process.py
        handler: code_{module}:worker
      - name: stubborn
        kind: process.py
        handler: code_{module}:stubborn
      - name: crasher
        kind: process.py
        handler: code_{module}:crasher
      - name: lua
        kind: process.lua
        source: file://worker.lua
        method: main
        modules: [funcs, errors]
    """


def log_of(module: str) -> list:
    import importlib

    return importlib.import_module(f"code_{module}").LOG


# ======================================================================================
# Apps
# ======================================================================================


async def test_app_starts_services_in_order_and_stops_them_in_reverse(tmp_path):
    mod = "order"
    write(
        tmp_path,
        header(mod)
        + """
      - name: db
        kind: process.service
        process: worker
        input: [db]
        lifecycle: {auto_start: true}
      - name: web
        kind: process.service
        process: app:worker
        host: processes
        input: [web]
        lifecycle: {auto_start: true, requires: [db]}
      - name: manual
        kind: process.service
        process: worker
        input: [manual]
    """,
        mod,
    )
    async with App(tmp_path) as app:
        mgr = services(app.node)
        await settle()
        assert [(s.id, s.state) for s in sorted(mgr, key=lambda s: s.id)] == [
            ("app:db", S.RUNNING),
            ("app:manual", S.UNKNOWN),
            ("app:web", S.RUNNING),
        ]
        assert mgr.get("app:web").pid.host == "app:processes"
        log = log_of(mod)
        assert log[:2] == [("start", "db"), ("start", "web")]
    assert app.clean
    assert log[2:] == [("stop", "web", "service stopping"), ("stop", "db", "service stopping")]


async def test_a_process_that_ignores_the_stop_makes_the_app_unclean(tmp_path):
    mod = "unclean"
    write(
        tmp_path,
        header(mod)
        + """
      - name: svc
        kind: process.service
        process: stubborn
        lifecycle: {auto_start: true, stop_timeout: 2s}
    """,
        mod,
    )
    async with App(tmp_path, shutdown_timeout=1) as app:
        await settle()
        t = trio.current_time()
    assert trio.current_time() - t == pytest.approx(2)
    assert app.clean is False
    assert app.node.terminated_at_shutdown == 0  # the service layer stopped it first


async def test_yaml_supervisor_nests_and_escalates(tmp_path):
    mod = "sup"
    write(
        tmp_path,
        header(mod)
        + """
      - name: inner
        kind: process.supervisor
        strategy: one_for_all
        intensity: 1
        period: 1m
        children:
          - {id: a, process: worker, args: [a]}
          - {id: b, process: worker, args: [b], restart: transient, shutdown: brutal_kill}
      - name: tree
        kind: process.supervisor
        strategy: rest_for_one
        intensity: 5
        period: 1m
        children:
          - {id: first, process: worker, input: [first], name: first_worker}
          - {id: inner, process: inner}
        lifecycle: {auto_start: true}
    """,
        mod,
    )
    async with App(tmp_path) as app:
        node = app.node
        await settle()
        svc = services(node).get("app:tree")
        tree = supervisor_at(node, svc.pid)
        infos = {i.id: i for i in tree.which_children()}
        assert infos["inner"].type.value == "supervisor"  # inferred from the entry kind
        assert infos["first"].pid == node.lookup("first_worker")
        inner = supervisor_at(node, infos["inner"].pid)
        a, b = (i.pid for i in inner.which_children())
        node.terminate(b)  # inner: one_for_all restarts a and b
        await settle()
        assert inner.restarts == 1 and tree.restarts == 0
        assert node.is_alive(inner.pid) and not node.is_alive(a)
        node.terminate(inner.which_children()[1].pid)  # 2nd restart in 1 min: inner gives up
        await settle()
        assert tree.restarts == 1  # tree restarted inner; rest_for_one: nothing after it
        new = {i.id: i for i in tree.which_children()}
        assert new["first"].pid == infos["first"].pid
        assert new["inner"].pid != infos["inner"].pid
        assert svc.state is S.RUNNING
    assert app.clean


async def test_lua_processes_under_services_and_supervisors(tmp_path):
    mod = "lua"
    write(
        tmp_path,
        header(mod)
        + """
      - name: lua_wait
        kind: process.service
        process: lua
        input: [wait]
        lifecycle: {auto_start: true}
      - name: lua_fatal
        kind: process.service
        process: lua
        input: [fatal]
        lifecycle: {auto_start: true}
      - name: lua_done
        kind: process.service
        process: lua
        input: [done]
        lifecycle: {auto_start: true}
      - name: lua_crash
        kind: process.service
        process: lua
        input: [crash]
        lifecycle: {auto_start: true, restart: {initial_delay: 1s, max_attempts: 3, jitter: 0}}
      - name: lua_sup
        kind: process.supervisor
        children:
          - {id: w, process: lua, args: [wait]}
        lifecycle: {auto_start: true, requires: [lua_wait]}
    """,
        mod,
    )
    async with App(tmp_path) as app:
        mgr = services(app.node)
        await trio.sleep(10)
        assert mgr.state("app:lua_wait") is S.RUNNING
        assert mgr.state("app:lua_done") is S.EXITED
        fatal = mgr.get("app:lua_fatal")
        assert fatal.state is S.EXITED and fatal.last_error.message == "cannot go on"
        crash = mgr.get("app:lua_crash")
        assert crash.state is S.FAILED and crash.runs == 3
        assert "lua crash" in crash.last_error.message
        sup = supervisor_at(app.node, mgr.get("app:lua_sup").pid)
        assert sup.which_children()[0].state.value == "running"
        # Lua reads service states through the system.supervisor functions
        assert await app.run_entry("app:lua", ["state"]) == "running"
    assert app.clean


# ======================================================================================
# Load-time errors name the entry and the file
# ======================================================================================

SVC = {"kind": "process.service", "process": "worker"}
SUP = {"kind": "process.supervisor"}
W = {"id": "a", "process": "worker"}

ERRORS = [
    ({"kind": "process.service"}, "missing 'process'"),
    ({**SVC, "process": "nope"}, "'process' 'app:nope' not found"),
    ({**SVC, "process": "processes"}, "'app:processes' is a process.host, not a process"),
    ({**SVC, "host": "worker"}, "'app:worker' is a process.py, not a process.host"),
    ({**SVC, "host": "node:control"}, "may not be node:control"),
    ({**SVC, "input": 3}, "'input' must be a list"),
    ({**SVC, "procces": "x"}, "unknown field 'procces'"),
    ({**SVC, "lifecycle": {"stop_timeout": "soon"}}, "'lifecycle.stop_timeout' must be a duration"),
    (
        {**SVC, "lifecycle": {"restart": {"max_attemps": 2}}},
        "unknown key 'lifecycle.restart.max_attemps'",
    ),
    ({**SVC, "lifecycle": {"requires": ["ghost"]}}, "lifecycle.requires 'app:ghost' not found"),
    ({**SVC, "lifecycle": {"requires": ["bad"]}}, "a service cannot require itself"),
    ({**SUP, "strategy": "one_for_some"}, r"invalid strategy .*\[invalid_strategy\]"),
    ({**SUP, "intensity": -2}, r"\[invalid_intensity\]"),
    ({**SUP, "period": 0}, r"\[invalid_period\]"),
    ({**SUP, "children": [{"process": "worker"}]}, r"children\[0\]: missing 'id'"),
    ({**SUP, "children": [{"id": "a"}]}, r"children\[0\]: missing 'process'"),
    (
        {**SUP, "children": [{**W, "restart": "never"}]},
        r"children\[0\]: .*\[invalid_restart_type\]",
    ),
    ({**SUP, "children": [W, W]}, r"\[duplicate_child_name\]"),
    ({**SUP, "children": [{**W, "shutdown": "later"}]}, r"\[invalid_shutdown\]"),
    ({**SUP, "children": [{**W, "colour": "red"}]}, "unknown field 'colour'"),
    ({**SUP, "children": [{**W, "process": "processes"}]}, "is a process.host, not a process"),
    ({**SUP, "children": "a"}, "'children' must be a list"),
    ({**SUP, "backoff": {"jitter": 3}}, "backoff: backoff 'jitter' must be"),
]


@pytest.mark.parametrize(("entry", "message"), ERRORS)
def test_load_errors_name_entry_and_file(tmp_path, entry, message):
    mod = "errs"
    text = (
        header(mod).rstrip()
        + "\n"
        + textwrap.indent(yaml.safe_dump([{"name": "bad", **entry}]), "      ")
    )
    write(tmp_path, text, mod)
    with pytest.raises(LoadError, match=rf"^entry 'app:bad' \(.*app\.yaml\): .*{message}"):
        App(tmp_path)


def test_a_dependency_cycle_is_a_load_error(tmp_path):
    mod = "cycle"
    write(
        tmp_path,
        header(mod)
        + """
      - name: a
        kind: process.service
        process: worker
        lifecycle: {requires: [b]}
      - name: b
        kind: process.supervisor
        lifecycle: {requires: [a]}
    """,
        mod,
    )
    with pytest.raises(LoadError, match=r"dependency cycle: app:a -> app:b -> app:a"):
        App(tmp_path)


def test_requires_may_name_entries_that_are_not_services(tmp_path):
    mod = "nonsvc"
    write(
        tmp_path,
        header(mod)
        + """
      - name: svc
        kind: process.service
        process: worker
        lifecycle: {requires: [processes]}
    """,
        mod,
    )
    App(tmp_path)  # loads


async def test_input_references_to_services_are_dependencies(tmp_path):
    mod = "autoref"
    write(
        tmp_path,
        header(mod)
        + """
      - name: z_db
        kind: process.service
        process: worker
        input: [db]
      - name: a_user
        kind: process.service
        process: worker
        input: [app:z_db]
        lifecycle: {auto_start: true}
    """,
        mod,
    )
    async with App(tmp_path) as app:
        mgr = services(app.node)
        assert mgr.get("app:a_user").lifecycle.requires == ("app:z_db",)
        assert mgr.state("app:z_db") is S.RUNNING
