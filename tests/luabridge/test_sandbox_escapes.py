"""Escape attempts that must fail: no code of one process runs as another, no Python
object reaches a script, and a value that cannot cross fails at its sender.

Each test plays the attacker inside a real sandbox on the real kernel and then checks
that the victim (another process of the same host, or the next caller of a function)
is untouched.
"""

from __future__ import annotations

import pytest
import trio
from hypothesis import given, settings
from hypothesis import strategies as st
from lua_helpers import lua

from beamish.actors import Error, ErrorKind, Limits, Node
from beamish.luabridge import LuaScripts, Sandbox
from beamish.luabridge._convert import ConversionError


@pytest.fixture
def scripts() -> LuaScripts:
    return LuaScripts(instruction_budget=5_000_000)


# -- 1. host objects are immutable or per process -------------------------------------------

#: Every way a script can get hold of a host object, as Lua expressions.
HOST_OBJECTS = {
    "inbox": "process.inbox()",
    "events": "process.events()",
    "listen": "process.listen('t')",
    "channel": "channel.new(1)",
    "case": "channel.new(1):case_receive()",
    "after": "time.after('1h')",
    "timer": "time.timer('1h')",
    "ticker": "time.ticker('1h')",
    "future": "funcs.async('t:echo', 1)",
    "error": "errors.new('boom')",
    "payload": "payload.new(1)",
    "duration": "time.parse_duration('1s')",
    "time": "time.now()",
    "executor": "funcs.new()",
}


@pytest.mark.parametrize("name", sorted(HOST_OBJECTS))
async def test_no_host_object_accepts_new_fields(scripts, name):
    async with Node() as node:
        lua(scripts, node, "t:echo", "return {main = function(x) return x end}",
            kind="function.lua")
        lua(scripts, node, "t:probe", f"""
            return {{main = function()
              local obj = {HOST_OBJECTS[name]}
              local evil = function() return "pwned" end
              local results = {{}}
              for _, field in ipairs({{"receive", "send", "close", "kind", "data", "x"}}) do
                results[#results + 1] = pcall(function() obj[field] = evil end)
                results[#results + 1] = pcall(rawset, obj, field, evil)
              end
              for _, ok in ipairs(results) do
                if ok and rawget(obj, "x") == evil then return "modified" end
              end
              if rawget(obj, "receive") == evil or rawget(obj, "x") == evil then
                return "modified"
              end
              return "intact"
            end}}""")
        assert await node.exec("t:probe") == "intact"


async def test_replacing_the_inbox_receive_does_not_reach_other_processes(scripts):
    async with Node() as node:
        lua(scripts, node, "t:attacker", """
            return {main = function()
              local inbox = process.inbox()
              local ok1 = pcall(function()
                inbox.receive = function() return "hijacked" end
              end)
              local ok2 = pcall(rawset, inbox, "receive", function() return "hijacked" end)
              local ok3 = pcall(setmetatable, inbox, {__index = {receive = function()
                return "hijacked" end}})
              return {ok1, ok2, ok3}
            end}""")
        lua(scripts, node, "t:victim", """
            return {main = function()
              local msg = process.inbox():receive()
              return msg:payload():data()
            end}""")
        assert await node.exec("t:attacker") == [False, False, False]
        victim = node.spawn("t:victim")
        node.send(victim, "hello", "genuine")
        assert await node.wait(victim) == ("genuine", None)


async def test_a_function_call_cannot_plant_code_for_the_next_caller(scripts):
    async with Node() as node:
        lua(scripts, node, "t:plant", """
            return {main = function(mode)
              if mode == "plant" then
                for _, obj in ipairs({process.inbox(), process.events()}) do
                  pcall(function() obj.receive = function() return "planted" end end)
                end
                return "done"
              end
              local genuine = channel.new().receive
              local inbox, events = process.inbox(), process.events()
              return (inbox.receive == genuine and events.receive == genuine)
                and "clean" or "inherited"
            end}""", kind="function.lua")
        assert await node.call("t:plant", "plant") == "done"
        assert await node.call("t:plant", "look") == "clean"


async def test_error_values_are_immutable(scripts):
    async with Node() as node:
        lua(scripts, node, "t:err", """
            return {main = function()
              local e = errors.new{kind = errors.NOT_FOUND, message = "gone"}
              local ok1 = pcall(function() e.kind = function() return "forged" end end)
              local ok2 = pcall(rawset, e, "kind", function() return "forged" end)
              return {ok1, ok2, e:kind() == errors.NOT_FOUND, e:message()}
            end}""")
        assert await node.exec("t:err") == [False, False, True, "gone"]


