"""The ``pg`` Lua module: process groups of a ``pg.scope`` entry, driven from real Lua.

Each test builds an app in a temporary folder (a ``pg.scope``, a host, Lua entries
from the sources given) and runs one entry of it.
"""

from __future__ import annotations

import logging
import textwrap
from pathlib import Path
from typing import Any

import pytest
import trio

from beamish import App
from beamish.actors import Pid

HEADER = """\
namespace: app
entries:
  - { name: pg, kind: pg.scope }
  - { name: processes, kind: process.host }
"""

#: Waits for the next item of a channel, failing the script after 5 s.
NEXT = """
local time = require("time")
local function next_of(ch)
  local r = channel.select{ch:case_receive(), time.after("5s"):case_receive()}
  if r.channel ~= ch then error("nothing arrived within 5 s") end
  return r.value
end
"""

#: A process that joins ``group`` and answers each message with its payload doubled,
#: until "stop".
WORKER = """
local pg = require("pg")
return {main = function(parent, group)
  local s = pg.open("app:pg")
  assert(s:join(group))
  process.send(parent, "ready", process.pid())
  local inbox = process.inbox()
  while true do
    local msg = inbox:receive()
    if msg:topic() == "stop" then return "stopped" end
    local data = msg:payload():data()
    process.send(msg:from(), "done",
                 {pid = process.pid(), topic = msg:topic(), n = data.n * 2})
  end
end}
"""

IDLE = """
return {main = function() process.inbox():receive() return "bye" end}
"""


def write_app(tmp_path: Path, scripts: dict[str, str], *, kinds: dict[str, str] | None = None,
              modules: dict[str, list[str]] | None = None, extra: str = "") -> Path:
    """An app of ``scripts`` (name -> Lua source), each a ``process.lua`` entry (or the
    kind ``kinds`` names; a function's method is ``main``) with ``modules: [pg, time,
    funcs]`` unless ``modules`` says otherwise."""
    lines = [HEADER]
    for name, source in scripts.items():
        (tmp_path / f"{name}.lua").write_text(textwrap.dedent(source))
        kind = (kinds or {}).get(name, "process.lua")
        mods = (modules or {}).get(name, ["pg", "time", "funcs"])
        lines.append(f"  - name: {name}\n    kind: {kind}\n    source: file://{name}.lua\n"
                     f"    method: main\n    modules: [{', '.join(mods)}]\n")
    lines.append(textwrap.indent(textwrap.dedent(extra), "  "))
    (tmp_path / "app.yaml").write_text("".join(lines))
    return tmp_path


def run(tmp_path: Path, scripts: dict[str, str], entry: str = "main", *args: Any,
        **kw: Any) -> Any:
    folder = write_app(tmp_path, scripts, **kw)

    async def main() -> Any:
        async with App(folder, shutdown_timeout=2) as app:
            with trio.fail_after(30):
                return await app.run_entry(f"app:{entry}", list(args))

    return trio.run(main)


# -- membership ---------------------------------------------------------------------------


def test_join_members_groups_and_leave(tmp_path):
    out = run(tmp_path, {"main": """
        local pg = require("pg")
        return {main = function()
          local s = assert(pg.open("app:pg"))
          local out = {me = process.pid(), str = tostring(s)}
          out.join_one = s:join("a")
          out.join_many = s:join({"b", "c"})
          out.join_again = s:join("a")
          out.members_a = s:get_members("a")
          out.local_a = s:get_local_members("a")
          out.members_b = s:get_members("b")
          out.nobody = #s:get_members("nobody")
          out.groups = s:which_groups()
          out.local_groups = s:which_local_groups()
          out.leave_once = s:leave("a")
          out.after_once = s:get_members("a")
          out.leave_twice = s:leave("a")
          local ok, err = s:leave("a")
          out.leave_none = {ok = ok, kind = err:kind(), msg = err:message()}
          out.leave_some = s:leave({"b", "c", "never"})
          out.groups_after = #s:which_groups()
          return out
        end}
    """})
    me = out["me"]
    assert out["str"] == "pg.Instance{app:pg}"
    assert out["join_one"] is out["join_many"] is out["join_again"] is True
    assert out["members_a"] == out["local_a"] == [me, me]  # once per membership
    assert out["members_b"] == [me]
    assert out["nobody"] == 0
    assert out["groups"] == out["local_groups"] == ["a", "b", "c"]
    assert out["leave_once"] is True and out["after_once"] == [me]
    assert out["leave_twice"] is True
    assert out["leave_none"]["ok"] is False
    assert out["leave_none"]["kind"] == "NotFound" and "'a'" in out["leave_none"]["msg"]
    assert out["leave_some"] is True  # in some of them: those are left
    assert out["groups_after"] == 0


