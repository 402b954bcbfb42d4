"""Entry kinds of the durable layer: ``temporal.client``, ``temporal.worker``,
``workflow.py`` and ``workflow.lua``.

What it is for
    The app shell (``beamish._kinds``) collects ``KIND_HANDLERS`` from every layer; each
    handler validates its entries at load time and installs them on the running node.
    These four turn YAML into a running durable setup:

    ``temporal.client``  ``address`` (empty / ``embedded``: the dev server persisting to
                         ``<app>/.beamish/temporal.db``), ``namespace``, ``auth``, ``tls``.
    ``temporal.worker``  ``client`` (required, a ``temporal.client`` entry),
                         ``task_queue`` (required), ``worker_options`` (Wippy's names,
                         see ``_worker.WORKER_OPTIONS``), ``activity_options`` (defaults
                         for every activity its workflows call).
    ``workflow.py``      ``handler: package.module:callable`` (``async def body(ctx,
                         *args)``), ``meta.temporal.workflow.worker`` (required);
                         ``meta.temporal.workflow.sandbox: true`` imports the handler
                         inside Temporal's sandbox on every run.
    ``workflow.lua``     a Lua script run by the Lua bridge's driver against the workflow
                         context (fresh Lua runtime per run);
                         ``meta.temporal.workflow.worker`` (required).

    The workflow type name is the entry ID. Any function entry can be called as an
    activity (its type is the function's entry ID); ``meta.temporal.activity.worker`` is
    accepted but not required (a deliberate relaxation of Wippy's rule: in one process
    every function is reachable anyway).

Lifecycle
    Installing only creates objects: clients, worker hosts (added to the node, so spawn
    can route to them) and workflow registrations. One start hook then starts each
    client (server, bridge thread, connection) and each worker; one stop hook closes the
    clients (workers, bridge, server) before the node shuts down. An embedded server is
    supervised (``_supervisor.py``): restarted on the same database and port when it dies,
    and when it cannot be kept running the client calls ``app.fail`` (the app stops, not
    clean).
"""

from __future__ import annotations

import inspect
import weakref
from dataclasses import dataclass, field
from typing import Any

# The kernel's protocols for what kind handlers see of the shell's App and Registry.
from beamish.actors import AppLike as App
from beamish.actors import Entry, import_handler
from beamish.actors import RegistryLike as Registry
from beamish.luabridge import LuaEntrySpec, LuaSyntaxError, add_module, spec_from_entry

from ._client import ClientConfig, TemporalClient
from ._host import WorkerHost
from ._lua import (
    LuaWorkflow,
    check_workflow_modules,
    install_workflow_module,
    new_workflow_sandbox,
)
from ._wfmodule import bind_app
from ._worker import WORKER_OPTIONS

__all__ = ["KIND_HANDLERS"]


@dataclass
class _AppDurable:
    clients: dict[str, TemporalClient] = field(default_factory=dict)
    hooked: bool = False


_apps: weakref.WeakKeyDictionary[Any, _AppDurable] = weakref.WeakKeyDictionary()


def _state(app: App) -> _AppDurable:
    st = _apps.get(app)
    if st is None:
        st = _apps[app] = _AppDurable()
    if not st.hooked:
        st.hooked = True
        # Lua functions and processes of this app start its workflows by entry ID.
        bind_app(app, lambda entry: _worker_ref(entry, app.registry, "workflow"))

        async def start() -> None:
            for tc in st.clients.values():
                await tc.start(app.node)
                for host in tc.workers.values():
                    await host.start_worker()

        async def stop() -> None:
            for tc in reversed(list(st.clients.values())):
                await tc.aclose()

        app.on_start(start)
        app.on_stop(stop)
    return st


def _worker_ref(entry: Entry, registry: Registry, section: str) -> str | None:
    temporal = (entry.meta or {}).get("temporal") or {}
    if not isinstance(temporal, dict):
        raise entry.error("meta.temporal must be a mapping")
    sec = temporal.get(section) or {}
    if not isinstance(sec, dict):
        raise entry.error(f"meta.temporal.{section} must be a mapping")
    worker = sec.get("worker")
    if worker is None:
        return None
    ref = entry.ref(worker)
    if ref not in registry or registry.get(ref).kind != "temporal.worker":
        raise entry.error(
            f"meta.temporal.{section}.worker {worker!r} is not a temporal.worker entry"
        )
    return ref


class TemporalClientKind:
    kind = "temporal.client"
    fields = frozenset(
        {"address", "namespace", "auth", "tls", "connection_timeout", "lifecycle"}
    )
    order = 1

    def validate(self, entry: Entry, registry: Registry) -> None:
        try:
            ClientConfig.from_entry(entry.id, entry.data)
        except Exception as e:
            raise entry.error(str(e)) from e

    async def install(self, entry: Entry, app: App) -> None:
        config = ClientConfig.from_entry(entry.id, entry.data)
        st = _state(app)
        embedded = [
            e
            for e in app.registry.find(self.kind)
            if ClientConfig.from_entry(e.id, e.data).embedded
        ]
        db_name = "temporal.db" if len(embedded) <= 1 else f"temporal-{entry.name}.db"
        tc = TemporalClient(
            entry.id, config, db_filename=app.state_dir / db_name, on_fatal=app.fail
        )
        tc.attach(app.node)
        st.clients[entry.id] = tc