# -- 4. no Python object reaches Lua ------------------------------------------------------------

#: Walk every value a script can reach from `root` and report the first userdata.
#: type(v) as the host sees it: scripts see error values as "userdata" (as in Wippy),
#: but they are tables the walk must enter; a Python object has no metatable for them.
RAW_TYPE = """
local type = (function(lua_type)
  return function(v)
    local t = lua_type(v)
    if t == "userdata" and getmetatable(v) == "error" then return "table" end
    return t
  end
end)(type)
"""

FIND_USERDATA = RAW_TYPE + """
local function find_userdata(root)
  local seen = {}
  local function walk(v, path)
    if type(v) == "userdata" then return path end
    if type(v) ~= "table" or seen[v] then return nil end
    seen[v] = true
    for k, x in pairs(v) do
      local hit = walk(k, path .. ".<key>") or walk(x, path .. "." .. tostring(k))
      if hit then return hit end
    end
    for _, k in ipairs({"h", "ch", "handle", "channel", "value", 1, 2, 3}) do
      local hit = walk(rawget(v, k), path .. "." .. tostring(k))
      if hit then return hit end
    end
    return nil
  end
  return walk(root, "obj")
end
"""


@pytest.mark.parametrize("name", sorted(HOST_OBJECTS))
async def test_no_host_object_holds_a_python_object(scripts, name):
    async with Node() as node:
        lua(scripts, node, "t:echo", "return {main = function(x) return x end}",
            kind="function.lua")
        lua(scripts, node, "t:probe", FIND_USERDATA + f"""
            return {{main = function()
              local obj = {HOST_OBJECTS[name]}
              return find_userdata(obj) or "none", tostring(obj):find("0x") == nil
            end}}""")
        assert await node.exec("t:probe") == "none"


@pytest.mark.parametrize("call", [
    'process.send("\\255\\254", "t", 1)',
    'process.send(process.pid(), "\\255", 1)',
    'process.send(process.pid(), "t", "\\255\\254")',
    'funcs.call("\\255:x", 1)',
    'time.parse_duration("\\255")',
    'json.decode("\\255")',
    'process.registry.lookup("\\255")',
    'print("\\255")',
    'logger:info("\\255", {k = "\\254"})',
    'process.spawn("\\255:x", "t:h")',
    'channel.new(1):send("\\255")',
])
async def test_non_utf8_strings_never_surface_python_exceptions(scripts, call):
    async with Node() as node:
        lua(scripts, node, "t:probe", RAW_TYPE + f"""
            return {{main = function()
              local ok, a, b = pcall(function() return {call} end)
              local err = (not ok and a) or b
              local shown = tostring(err)
              return {{type(err), type(a), type(b),
                      shown:find("Decode") == nil and shown:find("Python") == nil}}
            end}}""")
        out = await node.exec("t:probe")
        assert "userdata" not in out[:3]
        assert out[3] is True


def test_a_foreign_object_handed_back_to_python_is_a_clear_error():
    sb = Sandbox()
    with pytest.raises(ConversionError, match="host object"):
        sb.from_lua(object())


# -- 5. a value that cannot cross fails at its sender ------------------------------------------

def nested(levels: int) -> str:
    return f"local v = 1; for i = 1, {levels} do v = {{v}} end"


async def test_a_too_deep_message_fails_at_the_sender_and_the_receiver_lives(scripts):
    async with Node() as node:
        lua(scripts, node, "t:receiver", """
            return {main = function()
              local inbox = process.inbox()
              local depth = 0
              local v = inbox:receive():payload():data()
              while type(v) == "table" do depth = depth + 1; v = v[1] end
              inbox:receive()  -- "done": the test is waiting by then
              return depth
            end}""")
        lua(scripts, node, "t:sender", f"""
            return {{main = function(to)
              {nested(201)}
              local ok, err = pcall(process.send, to, "deep", v)
              local sent_bad = ok and err == true
              {nested(200)}
              process.send(to, "deep", v)
              return {{sent_bad, tostring(err)}}
            end}}""")
        receiver = node.spawn("t:receiver")
        sent_bad, err = await node.exec("t:sender", str(receiver))
        assert sent_bad is False
        assert "deeper than 200" in err
        node.send(receiver, "done", 0)
        assert await node.wait(receiver) == (200, None)


