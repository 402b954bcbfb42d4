"""Lua workflows: the same mappings as the Python ones, from Lua scripts run by the Lua
bridge's driver inside Temporal — funcs.call/async -> activities (kind and retryable
kept, with_options), durable time, recorded uuid, signals into inbox/listen, send to
workflows and processes, children with EXIT, workflow.exec/version/info, cancellation,
coroutines and channels, unsupported operations, error exits, module restrictions."""

from __future__ import annotations

import pytest
import temporalio.client
import trio
from durable_harness import CLIENT, WORKER, harness

from beamish.actors import Error, ErrorKind, LoadError, Pid
from beamish.durable._convert import from_failure
from beamish.durable._lua import lua_workflow_body, new_workflow_sandbox
from beamish.luabridge import LuaEntrySpec

pytestmark = pytest.mark.temporal

ALL = ["funcs", "time", "uuid", "workflow", "json"]


def lua(entry_id: str, body: str, modules=ALL):
    src = (
        "local funcs = require('funcs')\nlocal time = require('time')\n"
        "local uuid = require('uuid')\nlocal workflow = require('workflow')\n"
        f"{body}\nreturn {{ main = main }}\n"
    )
    return lua_workflow_body(entry_id, src, modules=modules)


SCRIPTS = {
    "lua:call": """
function main(x)
  local r, err = funcs.call("app:double", x)
  local _, e = funcs.call("app:fail_not_found")
  local opts = funcs.new():with_options({
    ["activity.retry_policy"] = {initial_interval = 10, maximum_attempts = 3},
    ["activity.start_to_close_timeout"] = "30s",
  })
  local flaky, ferr = opts:call("app:flaky")
  return {r = r, kind = e:kind(), retryable = e:retryable(), msg = e:message(),
          flaky = flaky}
end""",
    "lua:async": """
function main()
  local f1 = funcs.async("app:double", 1)
  local f2 = funcs.async("app:double", 2)
  local v1 = f1:response():receive()
  local v2 = f2:response():receive()
  return {v1:data(), v2:data(), f1:is_complete()}
end""",
    "lua:time": """
function main()
  local t0 = time.now()
  time.sleep("200ms")
  local fired = time.after("100ms"):receive()
  local elapsed = time.now():sub(t0):milliseconds()
  return {elapsed >= 300, uuid.v4(), uuid.v7(), math.random(1, 1000000)}
end""",
    "lua:signals": """
function main()
  local a = process.listen("a")
  local inbox = process.inbox()
  local m = inbox:receive()
  local va = a:receive()
  local r = channel.select{ inbox:case_receive(), time.after("200ms"):case_receive() }
  return {m:topic(), m:payload():data(), m:from(), va, r.channel == inbox}
end""",
    "lua:arrival_order": """
function main()
  time.sleep("2s")  -- the test's signals all wait in the backlog meanwhile
  local seen = {}
  coroutine.spawn(function()
    local ch = process.listen("add")
    while true do
      local v = ch:receive()
      table.insert(seen, v)
      process.send(process.pid(), "noted", v)  -- a command that completes at once
    end
  end)
  local stop = process.listen("stop")
  stop:receive()
  return seen
end""",
    "lua:pinger": """
function main(target)
  process.send(target, "ping", "hello")
  local m = process.inbox():receive()
  return {m:topic(), m:payload():data(), m:from()}
end""",
    "lua:ponger": """
function main()
  local m = process.inbox():receive()
  process.send(m:from(), "pong", m:payload():data() .. "!")
  return "ok"
end""",
    "lua:to_process": """
function main(pid)
  process.send(pid, "from_lua", {x = 1})
  return true
end""",
    "lua:child": """
function main(x)
  if x == "fail" then error(errors.new{kind = errors.CONFLICT, message = "child broke"}) end
  return x * 10
end""",
    "lua:parent": """
function main()
  local p1 = process.spawn("lua:child", nil, 4)
  local p2 = process.spawn("lua:child", nil, "fail")
  local ev = process.events()
  local got = {}
  for i = 1, 2 do
    local e = ev:receive()
    if e.result.error then
      got[e.from == p2 and "p2" or "?"] = e.result.error:kind()
    else
      got[e.from == p1 and "p1" or "?"] = e.result.value
    end
  end
  local v, err = workflow.exec("lua:child", 5)
  local _, xerr = workflow.exec("lua:child", "fail")
  got.exec = v
  got.exec_err = xerr:kind()
  return got
end""",
    "lua:gate": """
function main(parent, how)
  process.send(parent, "child", process.pid())
  local m = process.inbox():receive()
  if how == "crash" then error(errors.new{kind = errors.CONFLICT, message = "gate broke"}) end
  return "passed:" .. m:payload():data()
end""",
    "lua:exec_siblings": """
function main()
  local events = process.events()
  -- each child finishes only when this sibling lets it through: a blocking exec hangs
  coroutine.spawn(function()
    for i = 1, 2 do
      local m = process.inbox():receive()
      process.send(m:payload():data(), "go", "s" .. i)
    end
  end)
  local v, err = process.exec("lua:gate", nil, process.pid())
  local w, werr = workflow.exec("lua:gate", process.pid(), "crash")
  -- the exec'd children's EXITs went to their waiters: the next event is q's
  local q = process.spawn("lua:child", nil, 3)
  local e = events:receive()
  return {v = v, err = err, w = w, werr = werr and werr:kind(), q = e.result.value,
          same = e.from == q}
end""",
    "lua:unsupported": """
function main()
  local out = {}
  local _, e1 = process.monitor(process.pid())
  local _, e2 = process.link(process.pid())
  out[1] = e1:kind()
  out[2] = string.find(e1:message(), "not supported in workflow context") ~= nil
  out[3] = e2:kind()
  return out
end""",
    "lua:cancel": """
function main()
  local e = process.events():receive()
  return {kind = e.kind, status = "canceled"}
end""",
    "lua:info": """
function main()
  local info = workflow.info()
  return {info.workflow_type, workflow.version("change-a", 0, 3), workflow.history_length() > 0}
end""",
    "lua:coroutines": """
function main()
  local ch = channel.new()
  local out = {}
  coroutine.spawn(function()
    for i = 1, 3 do ch:send(i) time.sleep("10ms") end
    ch:close()
  end)
  while true do
    local v, ok = ch:receive()
    if not ok then break end
    out[#out + 1] = v
  end
  local keys = {}
  for k in pairs({alpha = 1, beta = 2, gamma = 3, delta = 4, eps = 5}) do keys[#keys + 1] = k end
  out[#out + 1] = table.concat(keys, ",")
  return out
end""",
    "lua:error": """
function main()
  error(errors.new{kind = errors.INVALID, message = "bad order", retryable = false})
end""",
    "lua:raw_error": """
function main()
  local t = nil
  return t.field
end""",
    "lua:send_outcome": """
function main(live, missing, dead_process)
  local function outcome(ok, err)
    if err ~= nil then return {err:kind(), err:retryable(), tostring(err)} end
    return ok
  end
  return {
    live = outcome(process.send(live, "ping", "hello")),
    missing = outcome(process.send(missing, "ping", 1)),
    named = outcome(process.send("some-name", "ping", 1)),
    dead_process = outcome(process.send(dead_process, "ping", 1)),
  }
end""",
    "lua:return_err": """
function main()
  return nil, errors.new{kind = errors.NOT_FOUND, message = "no such order"}
end""",
}

