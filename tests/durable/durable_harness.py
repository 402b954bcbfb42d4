"""A kernel node + bridge + Temporal client + durable worker, for tests (trio side)."""

from __future__ import annotations

import contextlib
import functools
import uuid
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import temporalio.client

from beamish.actors import Node
from beamish.durable._bridge import AsyncioBridge
from beamish.durable._client import connect_client
from beamish.durable._context import WorkflowEnv
from beamish.durable._worker import NodePort, WorkflowWorker
from beamish.durable._workflow import WorkflowEntry

CLIENT = "app:temporal"
WORKER = "app:worker"


@dataclass
class Harness:
    node: Node
    bridge: AsyncioBridge
    client: temporalio.client.Client
    worker: WorkflowWorker
    task_queue: str

    async def start(self, entry_id: str, *args: Any, id: str | None = None, **kw: Any) -> Any:
        """Start a workflow; returns its handle."""
        wf_id = id or f"t-{uuid.uuid4().hex[:10]}"
        kw.setdefault("execution_timeout", timedelta(seconds=30))
        start = functools.partial(
            self.client.start_workflow,
            entry_id,
            args=list(args),
            id=wf_id,
            task_queue=self.task_queue,
            **kw,
        )
        return await self.bridge.run(start)

    async def result(self, handle: Any) -> Any:
        return await self.bridge.run(handle.result)

    async def execute(self, entry_id: str, *args: Any, **kw: Any) -> Any:
        return await self.result(await self.start(entry_id, *args, **kw))

    async def on_loop(self, fn: Callable[..., Any], *args: Any, **kw: Any) -> Any:
        return await self.bridge.run(functools.partial(fn, *args, **kw))


@contextlib.asynccontextmanager
async def harness(
    server: Any,
    task_queue: str,
    entries: Mapping[str, Any],
    *,
    functions: Mapping[str, Callable[..., Any]] | None = None,
    options: Mapping[str, Any] | None = None,
) -> AsyncIterator[Harness]:
    async with Node() as node:
        for fid, fn in (functions or {}).items():
            node.functions.register(fid, fn)
        async with AsyncioBridge.open() as bridge:
            client = await bridge.run(connect_client, server.address)
            env = WorkflowEnv(client=CLIENT, worker=WORKER, task_queue=task_queue)
            wf_entries = {
                eid: e if isinstance(e, WorkflowEntry) else WorkflowEntry(eid, e)
                for eid, e in entries.items()
            }
            worker = WorkflowWorker(
                bridge=bridge,
                client=client,
                env=env,
                entries=wf_entries,
                port=NodePort(node, bridge),
                options=options,
            )
            await worker.start()
            try:
                yield Harness(node, bridge, client, worker, task_queue)
            finally:
                await worker.aclose()