def test_a_member_that_exits_leaves_with_member_left_events(tmp_path):
    out = run(tmp_path, {"worker": WORKER, "main": NEXT + """
        local pg = require("pg")
        return {main = function()
          local s = pg.open("app:pg")
          local sub, before = s:monitor("workers")
          local ch = sub:channel()
          local child = process.spawn_monitored("app:worker", "app:processes",
                                                process.pid(), "workers")
          local joined = next_of(ch)
          local during = s:get_members("workers")
          process.send(child, "stop")
          local left = next_of(ch)
          local exit = process.events():receive()
          return {child = child, before = #before, joined = joined, during = during,
                  left = left, after = #s:get_members("workers"),
                  exit = exit.result.value, sub = tostring(sub), closed = sub:close()}
        end}
    """})
    child = out["child"]
    assert out["before"] == 0
    assert out["joined"] == {"system": "pg", "kind": "member.joined", "path": "workers",
                             "data": {"Group": "workers", "PIDs": [child]}}
    assert out["during"] == [child]
    assert out["left"] == {"system": "pg", "kind": "member.left", "path": "workers",
                           "data": {"Group": "workers", "PIDs": [child]}}
    assert out["after"] == 0
    assert out["exit"] == "stopped"
    assert out["sub"] == "pg.Subscription{}" and out["closed"] is True


def test_broadcast_reaches_every_member_and_counts_them(tmp_path):
    out = run(tmp_path, {"worker": WORKER, "main": """
        local pg = require("pg")
        return {main = function()
          local s = pg.open("app:pg")
          local inbox = process.inbox()
          local kids = {}
          for i = 1, 3 do
            kids[i] = process.spawn("app:worker", "app:processes", process.pid(), "w")
          end
          for _ = 1, 3 do assert(inbox:receive():topic() == "ready") end
          local function collect()
            local got = {}
            for _ = 1, 3 do
              local msg = inbox:receive()
              local d = msg:payload():data()
              got[#got + 1] = {from = msg:from(), pid = d.pid, topic = d.topic, n = d.n}
            end
            table.sort(got, function(a, b) return a.pid < b.pid end)
            return got
          end
          local sent = s:broadcast("w", "job", {n = 21})
          local replies = collect()
          local sent_local = s:broadcast_local("w", "job.local", {n = 5})
          local replies_local = collect()
          local nobody = s:broadcast("empty", "job", {n = 1})
          local stopped = s:broadcast("w", "stop")
          table.sort(kids)
          return {kids = kids, sent = sent, replies = replies, sent_local = sent_local,
                  replies_local = replies_local, nobody = nobody, stopped = stopped}
        end}
    """})
    kids = out["kids"]
    assert out["sent"] == out["sent_local"] == out["stopped"] == 3
    assert out["nobody"] == 0
    assert [r["pid"] for r in out["replies"]] == kids
    assert {r["n"] for r in out["replies"]} == {42}
    assert {r["topic"] for r in out["replies"]} == {"job"}
    assert [r["pid"] for r in out["replies_local"]] == kids
    assert {(r["topic"], r["n"]) for r in out["replies_local"]} == {("job.local", 10)}


def test_monitor_returns_members_and_reports_joins_and_leaves(tmp_path):
    out = run(tmp_path, {"main": NEXT + """
        local pg = require("pg")
        return {main = function()
          local s = pg.open("app:pg")
          s:join("room")
          local sub, members = s:monitor("room")
          local ch = sub:channel()
          s:join("elsewhere")       -- another group: no event on this subscription
          s:join("room")
          local joined = next_of(ch)
          s:leave("room")
          local left = next_of(ch)
          return {me = process.pid(), members = members, joined = joined, left = left,
                  kind = joined.kind, path = joined.path, group = joined.data.Group,
                  pids = joined.data.PIDs}
        end}
    """})
    me = out["me"]
    assert out["members"] == [me]
    assert out["joined"]["kind"] == out["kind"] == "member.joined"
    assert out["path"] == out["group"] == "room" and out["pids"] == [me]
    assert out["left"] == {"system": "pg", "kind": "member.left", "path": "room",
                           "data": {"Group": "room", "PIDs": [me]}}