async def test_a_function_result_that_cannot_cross_is_an_error_the_caller_can_catch(scripts):
    async with Node() as node:
        lua(scripts, node, "t:deep", f"""
            return {{main = function(kind)
              if kind == "deep" then {nested(201)} return v end
              if kind == "fn" then return {{f = function() end}} end
              {nested(200)} return v
            end}}""", kind="function.lua")
        lua(scripts, node, "t:caller", """
            return {main = function()
              local out = {}
              for _, kind in ipairs({"deep", "fn", "ok"}) do
                local ok, v, err = pcall(funcs.call, "t:deep", kind)
                out[#out + 1] = ok and (err == nil) and type(v) or ("error:" .. tostring(err or v))
              end
              return out
            end}""")
        deep, fn, fine = await node.exec("t:caller")
        assert deep.startswith("error:") and "deeper than 200" in deep
        assert fn.startswith("error:") and "function" in fn
        assert fine == "table"


async def test_a_python_sender_cannot_kill_a_lua_receiver_with_a_bad_value(scripts):
    async with Node() as node:
        lua(scripts, node, "t:receiver", """
            return {main = function()
              local inbox = process.inbox()
              local first = inbox:receive():payload():data()
              local second = inbox:receive():payload():data()
              inbox:receive()  -- "done": the test is waiting by then
              return {errors.is(first, errors.INVALID) and first:message() or type(first),
                      second}
            end}""")
        receiver = node.spawn("t:receiver")
        # refused at the sender, naming the receiver; nothing is queued
        with pytest.raises(Error, match=f"cannot send to Lua process {receiver}"):
            node.send(receiver, "bad", {"a set": {1, 2}})
        # a value that passes the sender's check but not the receiver's (an int past
        # 64 bits is a scalar, not walked at send) still reaches it as an error value
        node.send(receiver, "bad", 2**70)
        node.send(receiver, "good", "still here")
        node.send(receiver, "done", 0)
        (first, second), err = await node.wait(receiver)
        assert err is None
        assert "could not be converted" in first
        assert second == "still here"


async def test_oversized_payloads_fail_the_send_not_the_host():
    scripts = LuaScripts(limits=Limits(max_payload=1024 * 1024))
    async with Node() as node:
        lua(scripts, node, "t:big", """
            return {main = function()
              local big = string.rep("x", 2 * 1024 * 1024)
              local r1 = {pcall(process.send, process.pid(), "t", big)}
              local r2 = {pcall(process.send, process.pid(), "t", {big})}
              local r3 = {pcall(process.send, process.pid(), "t", string.rep("y", 1000))}
              return {tostring(r1[3] or r1[2]), tostring(r2[3] or r2[2]), r3[2]}
            end}""")
        e1, e2, ok = await node.exec("t:big")
        assert "max_payload" in e1 and "max_payload" in e2
        assert ok is True


def test_depth_limits_agree_in_both_directions():
    sb = Sandbox()
    value: object = 1
    for _ in range(200):
        value = [value]
    back = sb.from_lua(sb.to_lua(value))
    assert back == value
    with pytest.raises(Error) as info:
        sb.to_lua([value])
    assert info.value.kind is ErrorKind.INVALID


async def test_spawn_arguments_that_cannot_cross_fail_at_the_spawner(scripts):
    async with Node() as node:
        lua(scripts, node, "t:child", "return {main = function(x) return x end}")
        lua(scripts, node, "t:parent", """
            return {main = function()
              local ok, pid, err = pcall(process.spawn, "t:child", "node:local", function() end)
              -- refused either way: raised (ok false) or returned (nil, err)
              return {pid == nil or not ok, tostring(err or pid)}
            end}""")
        with trio.fail_after(30):
            refused, msg = await node.exec("t:parent")
        assert refused
        assert "function cannot be converted" in msg



# -- whatever leaves a sender can enter any receiver (property) ---------------------------------

_SB = Sandbox()


@settings(max_examples=60, deadline=None)
@given(depth=st.integers(min_value=1, max_value=230),
       leaves=st.lists(st.one_of(st.integers(-5, 5), st.text(max_size=5), st.booleans()),
                       min_size=1, max_size=4),
       as_map=st.booleans())
def test_a_value_lua_lets_out_always_converts_back_in(depth, leaves, as_map):
    # build the value in Lua, as a script would, and let it out through from_lua
    lua_value = _SB.lua.execute(
        "local depth, leaves, as_map = ... "
        "local v = leaves for i = 2, depth do v = as_map and {k = v, n = i} or {v, i} end "
        "return v", depth, _SB.to_lua(leaves), as_map)
    try:
        out = _SB.from_lua(lua_value)
    except ConversionError:
        assert depth > 200  # refused at the sender only past the shared bound
        return
    assert depth <= 200
    assert _SB.from_lua(_SB.to_lua(out)) == out  # and any receiver takes it back in
