"""A durable worker in its own process, for crash tests: SIGKILL it and start another.

Usage: python crash_worker.py ADDRESS TASK_QUEUE STEPS_FILE

Serves the workflows of ``durable_samples`` on TASK_QUEUE; activity ``app:step`` appends
its argument to STEPS_FILE (one line per run, flushed and fsynced), so the test counts
activity executions from outside any worker. Prints ``ready`` once polling.
"""

from __future__ import annotations

import os
import sys

import trio

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import durable_samples

from beamish.actors import Node
from beamish.durable import ClientConfig, TemporalClient
from beamish.durable._lua import lua_workflow_body


async def main(address: str, task_queue: str, steps_file: str) -> None:
    def step(tag: str) -> str:
        with open(steps_file, "a") as f:
            f.write(tag + "\n")
            f.flush()
            os.fsync(f.fileno())
        return tag

    async with Node() as node:
        node.functions.register("app:step", step)
        node.functions.register("app:double", lambda x: x * 2)
        tc = TemporalClient("app:temporal", ClientConfig(address=address))
        await tc.start(node)
        host = tc.add_worker(
            "app:worker", task_queue, options={"sticky_schedule_to_start_timeout": "1s"}
        )
        host.register_workflow("app:steps_with_timer", durable_samples.steps_with_timer)
        host.register_workflow("app:steps_with_signal", durable_samples.steps_with_signal)
        host.register_workflow(
            "app:lua_steps_with_timer",
            lua_workflow_body(
                "app:lua_steps_with_timer",
                durable_samples.LUA_STEPS_WITH_TIMER,
                modules=["funcs", "time"],
            ),
        )
        await host.start_worker()
        print("ready", flush=True)
        try:
            await trio.sleep_forever()
        finally:
            await tc.aclose()


if __name__ == "__main__":
    trio.run(main, *sys.argv[1:4])