def test_events_gives_a_snapshot_and_every_change_until_closed(tmp_path):
    out = run(tmp_path, {"main": NEXT + """
        local pg = require("pg")
        return {main = function()
          local s = pg.open("app:pg")
          s:join("x"); s:join("x"); s:join("y")
          local sub, snapshot = s:events()
          local ch = sub:channel()
          s:join("z")
          local e1 = next_of(ch)
          s:leave("x")
          local e2 = next_of(ch)
          local closed, again = sub:close(), sub:close({flush = true})
          s:join("after")
          local v, ok = ch:receive()
          local r = channel.select{process.inbox():case_receive(),
                                   time.after("50ms"):case_receive()}
          return {me = process.pid(), snapshot = snapshot, e1 = e1, e2 = e2,
                  closed = closed, again = again, got = v == nil, ok = ok,
                  inbox_empty = r.channel ~= process.inbox()}
        end}
    """})
    me = out["me"]
    assert out["snapshot"] == {"x": [me, me], "y": [me]}
    assert (out["e1"]["kind"], out["e1"]["path"]) == ("member.joined", "z")
    assert (out["e2"]["kind"], out["e2"]["path"], out["e2"]["data"]["PIDs"]) == \
        ("member.left", "x", [me])
    assert out["closed"] is out["again"] is True
    assert out["got"] is True and out["ok"] is False  # the channel is closed, drained
    assert out["inbox_empty"] is True  # no event went anywhere after close


def test_release_ends_the_instance_not_the_memberships(tmp_path):
    out = run(tmp_path, {"main": """
        local pg = require("pg")
        return {main = function()
          local s = pg.open("app:pg")
          s:join("r")
          local rel = s:release()
          local ok, err = s:join("r2")
          local m, err2 = s:get_members("r")
          local n, err3 = s:broadcast("r", "t")
          local sub, members, err4 = s:monitor("r")
          return {me = process.pid(), rel = rel, rel2 = s:release(), str = tostring(s),
                  join = {ok == nil, err:kind(), err:message()}, members = m == nil,
                  kinds = {err2:kind(), err3:kind(), err4:kind()},
                  monitor = sub == nil and members == nil,
                  still = pg.open("app:pg"):get_members("r")}
        end}
    """})
    assert out["rel"] is out["rel2"] is True
    assert out["str"] == "pg.Instance{app:pg, released}"
    assert out["join"] == [True, "Invalid", "pg instance is released"]
    assert out["members"] is True and out["monitor"] is True
    assert out["kinds"] == ["Invalid"] * 3
    assert out["still"] == [out["me"]]


# -- bad input and security ----------------------------------------------------------------


