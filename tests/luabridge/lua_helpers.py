"""Shared helpers for the Lua security tests: define Lua entries on a node in one line."""

from __future__ import annotations

import textwrap

from beamish.actors import Node
from beamish.luabridge import LuaEntrySpec, LuaScripts

#: Modules every test entry may require.
ALL_MODULES = ("funcs", "time", "json", "uuid", "logger", "ctx")


def lua(scripts: LuaScripts, node: Node, entry_id: str, source: str, *,
        kind: str = "process.lua", method: str = "main",
        modules: tuple[str, ...] = ALL_MODULES) -> None:
    """Register ``source`` as entry ``entry_id`` (a process body, or a function); the
    modules of ``modules`` are locals of the script (``local time = require("time")``,
    on the source's first line, so its line numbers stay its own)."""
    preamble = " ".join(f'local {m} = require("{m}")' for m in modules)
    scripts.add(LuaEntrySpec(id=entry_id, kind=kind,
                             source=preamble + " " + textwrap.dedent(source),
                             chunkname=entry_id.split(":")[1] + ".lua", method=method,
                             modules=modules))
    if kind == "process.lua":
        node.register_process(entry_id, scripts.process_body(entry_id))
    else:
        node.functions.register(entry_id, scripts.function(entry_id))


#: A process that answers every "ping" with a "pong" carrying its count: the sibling
#: that must keep answering while another process of its host misbehaves.
HEARTBEAT = """
return {main = function()
  local inbox = process.inbox()
  local n = 0
  local keep = {}
  while true do
    local msg = inbox:receive()
    n = n + 1
    keep[(n % 64) + 1] = string.rep("h", 1024) .. n   -- allocates like real work does
    process.send(msg:from(), "pong", n)
  end
end}
"""


async def ping(ctx, pid, timeout: float = 30.0) -> int:
    """Send "ping" to ``pid`` from ``ctx`` and return the pong's count."""
    ctx.send(pid, "ping", 0)
    msg = await ctx.receive(timeout=timeout)
    assert msg.topic == "pong"
    return msg.data
