"""The documented differences between the backends, each one stated and checked.

``Context`` documents where a workflow cannot do what a kernel process does, and says
so with a capability flag (``can_link``, ``can_monitor``, ``has_names``,
``can_hibernate``, ``durable``). Each case runs under both backends and checks the flag
and the behaviour *together*: where the flag is True the operation works (observably:
the LINK_DOWN, the EXIT, the name, the wake-up, the recorded history), where it is
False the operation raises ``Error(INVALID)`` naming why. ``EXPECTED`` pins which
backend has which flag, so a silent change of either shows up here.
"""

from __future__ import annotations

import pytest
import trio
from temporalio.service import RPCError

from beamish.actors import Error, ErrorKind, EventKind, Pid, Process, Timeout
from beamish.durable import WorkflowContext

LUA_PRELUDE = 'local time = require("time")\n'
LUA_EPILOGUE = "\nreturn {main = main}\n"

#: The capability flags each backend must report.
EXPECTED = {
    "kernel": {
        "durable": False,
        "can_link": True,
        "can_monitor": True,
        "has_names": True,
        "can_hibernate": True,
    },
    "workflow": {
        "durable": True,
        "can_link": False,
        "can_monitor": False,
        "has_names": False,
        "can_hibernate": False,
    },
}
#: The Context class of each backend (Lua scripts cannot read flags: the class can).
CLASSES = {"kernel": Process, "workflow": WorkflowContext}
INVALID = ErrorKind.INVALID.value
#: How long a body waits for an event that must *not* come.
QUIET = 0.2


def present(result):
    """The keys of ``result`` that hold a value (a Lua table cannot hold nil)."""
    return {k: v for k, v in result.items() if v is not None}


def _kind(op):
    try:
        op()
    except Error as e:
        return e.kind.value
    return "ok"


# -- peers -----------------------------------------------------------------------------------


async def fails_when_told(ctx):
    await ctx.receive()
    raise Error("peer failed", kind=ErrorKind.CONFLICT, retryable=False)


async def quick_child(ctx):
    return "done"


# -- link / unlink ---------------------------------------------------------------------------


async def links(ctx, peer, other):
    """Link+unlink ``other`` and fail it (no LINK_DOWN), then link ``peer`` and fail it."""
    flag = ctx.can_link
    ctx.trap_links = True
    try:
        ctx.link(other)
        ctx.unlink(other)
    except Error as e:
        return {
            "flag": flag,
            "link": e.kind.value,
            "unlink": _kind(lambda: ctx.unlink(peer)),
            "says_workflow": "workflow" in e.message,
        }
    ctx.send(other, "fail")
    ctx.link(peer)
    ctx.send(peer, "fail")
    ev = await ctx.events().receive()
    try:
        extra = await ctx.events().receive(timeout=QUIET)
        stray = str(extra.sender)
    except Timeout:
        stray = None
    return {
        "flag": flag,
        "link": ev.kind.value if ev.sender == Pid.parse(peer) else f"from {ev.sender}",
        "unlink": "ok" if stray is None else f"LINK_DOWN from {stray}",
        "says_workflow": False,
    }


LUA_LINKS = """
function main(peer, other)
  process.set_options{trap_links = true}
  local ok, e = process.link(other)
  if not ok then
    local _, ue = process.unlink(peer)
    return {flag = false, link = e:kind(), unlink = ue and ue:kind() or "ok",
            says_workflow = string.find(e:message(), "workflow") ~= nil}
  end
  process.unlink(other)
  process.send(other, "fail")
  process.link(peer)
  process.send(peer, "fail")
  local events = process.events()
  local ev = events:receive()
  local r = channel.select{events:case_receive(), time.after("200ms"):case_receive()}
  return {flag = true, link = ev.from == peer and ev.kind or ("from " .. ev.from),
          unlink = r.channel == events and ("LINK_DOWN from " .. r.value.from) or "ok",
          says_workflow = false}
end"""


@pytest.mark.parametrize("lang", ["python", "lua"])
def test_link_works_exactly_where_can_link(rt, backend, lang):
    peer, other = rt.peer(fails_when_told), rt.peer(fails_when_told)
    got = rt.exec(backend, f"{lang}:links", str(peer), str(other))
    if lang == "python":
        assert got["flag"] is EXPECTED[backend]["can_link"]
    assert CLASSES[backend].can_link is EXPECTED[backend]["can_link"]
    if EXPECTED[backend]["can_link"]:
        assert got == {
            "flag": True,
            "link": EventKind.LINK_DOWN.value,
            "unlink": "ok",
            "says_workflow": False,
        }
    else:
        assert got == {"flag": False, "link": INVALID, "unlink": INVALID, "says_workflow": True}


# -- monitor ---------------------------------------------------------------------------------