_flaky = {"n": 0}


def _flaky_fn():
    _flaky["n"] += 1
    if _flaky["n"] < 2:
        raise Error("again", kind=ErrorKind.UNAVAILABLE, retryable=True)
    return "flaky-ok"


def _fail_not_found():
    raise Error("no such thing", kind=ErrorKind.NOT_FOUND, retryable=False)


FUNCTIONS = {
    "app:double": lambda x: x * 2,
    "app:fail_not_found": _fail_not_found,
    "app:flaky": _flaky_fn,
}


def _h(server, tq):
    entries = {eid: lua(eid, src) for eid, src in SCRIPTS.items()}
    return harness(server, tq, entries, functions=FUNCTIONS)


async def _failure(h, entry_id) -> Error:
    handle = await h.start(entry_id)
    with pytest.raises(temporalio.client.WorkflowFailureError) as info:
        await h.result(handle)
    return from_failure(info.value)


async def test_funcs_call_is_an_activity_with_kind_retryable_and_options(
    temporal_server, task_queue
):
    _flaky["n"] = 0
    async with _h(temporal_server, task_queue) as h:
        got = await h.execute("lua:call", 21)
        assert got == {
            "r": 42,
            "kind": "NotFound",
            "retryable": False,
            "msg": "no such thing",
            "flaky": "flaky-ok",
        }


async def test_funcs_async_futures(temporal_server, task_queue):
    async with _h(temporal_server, task_queue) as h:
        assert await h.execute("lua:async") == [2, 4, True]


