"""Plain temporalio workflows and activities used by the durable tests.

Trio-free on purpose: the workflow sandbox re-imports this module, and importing trio
inside the sandbox breaks sniffio (``temporal-notes.md``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from temporalio import activity, workflow

#: Set by the test: how the activity reaches the trio kernel (through the bridge).
KERNEL_CALL: Callable[[int], Awaitable[Any]] | None = None


@activity.defn
async def double_in_kernel(x: int) -> int:
    assert KERNEL_CALL is not None
    return int(await KERNEL_CALL(x))


@workflow.defn
class DoubleWorkflow:
    @workflow.run
    async def run(self, x: int) -> int:
        return await workflow.execute_activity(
            double_in_kernel, x, start_to_close_timeout=timedelta(seconds=30)
        )


# -- a beamish workflow body loaded by path inside Temporal's sandbox -----------------


async def sandboxed_body(ctx: Any, x: int) -> dict[str, Any]:
    """Runs inside the sandbox: its module was imported there, with restrictions."""
    doubled = await ctx.call("app:double", x)
    return {"doubled": doubled, "in_sandbox": workflow.unsafe.in_sandbox()}


async def sandbox_violation_body(ctx: Any) -> None:
    import os

    os.listdir("/")  # restricted in the sandbox: fails the task, not the workflow


# -- bodies of the crash-recovery and replay tests -----------------------------------------


async def steps_with_timer(ctx: Any, tag: str, seconds: float) -> str:
    """Activity A, a durable timer, activity B."""
    await ctx.call("app:step", f"{tag}:A")
    await ctx.sleep(seconds)
    await ctx.call("app:step", f"{tag}:B")
    return f"{tag}:done"


async def steps_with_signal(ctx: Any, tag: str) -> str:
    """Activity A, wait for a signal, activity B: the state 'between two activities'."""
    await ctx.call("app:step", f"{tag}:A")
    msg = await ctx.receive()
    await ctx.call("app:step", f"{tag}:B:{msg.data}")
    return f"{tag}:done"


async def replay_subject(ctx: Any, x: int) -> dict[str, Any]:
    """Touches every recorded effect: activity, timer, uuid, now, signal, child."""
    a = await ctx.call("app:double", x)
    await ctx.sleep(0.05)
    u = ctx.uuid4()
    child = await ctx.exec("app:replay_child", a)
    msg = await ctx.receive()
    return {"a": a, "u": u, "child": child, "msg": msg.data, "t": ctx.now().isoformat()}


async def replay_child(ctx: Any, x: int) -> int:
    return int(await ctx.call("app:double", x))


async def replay_subject_renamed_activity(ctx: Any, x: int) -> Any:
    a = await ctx.call("app:triple", x)  # was app:double
    await ctx.sleep(0.05)
    return a


async def replay_subject_added_timer(ctx: Any, x: int) -> Any:
    await ctx.sleep(0.01)  # new timer before the activity
    a = await ctx.call("app:double", x)
    await ctx.sleep(0.05)
    return a


# -- Lua replay subjects --------------------------------------------------------------------

LUA_REPLAY_SUBJECT = """
local funcs = require("funcs")
local time = require("time")
local uuid = require("uuid")
local workflow = require("workflow")
local function main(x)
  local a = funcs.call("app:double", x)
  time.sleep("50ms")
  local keys = {}
  for k in pairs({alpha = 1, beta = 2, gamma = 3, delta = 4}) do keys[#keys + 1] = k end
  local child = workflow.exec("app:replay_child", a)
  local msg = process.inbox():receive()
  return {a = a, u = uuid.v4(), r = math.random(1, 1000000), keys = table.concat(keys, ","),
          child = child, msg = msg:payload():data()}
end
return { main = main }
"""

LUA_REPLAY_RENAMED = LUA_REPLAY_SUBJECT.replace('"app:double"', '"app:triple"')
LUA_REPLAY_ADDED_TIMER = LUA_REPLAY_SUBJECT.replace(
    "local a = funcs.call", 'time.sleep("10ms")\n  local a = funcs.call'
)

LUA_STEPS_WITH_TIMER = """
local funcs = require("funcs")
local time = require("time")
local function main(tag, seconds)
  funcs.call("app:step", tag .. ":A")
  time.sleep(string.format("%dms", math.floor(seconds * 1000)))
  funcs.call("app:step", tag .. ":B")
  return tag .. ":done"
end
return { main = main }
"""