def test_bad_input_is_an_invalid_error(tmp_path):
    out = run(tmp_path, {"main": """
        local pg = require("pg")
        local function e(v, err) return {v = v, kind = err and err:kind(),
                                         msg = err and err:message()} end
        return {main = function()
          local s = pg.open("app:pg")
          local out = {}
          out.open_unknown = e(pg.open("app:nope"))
          out.open_empty = e(pg.open(""))
          out.open_number = pcall(pg.open, 42)
          out.join_empty = e(s:join(""))
          out.join_no_groups = e(s:join({}))
          out.join_bad_name = e(s:join({"ok", ""}))
          out.join_number = e(s:join(42))
          out.leave_empty = e(s:leave(""))
          out.leave_no_groups = e(s:leave({}))
          out.members_empty = e(s:get_members(""))
          out.local_members_empty = e(s:get_local_members(""))
          out.broadcast_no_group = e(s:broadcast("", "t"))
          out.broadcast_no_topic = e(s:broadcast("g", ""))
          out.broadcast_local_no_topic = e(s:broadcast_local("g", ""))
          out.broadcast_runtime_topic = e(s:broadcast("g", "@exit"))
          local sub, members, err = s:monitor("")
          out.monitor_empty = {sub == nil, members == nil, err:kind(), err:message()}
          out.members_number = pcall(s.get_members, s, 42)
          local ok, msg = pcall(s.join, {}, "g")
          out.not_an_instance = {ok, tostring(msg)}
          out.groups = #s:which_groups()
          return out
        end}
    """})
    invalid = {"kind": "Invalid", "msg": "group name is required"}
    assert out["open_unknown"]["kind"] == "NotFound"
    assert "app:nope" in out["open_unknown"]["msg"]
    assert out["open_empty"]["kind"] == "Invalid"
    assert out["open_number"] is False
    assert out["join_empty"] == out["leave_empty"] == invalid
    assert out["members_empty"] == out["local_members_empty"] == invalid
    assert out["broadcast_no_group"] == invalid
    assert out["join_no_groups"] == out["leave_no_groups"] == {
        "kind": "Invalid", "msg": "groups table must not be empty"}
    assert out["join_bad_name"]["kind"] == out["join_number"]["kind"] == "Invalid"
    assert out["broadcast_no_topic"] == out["broadcast_local_no_topic"] == {
        "kind": "Invalid", "msg": "topic is required"}
    assert out["broadcast_runtime_topic"]["kind"] == "Invalid"
    assert out["monitor_empty"] == [True, True, "Invalid", "group name is required"]
    assert out["members_number"] is False
    assert out["not_an_instance"][0] is False
    assert "pg.Instance expected" in out["not_an_instance"][1]
    assert out["groups"] == 0  # no bad call joined anything


def test_a_script_cannot_join_or_leave_for_another_process(tmp_path):
    out = run(tmp_path, {"idle": IDLE, "main": """
        local pg = require("pg")
        return {main = function()
          local s = pg.open("app:pg")
          local other = process.spawn("app:idle", "app:processes")
          local ok, err = s:join("g", other)
          local out = {me = process.pid(), other = other,
                       join_other = {ok == nil, err:kind()},
                       members = #s:get_members("g")}
          local ok2, err2 = s:leave("g", other)
          out.leave_other = {ok2 == nil, err2:kind()}
          out.join_self = s:join("g", process.pid())
          out.members_self = s:get_members("g")
          -- the objects carry nothing a script can read or change
          out.shape = {type(s), getmetatable(s), next(s) == nil,
                       pcall(function() s.join = print end),
                       (pcall(rawset, s, "x", 1))}
          local sub = s:monitor("g")
          out.sub_shape = {type(sub), getmetatable(sub), next(sub) == nil,
                           getmetatable(sub:channel())}
          sub:close()
          process.send(other, "stop")
          return out
        end}
    """})
    assert out["join_other"] == [True, "PermissionDenied"]
    assert out["leave_other"] == [True, "PermissionDenied"]
    assert out["members"] == 0
    assert out["join_self"] is True and out["members_self"] == [out["me"]]
    assert out["shape"] == ["table", "pg.Instance", True, False, False]
    assert out["sub_shape"] == ["table", "pg.Subscription", True, "channel"]


def test_pg_must_be_listed_in_modules(tmp_path):
    folder = write_app(tmp_path, {"main": """
        return {main = function()
          local ok, err = pcall(require, "pg")
          return {ok = ok, err = tostring(err)}
        end}
    """}, modules={"main": ["time"]})

    async def main() -> Any:
        async with App(folder, shutdown_timeout=2) as app:
            return await app.run_entry("app:main")

    out = trio.run(main)
    assert out["ok"] is False and "add it to the entry's modules list" in out["err"]


# -- functions, Python and the app ------------------------------------------------------------


def test_a_function_acts_for_its_caller_and_its_subscriptions_end_with_the_call(tmp_path):
    out = run(tmp_path, {
        "fn": """
            local pg = require("pg")
            return {main = function(group)
              local s = pg.open("app:pg")
              local sub = s:monitor(group)   -- ends when this call returns
              assert(s:join(group))
              return {me = process.pid(), event = sub:channel():receive().kind}
            end}
        """,
        "main": """
            local pg = require("pg")
            local funcs = require("funcs")
            local time = require("time")
            return {main = function()
              local got = funcs.call("app:fn", "fg")
              local s = pg.open("app:pg")
              s:leave("fg")   -- would be an event for a subscription left behind
              s:join("fg")
              local r = channel.select{process.inbox():case_receive(),
                                       time.after("50ms"):case_receive()}
              return {me = process.pid(), got = got, members = s:get_members("fg"),
                      stray = r.channel == process.inbox()}
            end}
        """,
    }, kinds={"fn": "function.lua"})
    assert out["got"] == {"me": out["me"], "event": "member.joined"}  # the caller's PID
    assert out["members"] == [out["me"]]
    assert out["stray"] is False