async def test_time_is_durable_and_ids_are_recorded(temporal_server, task_queue):
    async with _h(temporal_server, task_queue) as h:
        handle = await h.start("lua:time")
        ok, u4, u7, rnd = await h.result(handle)
        assert ok is True and len(u4) == 36 and u7[14] == "7" and 1 <= rnd <= 1000000
        history = await h.on_loop(handle.fetch_history)
        assert sum(e.HasField("timer_started_event_attributes") for e in history.events) == 2


async def test_signals_reach_inbox_and_listen(temporal_server, task_queue):
    async with _h(temporal_server, task_queue) as h:
        handle = await h.start("lua:signals")
        await h.on_loop(handle.signal, "b", "to inbox")
        await h.on_loop(handle.signal, "a", "to listener")
        assert await h.result(handle) == ["b", "to inbox", None, "to listener", False]


async def test_coroutines_see_messages_in_the_order_they_arrived(temporal_server, task_queue):
    # Three "add" then "stop" arrive before anything listens; main listens to "stop"
    # before its coroutine listens to "add". As in Wippy, the coroutines see the
    # messages in arrival order: every "add" is taken before main sees "stop".
    async with _h(temporal_server, task_queue) as h:
        handle = await h.start("lua:arrival_order")
        for topic, arg in (("add", 1), ("add", 2), ("add", 3), ("stop", None)):
            await h.on_loop(handle.signal, topic, arg)
        assert await h.result(handle) == [1, 2, 3]


async def test_send_between_lua_workflows(temporal_server, task_queue):
    async with _h(temporal_server, task_queue) as h:
        pong = await h.start("lua:ponger")
        pong_pid = str(Pid(WORKER, pong.id, CLIENT))
        ping = await h.start("lua:pinger", pong_pid)
        assert await h.result(ping) == ["pong", "hello!", pong_pid]
        assert await h.result(pong) == "ok"


async def test_send_from_lua_workflow_to_an_ordinary_process(temporal_server, task_queue):
    async with _h(temporal_server, task_queue) as h:
        got = []

        async def proc(ctx):
            msg = await ctx.receive()
            got.append((msg.topic, msg.data, msg.sender.host))

        pid = h.node.spawn(proc)
        handle = await h.start("lua:to_process", str(pid))
        assert await h.result(handle) is True
        with trio.fail_after(30):
            while not got:
                await trio.sleep(0.01)
        assert got == [("from_lua", {"x": 1}, WORKER)]


async def test_a_send_from_a_lua_workflow_reports_its_outcome(temporal_server, task_queue):
    # As in Wippy, process.send in a workflow waits for a signal's answer: a missing
    # workflow is nil, NOT_FOUND (not retryable) in the sender, not only a log line.
    async with _h(temporal_server, task_queue) as h:
        pong = await h.start("lua:ponger")
        live = str(Pid(WORKER, pong.id, CLIENT))
        missing = str(Pid(WORKER, "no-such-workflow", CLIENT))

        async def brief(ctx):
            return ctx.pid

        dead = await h.node.exec(brief)  # an ordinary process that has exited
        got = await h.execute("lua:send_outcome", live, missing, str(dead))
        assert got["live"] is True
        kind, retryable, text = got["missing"]
        assert (kind, retryable) == ("NotFound", False) and "workflow" in text
        kind, retryable, text = got["named"]
        assert (kind, retryable) == ("NotFound", False) and "some-name" in text
        # A local send is not waited for (the script's other coroutines would run
        # first): it succeeds and the message is dropped with a logged warning.
        assert got["dead_process"] is True
        assert await h.result(pong) == "ok"


async def test_children_exit_events_and_workflow_exec(temporal_server, task_queue):
    async with _h(temporal_server, task_queue) as h:
        assert await h.execute("lua:parent") == {
            "p1": 40,
            "p2": "Conflict",
            "exec": 50,
            "exec_err": "Conflict",
        }


async def test_exec_beside_sibling_coroutines_does_not_block_them(temporal_server, task_queue):
    async with _h(temporal_server, task_queue) as h:
        with trio.fail_after(60):
            assert await h.execute("lua:exec_siblings") == {
                "v": "passed:s1",
                "werr": "Conflict",
                "q": 30,
                "same": True,
            }


async def test_monitor_and_link_are_not_supported(temporal_server, task_queue):
    async with _h(temporal_server, task_queue) as h:
        assert await h.execute("lua:unsupported") == ["Invalid", True, "Invalid"]


