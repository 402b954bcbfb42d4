"""Replay workflow histories in a fresh process with temporalio's Replayer.

Usage: python replay_check.py VARIANT HISTORY.json...

VARIANT ``original`` registers the test workflows (Python and Lua) as they ran;
``renamed_activity`` and ``added_timer`` register changed bodies under the same types.
Prints one JSON line: a list of ``{"workflow_id", "ok", "error"}``.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import durable_samples
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from beamish.durable import DATA_CONVERTER, WorkflowEntry, WorkflowEnv
from beamish.durable._interceptors import ContextInterceptor
from beamish.durable._workflow import workflow_class

SUBJECT = {
    "original": durable_samples.replay_subject,
    "renamed_activity": durable_samples.replay_subject_renamed_activity,
    "added_timer": durable_samples.replay_subject_added_timer,
}
LUA_SUBJECT = {
    "original": durable_samples.LUA_REPLAY_SUBJECT,
    "renamed_activity": durable_samples.LUA_REPLAY_RENAMED,
    "added_timer": durable_samples.LUA_REPLAY_ADDED_TIMER,
}
LUA_MODULES = ("funcs", "time", "uuid", "workflow")


async def main(variant: str, files: list[str]) -> None:
    env = WorkflowEnv(client="app:temporal", worker="app:worker", task_queue="replay")
    from beamish.durable._lua import lua_workflow_body

    lua_body = lua_workflow_body(
        "app:lua_replay_subject", LUA_SUBJECT[variant], modules=LUA_MODULES
    )
    entries = [
        WorkflowEntry("app:replay_subject", SUBJECT[variant]),
        WorkflowEntry("app:replay_child", durable_samples.replay_child),
        WorkflowEntry("app:lua_replay_subject", lua_body, kind="workflow.lua"),
    ]
    replayer = Replayer(
        workflows=[workflow_class(e, env) for e in entries],
        interceptors=[ContextInterceptor()],
        data_converter=DATA_CONVERTER,
    )
    out = []
    for path in files:
        with open(path) as f:
            history = WorkflowHistory.from_json(os.path.basename(path), f.read())
        result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
        err = result.replay_failure
        out.append(
            {
                "workflow_id": history.workflow_id,
                "ok": err is None,
                "error": None if err is None else f"{type(err).__name__}: {err}",
            }
        )
    print(json.dumps(out))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2:]))
    sys.stdout.flush()
    # The SDK's core threads can abort interpreter finalization ("PyGILState_Release ...
    # must be current"); the result is printed, so leave without finalizing.
    os._exit(0)
