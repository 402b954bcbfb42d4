"""The Lua boundary of the payload model, end to end between real processes: bytes
arrive as Lua strings and come back byte for byte, Lua's sparse and mixed tables keep
their keys through a Python hop, and what Lua cannot take is refused at the sender."""

import pytest
from lua_helpers import lua

from beamish.actors import Error, ErrorKind, Node
from beamish.luabridge import LuaKeyed, LuaScripts

ECHO = """
    return {main = function()
      local inbox = process.inbox()
      while true do
        local msg = inbox:receive()
        local data = msg:payload():data()
        if msg:topic() == "stop" then return "stopped" end
        local v = data.value
        process.send(data.reply_to, "echo",
                     {value = v, kind = type(v), len = type(v) == "string" and #v or nil})
      end
    end}"""


async def _echo(node, scripts, value):
    async def asker(ctx, lua_pid):
        ctx.send(lua_pid, "echo", {"reply_to": ctx.pid, "value": value})
        return (await ctx.receive(5)).data

    pid = node.spawn("t:echo")
    try:
        return await node.exec(asker, pid)
    finally:
        node.send(pid, "stop", 0)


@pytest.mark.parametrize("raw", [b"", b"\x00\xff\x80binary", bytes(range(256))])
async def test_bytes_reach_lua_as_strings_and_come_back_byte_for_byte(raw):
    scripts = LuaScripts()
    async with Node() as node:
        lua(scripts, node, "t:echo", ECHO)
        got = await _echo(node, scripts, raw)
    assert got["kind"] == "string"
    assert got["len"] == len(raw)
    # a Lua string comes back as str when it is UTF-8, else as the same bytes
    assert got["value"] == (raw.decode() if raw.isascii() else raw)


async def test_lua_tables_with_number_keys_keep_them_through_python():
    scripts = LuaScripts()
    async with Node() as node:
        lua(scripts, node, "t:echo", ECHO)
        lua(scripts, node, "t:maker", """
            return {main = function(dest)
              process.send(dest, "t", {[5] = "five", [7] = "seven"})
              process.send(dest, "t", {1, 2, n = 2})
              return "sent"
            end}""")

        async def relay(ctx):
            ctx.spawn("t:maker", ctx.pid)
            sparse = (await ctx.receive(5)).data
            mixed = (await ctx.receive(5)).data
            # back into Lua as they came: a Lua receiver indexes them by number
            ctx.send(node.spawn("t:echo"), "echo", {"reply_to": ctx.pid, "value": sparse})
            echoed = (await ctx.receive(5)).data
            return sparse, mixed, echoed

        sparse, mixed, echoed = await node.exec(relay)
    assert type(sparse) is LuaKeyed and sparse == {5: "five", 7: "seven"}
    assert type(mixed) is LuaKeyed and mixed == {1: 1, 2: 2, "n": 2}
    assert echoed["value"] == {5: "five", 7: "seven"}


@pytest.mark.parametrize(
    ("value", "what"),
    [({1: "a"}, "dict key 1 of type int"), ([object()], "a Python object"),
     ({"s": {1, 2}}, "a Python set")],
)
async def test_what_lua_cannot_take_is_refused_at_the_sender(value, what):
    scripts = LuaScripts()
    async with Node() as node:
        lua(scripts, node, "t:echo", ECHO)
        pid = node.spawn("t:echo")

        async def sender(ctx):
            with pytest.raises(Error, match="cannot send to Lua process") as info:
                ctx.send(pid, "echo", {"reply_to": ctx.pid, "value": value})
            assert what in info.value.message and str(pid) in info.value.message
            assert info.value.kind is ErrorKind.INVALID
            # the receiver is untouched and still answers
            ctx.send(pid, "echo", {"reply_to": ctx.pid, "value": "fine"})
            return (await ctx.receive(5)).data["value"]

        assert await node.exec(sender) == "fine"
        node.send(pid, "stop", 0)


async def test_binary_strings_cross_function_calls_both_ways():
    scripts = LuaScripts()
    async with Node() as node:
        lua(scripts, node, "t:f", "return {main = function(s) return s .. string.char(255) end}",
            kind="function.lua")
        # the first call starts the pooled worker, the second resumes it: both paths
        assert [await node.call("t:f", b"\x00\xfe") for _ in range(2)] == [b"\x00\xfe\xff"] * 2
