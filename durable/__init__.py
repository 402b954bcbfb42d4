"""beamish.durable — workflows: processes whose state lives in Temporal.

A workflow is the same abstraction as a process: a body written
against :class:`~beamish.actors.Context`, spawned on a host, addressed by a PID. Spawned
on a ``temporal.worker`` host it becomes a durable Temporal workflow. Layers, lowest
first:

* :mod:`._server` — :class:`DevServer`, the embedded ``temporal server start-dev``.
* :mod:`._bridge` — :class:`AsyncioBridge`, the asyncio thread owning Temporal, bridged
  to the trio kernel.
* :mod:`._convert`, :mod:`._interceptors` — payloads, errors and the ``wippy-context``
  header.
* :mod:`._options`, :mod:`._fifo` — Wippy's option names read into temporalio keywords
  (activities, child workflows, starts from outside), and the per-destination FIFO that
  keeps sends to one workflow in order (both sides use both).
* :mod:`._wchannel`, :mod:`._context` — :class:`WorkflowContext`: the context backend
  inside a workflow (activities, durable timers, signals, child workflows).
* :mod:`._workflow`, :mod:`._activity`, :mod:`._worker` — one workflow type per entry,
  one dynamic activity per function, the temporalio worker.
* :mod:`._host` — :class:`WorkerHost`: workflow PIDs that behave like processes (send,
  cancel, terminate, monitor, link, exec, names).
* :mod:`._client` — :class:`ClientConfig`, :func:`connect_client` and
  :class:`TemporalClient`, which owns the server, the bridge thread and the connection of
  one ``temporal.client`` and creates its worker hosts.
* :mod:`._lua` — Lua workflows: a fresh deterministic Lua sandbox per run, driven by the
  Lua bridge's driver against the workflow context; the ``workflow`` Lua module.
* :mod:`._kinds` — ``temporal.client``, ``temporal.worker``, ``workflow.py`` and
  ``workflow.lua`` entries for the app shell (``KIND_HANDLERS``).

Workflow-defining modules here never import trio: Temporal's sandbox may re-import them.
"""

from beamish.actors import publish

from ._bridge import AsyncioBridge as AsyncioBridge
from ._client import ClientConfig as ClientConfig
from ._client import TemporalClient as TemporalClient
from ._client import connect_client as connect_client
from ._context import WorkflowContext as WorkflowContext
from ._context import WorkflowEnv as WorkflowEnv
from ._context import WorkflowFuture as WorkflowFuture
from ._convert import DATA_CONVERTER as DATA_CONVERTER
from ._host import WorkerHost as WorkerHost
from ._kinds import KIND_HANDLERS as KIND_HANDLERS
from ._lua import lua_workflow_body as lua_workflow_body
from ._server import DevServer as DevServer
from ._server import ServerState as ServerState
from ._server import find_temporal_binary as find_temporal_binary
from ._wchannel import WorkflowChannel as WorkflowChannel
from ._worker import WorkflowWorker as WorkflowWorker
from ._workflow import WorkflowEntry as WorkflowEntry

__all__ = [
    "DATA_CONVERTER",
    "KIND_HANDLERS",
    "AsyncioBridge",
    "ClientConfig",
    "DevServer",
    "ServerState",
    "TemporalClient",
    "WorkerHost",
    "WorkflowChannel",
    "WorkflowContext",
    "WorkflowEntry",
    "WorkflowEnv",
    "WorkflowFuture",
    "WorkflowWorker",
    "connect_client",
    "find_temporal_binary",
    "lua_workflow_body",
]

publish(globals())