async def monitors(ctx, peer, other):
    """Monitor+unmonitor ``other`` and fail it (no EXIT), monitor ``peer`` and fail it,
    then spawn a child without monitor: only a backend that cannot monitor reports it."""
    flag = ctx.can_monitor
    events = ctx.events()
    try:
        ctx.monitor(other)
        ctx.unmonitor(other)
        ctx.monitor(peer)
        monitor = "ok"
    except Error as e:
        monitor = e.kind.value
    if monitor == "ok":
        ctx.send(other, "fail")
        ctx.send(peer, "fail")
        ev = await events.receive()
        monitor = ev.kind.value if ev.sender == Pid.parse(peer) else f"from {ev.sender}"
    child = ctx.spawn("python:quick_child")
    try:
        # a child workflow takes a while to run; a kernel EXIT would come at once
        ev = await events.receive(timeout=QUIET if flag else 20.0)
        plain = ev.kind.value if ev.sender == child else f"from {ev.sender}"
        value = ev.value
    except Timeout:
        plain, value = "none", None
    return {"flag": flag, "monitor": monitor, "plain_child": plain, "value": value}


LUA_MONITORS = """
function main(peer, other)
  local events = process.events()
  local ok, e = process.monitor(other)
  local monitor
  if ok then
    process.unmonitor(other)
    process.monitor(peer)
    process.send(other, "fail")
    process.send(peer, "fail")
    local ev = events:receive()
    monitor = ev.from == peer and ev.kind or ("from " .. ev.from)
  else
    monitor = e:kind()
  end
  local child = process.spawn("lua:quick_child", nil)
  local r = channel.select{events:case_receive(),
                           time.after(ok and "200ms" or "20s"):case_receive()}
  local plain, value = "none", nil
  if r.channel == events then
    plain = r.value.from == child and r.value.kind or ("from " .. r.value.from)
    value = r.value.result.value
  end
  return {flag = ok == true, monitor = monitor, plain_child = plain, value = value}
end"""


@pytest.mark.parametrize("lang", ["python", "lua"])
def test_monitor_works_exactly_where_can_monitor_and_children_report_anyway(rt, backend, lang):
    peer, other = rt.peer(fails_when_told), rt.peer(fails_when_told)
    got = rt.exec(backend, f"{lang}:monitors", str(peer), str(other))
    flag = EXPECTED[backend]["can_monitor"]
    assert CLASSES[backend].can_monitor is flag
    assert got["flag"] is flag
    if flag:
        assert present(got) == {
            "flag": True,
            "monitor": EventKind.EXIT.value,
            "plain_child": "none",
        }
    else:  # "not needed: every child's EXIT arrives on events() anyway"
        assert got == {
            "flag": False,
            "monitor": INVALID,
            "plain_child": EventKind.EXIT.value,
            "value": "done",
        }


# -- names -----------------------------------------------------------------------------------


async def names(ctx, name):
    out = {"flag": ctx.has_names}
    out["register"] = _kind(lambda: ctx.register(name))
    try:
        out["lookup"] = "self" if ctx.lookup(name) == ctx.pid else "other"
    except Error as e:
        out["lookup"] = e.kind.value
    try:
        ctx.send(name, "by-name", 1)
        out["send"] = (await ctx.receive(timeout=5)).topic
    except Error as e:
        out["send"] = e.kind.value
    try:
        out["unregister"] = ctx.unregister(name)
    except Error as e:
        out["unregister"] = e.kind.value
    return out


LUA_NAMES = """
local function res(ok, v, e)
  if not ok then return type(v) == "string" and ("raised:" .. v) or v:kind() end
  if e ~= nil then return e:kind() end
  return v
end
function main(name)
  local out = {}
  local reg = res(pcall(process.registry.register, name))
  out.register = reg == true and "ok" or reg
  local found = res(pcall(process.registry.lookup, name))
  out.lookup = found == process.pid() and "self" or found
  local sent = res(pcall(process.send, name, "by-name", 1))
  if sent == true then
    local r = channel.select{process.inbox():case_receive(), time.after("5s"):case_receive()}
    out.send = r.channel == process.inbox() and r.value:topic() or "lost"
  else
    out.send = sent
  end
  out.unregister = res(pcall(process.registry.unregister, name))
  return out
end"""


@pytest.mark.parametrize("lang", ["python", "lua"])
def test_names_work_exactly_where_has_names(rt, backend, lang, request):
    name = f"conformance-{request.node.callspec.id}"
    got = rt.exec(backend, f"{lang}:names", name)
    flag = EXPECTED[backend]["has_names"]
    assert CLASSES[backend].has_names is flag
    if lang == "python":
        assert got.pop("flag") is flag
    if flag:
        assert got == {"register": "ok", "lookup": "self", "send": "by-name", "unregister": True}
    else:
        assert got == {
            "register": INVALID,
            "lookup": INVALID,
            "send": ErrorKind.NOT_FOUND.value,  # as an unknown name is for a process
            "unregister": INVALID,
        }


# -- hibernate -------------------------------------------------------------------------------


async def woke(ctx, flag):
    msg = await ctx.receive()
    return {"flag": flag, "outcome": f"woke:{msg.data}"}


async def hibernates(ctx):
    flag = ctx.can_hibernate
    try:
        return ctx.hibernate(woke, flag)
    except Error as e:
        return {"flag": flag, "outcome": e.kind.value, "says_workflow": "workflow" in e.message}


