"""Workflow definitions for ``bench_workflows``.

A top-level module (imported as ``wf_plain`` with this folder on ``sys.path``), not part
of the ``benchmarks`` package: Temporal's sandbox re-imports a workflow's module *and its
parent packages* for every run, and the ``benchmarks`` package does work at import time
that the sandbox forbids. Trio-free for the same reason.

* :class:`PlainOneActivity` — the plain temporalio baseline: one activity, return.
* :func:`beamish_one_activity` — the same workflow as a beamish Python body.
* :data:`LUA_ONE_ACTIVITY` — the same workflow as a beamish Lua script.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio import activity, workflow


@activity.defn(name="bench:add")
async def plain_add(a: int, b: int) -> int:
    return a + b


@workflow.defn(name="bench:plain_one")
class PlainOneActivity:
    @workflow.run
    async def run(self, x: int) -> int:
        return await workflow.execute_activity(
            plain_add, args=[x, 1], start_to_close_timeout=timedelta(minutes=10)
        )


@workflow.defn(name="bench:plain_one_unsandboxed", sandboxed=False)
class PlainOneActivityUnsandboxed:
    @workflow.run
    async def run(self, x: int) -> int:
        return await workflow.execute_activity(
            plain_add, args=[x, 1], start_to_close_timeout=timedelta(minutes=10)
        )


async def beamish_one_activity(ctx: Any, x: int) -> int:
    return int(await ctx.call("bench:add", x, 1))


LUA_ONE_ACTIVITY = """
local funcs = require("funcs")
local function main(x)
  local r, err = funcs.call("bench:add", x, 1)
  if err then return nil, err end
  return r
end
return { main = main }
"""