class TemporalWorkerKind:
    kind = "temporal.worker"
    fields = frozenset(
        {"client", "task_queue", "worker_options", "activity_options", "lifecycle"}
    )
    order = 2

    def validate(self, entry: Entry, registry: Registry) -> None:
        client = entry.data.get("client")
        if not client:
            raise entry.error("missing 'client' (the temporal.client entry it polls with)")
        ref = entry.ref(client)
        if ref not in registry or registry.get(ref).kind != "temporal.client":
            raise entry.error(f"'client' {client!r} is not a temporal.client entry")
        tq = entry.data.get("task_queue")
        if not isinstance(tq, str) or not tq:
            raise entry.error("missing 'task_queue' (a non-empty string)")
        opts = entry.data.get("worker_options") or {}
        if not isinstance(opts, dict):
            raise entry.error("'worker_options' must be a mapping")
        unknown = sorted(set(opts) - set(WORKER_OPTIONS))
        if unknown:
            raise entry.error(
                f"unknown worker_options {', '.join(unknown)}; known: "
                + ", ".join(sorted(WORKER_OPTIONS))
            )

    async def install(self, entry: Entry, app: App) -> None:
        st = _state(app)
        tc = st.clients[entry.ref(entry.data["client"])]
        options = dict(entry.data.get("worker_options") or {})
        if entry.data.get("activity_options"):
            options["activity_options"] = dict(entry.data["activity_options"])
        tc.add_worker(entry.id, entry.data["task_queue"], options=options)


def _worker_host(entry: Entry, app: App) -> WorkerHost:
    ref = _worker_ref(entry, app.registry, "workflow")
    assert ref is not None
    host = app.node.host(ref)
    assert isinstance(host, WorkerHost)
    return host


class _WorkflowKindBase:
    order = 25

    def _require_worker(self, entry: Entry, registry: Registry) -> None:
        if _worker_ref(entry, registry, "workflow") is None:
            raise entry.error(
                "missing meta.temporal.workflow.worker (the temporal.worker entry that runs "
                "this workflow)"
            )

    async def run(self, entry: Entry, app: App, args: tuple[Any, ...]) -> Any:
        host = _worker_host(entry, app)
        return await app.node.exec(entry.id, *args, host=host.name)


class WorkflowPyKind(_WorkflowKindBase):
    kind = "workflow.py"
    fields = frozenset({"handler"})

    def validate(self, entry: Entry, registry: Registry) -> None:
        self._require_worker(entry, registry)
        fn = import_handler(entry)
        if not inspect.iscoroutinefunction(fn):
            raise entry.error(
                f"handler {entry.data['handler']!r} must be 'async def body(ctx, *args)'"
            )

    async def install(self, entry: Entry, app: App) -> None:
        sandboxed = bool(
            (((entry.meta or {}).get("temporal") or {}).get("workflow") or {}).get("sandbox")
        )
        fn = import_handler(entry)  # also puts the entry folder on sys.path (the sandbox
        body: Any = entry.data["handler"] if sandboxed else fn  # imports the path again)
        _worker_host(entry, app).register_workflow(
            entry.id, body, sandboxed=sandboxed, kind=self.kind
        )


def _library_specs(registry: Registry) -> dict[str, LuaEntrySpec]:
    return {e.id: spec_from_entry(e) for e in registry.find("library.lua")}


class WorkflowLuaKind(_WorkflowKindBase):
    """``workflow.lua``: a Lua script run as a durable workflow (``_lua.py``)."""

    kind = "workflow.lua"
    fields = frozenset({"source", "method", "modules", "imports", "security"})

    def validate(self, entry: Entry, registry: Registry) -> None:
        self._require_worker(entry, registry)
        spec = spec_from_entry(entry)
        check_workflow_modules(spec)
        libraries = _library_specs(registry)
        for alias, target in spec.imports.items():
            if target not in libraries:
                raise entry.error(f"import {alias!r} -> {target!r} is not a library.lua entry")
        try:
            LuaWorkflow(spec, libraries).prepare(new_workflow_sandbox(f"check:{entry.id}"))
        except LuaSyntaxError as e:
            raise entry.error(str(e)) from e

    async def install(self, entry: Entry, app: App) -> None:
        body = LuaWorkflow(spec_from_entry(entry), _library_specs(app.registry))
        _worker_host(entry, app).register_workflow(entry.id, body, kind=self.kind)


# ``require("workflow")`` in every Lua sandbox: functions and processes start workflows
# with it (``_wfmodule.py``); inside a workflow it is the workflow's own API.
add_module("workflow", install_workflow_module)

KIND_HANDLERS: list[Any] = [
    TemporalClientKind(),
    TemporalWorkerKind(),
    WorkflowPyKind(),
    WorkflowLuaKind(),
]