def test_a_function_called_from_outside_leaves_when_its_frame_ends(tmp_path):
    folder = write_app(tmp_path, {"fn": """
        local pg = require("pg")
        return {main = function()
          local s = pg.open("app:pg")
          assert(s:join("calls"))
          return s:get_members("calls")
        end}
    """}, kinds={"fn": "function.lua"})

    async def main() -> Any:
        async with App(folder, shutdown_timeout=2) as app:
            members = await app.run_entry("app:fn")
            return members, app.node.groups.scope("app:pg").get_members("calls")

    members, after = trio.run(main)
    assert len(members) == 1 and after == []


def test_lua_and_python_share_the_kernel_groups(tmp_path):
    folder = write_app(tmp_path, {"member": """
        local pg = require("pg")
        return {main = function(parent)
          assert(pg.open("app:pg"):join("shared"))
          process.send(parent, "joined", process.pid())
          local msg = process.inbox():receive()
          return msg:payload():data()
        end}
    """})

    async def main() -> Any:
        async with App(folder, shutdown_timeout=2) as app:
            node = app.node
            with trio.fail_after(30):
                async def body(ctx):
                    child = ctx.spawn("app:member", str(ctx.pid), host="app:processes",
                                      monitor=True)
                    joined = await ctx.receive()
                    groups = ctx.pg("app:pg")
                    members = groups.get_members("shared")
                    sent = groups.broadcast("shared", "hello", "from python")
                    exit_ev = await ctx.events().receive()
                    return child, joined.payload, members, sent, exit_ev.value

                return await node.exec(body)

    child, joined, members, sent, value = trio.run(main)
    assert joined == (str(child),)
    assert members == [Pid.parse(str(child))]
    assert sent == 1 and value == "from python"


def test_pg_scope_entries_load_without_warnings(tmp_path, caplog):
    folder = write_app(tmp_path, {"main": "return {main = function() end}"}, extra="""
      - name: tuned
        kind: pg.scope
        lifecycle: {auto_start: true}
        broadcast_timeout: 5s
      - name: typo
        kind: pg.scope
        brodcast_timeout: 5s
    """)
    with caplog.at_level(logging.WARNING, logger="beamish"):
        App(folder)
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "not supported" not in text and "unknown kind" not in text
    assert "'tuned'" not in text and "app:tuned" not in text
    assert "unknown key 'brodcast_timeout'" in text and "broadcast_timeout" in text


@pytest.mark.parametrize("scope", ["app:tuned", "app:pg"])
def test_every_pg_scope_entry_can_be_opened(tmp_path, scope):
    out = run(tmp_path, {"main": """
        local pg = require("pg")
        return {main = function(id)
          local s, err = pg.open(id)
          return s and tostring(s) or err:message()
        end}
    """}, "main", scope, extra="""
      - { name: tuned, kind: pg.scope }
    """)
    assert out == f"pg.Instance{{{scope}}}"


def test_a_process_parked_on_its_subscription_wakes_for_an_event(tmp_path):
    # The watcher's only task waits on the subscription channel alone: it hibernates,
    # and the event must wake it.
    out = run(tmp_path, {"watcher": """
        local pg = require("pg")
        return {main = function(parent)
          local sub = pg.open("app:pg"):monitor("late")
          process.send(parent, "ready")
          local ev = sub:channel():receive()
          process.send(parent, "seen", ev)
        end}
    """, "main": """
        local pg = require("pg")
        local time = require("time")
        return {main = function()
          process.spawn("app:watcher", "app:processes", process.pid())
          local inbox = process.inbox()
          assert(inbox:receive():topic() == "ready")
          time.sleep("20ms")
          pg.open("app:pg"):join("late")
          local msg = inbox:receive()
          return {me = process.pid(), topic = msg:topic(), ev = msg:payload():data()}
        end}
    """})
    assert out["topic"] == "seen"
    assert out["ev"]["kind"] == "member.joined" and out["ev"]["data"]["PIDs"] == [out["me"]]