async def _hibernating(node, pid):
    """Wait until kernel process ``pid`` holds no task (it hibernates); True then."""
    while not node.process(pid).statistics()["hibernating"]:
        await trio.sleep(0.005)
    return True


def test_hibernate_works_exactly_where_can_hibernate(rt, backend):
    pid = rt.spawn(backend, "python:hibernates")
    if EXPECTED[backend]["can_hibernate"]:
        assert rt.run(_hibernating, pid, timeout=10)  # idle with no task until woken
    rt.send(pid, "wake", "hello")
    value, error = rt.wait(pid)
    flag = EXPECTED[backend]["can_hibernate"]
    assert error is None and value["flag"] is flag
    assert CLASSES[backend].can_hibernate is flag
    if flag:
        assert value == {"flag": True, "outcome": "woke:hello"}
    else:
        assert value == {"flag": False, "outcome": INVALID, "says_workflow": True}


# -- durable ---------------------------------------------------------------------------------


async def durable_probe(ctx):
    flag = ctx.durable
    await ctx.sleep(0.01)
    return {"flag": flag, "pid": str(ctx.pid)}


def test_durable_flag_says_whether_the_run_is_recorded_in_temporal(rt, backend):
    got = rt.exec(backend, "python:durable_probe")
    flag = EXPECTED[backend]["durable"]
    assert got["flag"] is flag and CLASSES[backend].durable is flag
    if rt.client is None:
        pytest.skip("no Temporal dev server to look for a history in")
    wf_id = Pid.parse(got["pid"]).id
    if flag:
        history = rt.history(wf_id)
        kinds = [e.WhichOneof("attributes") for e in history.events]
        assert "timer_started_event_attributes" in kinds  # the sleep was recorded
        assert kinds[-1] == "workflow_execution_completed_event_attributes"
    else:
        with pytest.raises(RPCError, match="not found"):
            rt.history(wf_id)


# -- version / workflow_info -----------------------------------------------------------------


async def workflow_facts(ctx):
    out = {"flag": ctx.durable}
    try:
        out["version"] = ctx.version("conformance-change", 1, 3)
    except Error as e:
        out["version"] = [e.kind.value, "workflow" in e.message]
    try:
        info = ctx.workflow_info()
        out["info"] = {
            "id_is_pid": info["workflow_id"] == ctx.pid.id,
            "type": info["workflow_type"],
            "task_queue": info["task_queue"],
            "attempt": info["attempt"],
            "history": info["history_length"] > 0 and info["history_size"] > 0,
            "run_id": bool(info["run_id"]),
            "namespace": info["namespace"],
        }
    except Error as e:
        out["info"] = [e.kind.value, "workflow" in e.message]
    return out


def test_version_and_workflow_info_work_exactly_where_durable(rt, backend):
    got = rt.exec(backend, "python:workflow_facts")
    flag = EXPECTED[backend]["durable"]
    assert got["flag"] is flag
    if flag:
        assert got == {
            "flag": True,
            "version": 3,  # a new run gets max_version
            "info": {
                "id_is_pid": True,
                "type": "python:workflow_facts",
                "task_queue": rt.task_queue,
                "attempt": 1,
                "history": True,
                "run_id": True,
                "namespace": "default",
            },
        }
    else:  # INVALID, and the message names "workflow"
        assert got == {"flag": False, "version": [INVALID, True], "info": [INVALID, True]}


# -- parent ----------------------------------------------------------------------------------


async def parent_of(ctx):
    return None if ctx.parent is None else str(ctx.parent)


async def spawns_on(ctx, host):
    """A kernel process that spawns ``python:parent_of`` on ``host``."""
    pid = ctx.spawn("python:parent_of", host=host, monitor=True)
    ev = await ctx.events().receive()
    assert ev.sender == pid, ev
    return {"me": str(ctx.pid), "childs_parent": ev.value}


def test_a_body_spawned_by_a_kernel_process_knows_it_as_parent_only_in_the_kernel(rt, backend):
    # WorkflowContext ("Identity"): parent is the parent *workflow*; a workflow started
    # by an ordinary process has no Temporal parent, so its parent is None.
    spawner = rt.peer(spawns_on, rt.host(backend))
    value, error = rt.wait(spawner)
    assert error is None
    expected = {"kernel": value["me"], "workflow": None}[backend]
    assert value["childs_parent"] == expected


PYTHON_BODIES = {
    "parent_of": parent_of,
    "quick_child": quick_child,
    "links": links,
    "monitors": monitors,
    "names": names,
    "hibernates": hibernates,
    "durable_probe": durable_probe,
    "workflow_facts": workflow_facts,
}
LUA_SCRIPTS = {
    name: LUA_PRELUDE + src.lstrip("\n") + LUA_EPILOGUE
    for name, src in {
        "quick_child": 'function main() return "done" end',
        "links": LUA_LINKS,
        "monitors": LUA_MONITORS,
        "names": LUA_NAMES,
    }.items()
}
