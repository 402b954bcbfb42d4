"""Keyword arguments are for Python bodies: a Lua body refuses them at spawn."""

import pytest
from lua_helpers import lua

from beamish.actors import Error, Node
from beamish.luabridge import LuaScripts


async def test_kwargs_for_a_lua_body_are_refused_at_spawn():
    scripts = LuaScripts()
    async with Node() as node:
        lua(scripts, node, "t:lua", "return {main = function(a) return a end}")
        with pytest.raises(Error, match="cannot spawn t:lua with keyword arguments 'a'"):
            node.spawn("t:lua", kwargs={"a": 1})
        assert await node.exec("t:lua", 1) == 1