async def test_cancellation_is_a_cancel_event(temporal_server, task_queue):
    async with _h(temporal_server, task_queue) as h:
        handle = await h.start("lua:cancel")
        await h.on_loop(handle.cancel)
        assert await h.result(handle) == {"kind": "pid.cancel", "status": "canceled"}


async def test_workflow_info_version_history(temporal_server, task_queue):
    async with _h(temporal_server, task_queue) as h:
        assert await h.execute("lua:info") == ["lua:info", 3, True]


async def test_coroutines_channels_and_pairs_order(temporal_server, task_queue):
    async with _h(temporal_server, task_queue) as h:
        first = await h.execute("lua:coroutines")
        second = await h.execute("lua:coroutines")
        assert first[:3] == [1, 2, 3]
        assert first == second  # pairs() over string keys: same order every run


async def test_lua_errors_fail_the_workflow_with_their_kind(temporal_server, task_queue):
    async with _h(temporal_server, task_queue) as h:
        err = await _failure(h, "lua:error")
        assert (err.kind, err.message, err.retryable) == (ErrorKind.INVALID, "bad order", False)
        err = await _failure(h, "lua:raw_error")
        assert "attempt to index a nil value" in err.message  # kind: the Lua bridge's choice
        err = await _failure(h, "lua:return_err")
        assert (err.kind, err.message) == (ErrorKind.NOT_FOUND, "no such order")


def test_nondeterministic_modules_are_refused_at_load():
    with pytest.raises(LoadError, match=r"module 'http' is not available in workflows"):
        lua_workflow_body("lua:io", "return {main = function() end}", modules=["http"])


def test_syntax_errors_are_reported_at_build():
    with pytest.raises(Error, match=r"Lua syntax error in lua:bad.lua line 1"):
        lua_workflow_body("lua:bad", "function main( return {main=main}")


async def test_a_runaway_lua_loop_fails_the_workflow_not_the_worker(temporal_server, task_queue):
    spin = lua("lua:spin", "function main()\n  local i = 0\n  while true do i = i + 1 end\nend")
    async with harness(temporal_server, task_queue, {"lua:spin": spin}) as h:
        err = await _failure(h, "lua:spin")
        assert "budget" in err.message or "instruction" in err.message


async def test_lua_workflows_replay_from_scratch_without_a_cache(temporal_server, task_queue):
    entries = {eid: lua(eid, src) for eid, src in SCRIPTS.items()}
    async with harness(
        temporal_server,
        task_queue,
        entries,
        functions=FUNCTIONS,
        options={"max_cached_workflows": 0},
    ) as h:
        first = await h.execute("lua:coroutines")
        assert first[:3] == [1, 2, 3]
        assert await h.execute("lua:parent") == {
            "p1": 40,
            "p2": "Conflict",
            "exec": 50,
            "exec_err": "Conflict",
        }
        ok, *_ = await h.execute("lua:time")
        assert ok is True
        assert (await h.execute("lua:exec_siblings"))["v"] == "passed:s1"


def _library(entry_id: str, source: str, imports=None) -> LuaEntrySpec:
    return LuaEntrySpec(
        id=entry_id,
        kind="library.lua",
        source=source,
        chunkname=f"{entry_id}.lua",
        imports=dict(imports or {}),
    )


async def test_a_workflow_requires_its_libraries_in_its_own_run(temporal_server, task_queue):
    libs = {
        "app.lib:twice": _library("app.lib:twice", "return {run = function(x) return x * 2 end}")
    }
    body = lua_workflow_body(
        "lua:uses_lib",
        "local twice = require('twice')\nreturn {main = function(x) return twice.run(x) end}",
        imports={"twice": "app.lib:twice"},
        libraries=libs,
    )
    async with harness(temporal_server, task_queue, {"lua:uses_lib": body}) as h:
        assert await h.execute("lua:uses_lib", 21) == 42
        assert await h.execute("lua:uses_lib", 2) == 4  # a fresh sandbox, compiled again


def test_libraries_whose_imports_form_a_cycle_compile_once_each():
    libs = {
        "lib:a": _library("lib:a", "return require('b')", {"b": "lib:b"}),
        "lib:b": _library("lib:b", "return require('a')", {"a": "lib:a"}),
    }
    # lua_workflow_body compiles once at once; a run compiles again into its own sandbox
    body = lua_workflow_body(
        "lua:cyclic", "return {main = function() end}", imports={"a": "lib:a"}, libraries=libs
    )
    assert body.prepare(new_workflow_sandbox("run")) is not None
