"""YAML kinds of the supervision layer: ``process.service`` and ``process.supervisor``.

Both are kind handlers (:class:`beamish.actors.KindHandler`: ``kind``, ``order``,
``validate``, ``install``), exported as ``KIND_HANDLERS`` for the shell to collect; this
layer never imports the shell and sees the app and its registry through the kernel's
``AppLike`` and ``RegistryLike`` protocols. Validation runs for every entry before
anything starts and raises the entry's ``LoadError`` (``entry.error(...)`` names the entry
and its file).

``process.service`` (Wippy's documented fields)::

    - name: worker
      kind: process.service
      process: app:worker          # required: a process entry (process.py, process.lua,
                                   #   process.supervisor, ...); bare names resolve in
                                   #   this namespace
      host: app:processes          # a process.host entry; default: the app's first
                                   #   process.host (beamish leniency: Wippy requires it)
      input: [1, "two"]            # positional args of the process
      lifecycle: {auto_start: true, requires: [db], restart: {max_attempts: 3}, ...}

Dependencies are ``lifecycle.requires`` (and legacy ``depends_on``) plus any string in
``input`` that is the full ID of another service entry (Wippy also extracts registry
references from entry config). ``requires`` may name any entry; an entry that is not a
service (a host, a function, a Temporal client) counts as running once installed. An
unknown ID or a cycle among services is a load error.

``process.supervisor`` (beamish's, OTP-shaped)::

    - name: pipeline
      kind: process.supervisor
      host: app:processes          # default host of the children (and of the
                                   #   supervisor when it runs as a service)
      strategy: rest_for_one       # one_for_one (default) | one_for_all | rest_for_one
      intensity: 3                 # max restarts within period (default 1)
      period: 10s                  # default 5s
      backoff:                     # optional: delay restarts (default: immediate)
        initial_delay: 100ms       #   fields as lifecycle.restart (no max_attempts)
        max_delay: 5s
        backoff_factor: 2
        jitter: 0.1
      children:                    # started in order, stopped in reverse
        - id: reader               # required, unique
          process: app:reader      # required: a process entry (a process.supervisor
                                   #   entry nests a supervisor)
          args: [1]                # optional (alias: input)
          restart: permanent       # permanent (default) | transient | temporary
          shutdown: 5s             # duration | brutal_kill | infinity
                                   #   (default 5s; infinity for supervisors)
          type: worker             # worker | supervisor (default from the process kind)
          host: app:processes      # optional
          name: reader             # optional registered name
      lifecycle: {auto_start: true}  # optional: run it as a service

The entry registers a process body under its ID, so it can be spawned like any process
(``process.spawn("app:pipeline", host)`` from Lua), nested in another supervisor, or
wrapped in a service. With ``lifecycle`` it *is* also a service: when it exceeds its
restart intensity and exits, the service restarts it with backoff (escalation ends at
the root supervisor, as in Wippy).

App lifecycle: the first service installed hooks the node's :class:`ServiceManager`
into the app — ``on_start`` starts the auto_start services in dependency order,
``on_stop`` stops every service in reverse within its stop_timeout and marks the app
unclean (``app.clean = False``) when a process had to be terminated.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Mapping
from typing import Any

from beamish.actors import AppLike, Entry, Error, RegistryLike

from ._backoff import Backoff
from ._child_spec import ChildSpec, SpecError
from ._deps import DependencyError, check_graph
from ._flags import SupervisorSpec, backoff_from_mapping
from ._lifecycle import Lifecycle, lifecycle_from_config
from ._manager import ServiceManager, services
from ._service import ServiceSpec
from ._supervisor import Supervisor

__all__ = ["KIND_HANDLERS", "ProcessServiceKind", "ProcessSupervisorKind"]

log = logging.getLogger("beamish.supervision")

#: Kinds whose entries are services managed by the ServiceManager.
SERVICE_KINDS = frozenset({"process.service", "process.supervisor"})
#: Kinds that are not processes although their names start with "process.".
_NOT_SPAWNABLE = frozenset({"process.host", "process.service"})
_HOST_KINDS = frozenset({"process.host", "temporal.worker"})


def _is_spawnable(kind: str) -> bool:
    return (kind.startswith("process.") and kind not in _NOT_SPAWNABLE) or kind.startswith(
        "workflow."
    )


def _is_service(entry: Entry) -> bool:
    if entry.kind == "process.service":
        return True
    return entry.kind == "process.supervisor" and entry.data.get("lifecycle") is not None


# ======================================================================================
# Shared field checks
# ======================================================================================


def _ref_to_process(entry: Entry, registry: RegistryLike, value: Any, field: str) -> str:
    if not isinstance(value, str) or not value:
        raise entry.error(f"'{field}' must be a process entry ID, got {value!r}")
    ref = entry.ref(value)
    if ref not in registry:
        raise entry.error(
            f"'{field}' {ref!r} not found; declare a process entry (process.py, process.lua, "
            "process.supervisor, ...) with that ID"
        )
    kind = registry.get(ref).kind
    if not _is_spawnable(kind):
        raise entry.error(f"'{field}' {ref!r} is a {kind}, not a process entry")
    return ref


def _ref_to_host(entry: Entry, registry: RegistryLike, value: Any, field: str = "host") -> str:
    if not isinstance(value, str) or not value:
        raise entry.error(f"'{field}' must be a process.host entry ID, got {value!r}")
    ref = entry.ref(value)
    if ref == "node:control":
        raise entry.error(
            f"'{field}' may not be node:control (reserved for service controllers); "
            "use a process.host entry"
        )
    if ref not in registry:
        raise entry.error(f"'{field}' {ref!r} not found; declare a process.host entry with that ID")
    kind = registry.get(ref).kind
    if kind not in _HOST_KINDS:
        raise entry.error(f"'{field}' {ref!r} is a {kind}, not a process.host")
    return ref


def _lifecycle(entry: Entry) -> Lifecycle:
    try:
        return lifecycle_from_config(entry.data.get("lifecycle"))
    except Error as exc:
        raise entry.error(exc.message) from None


def _requires(entry: Entry, registry: RegistryLike, lifecycle: Lifecycle) -> tuple[str, ...]:
    """Resolved ``requires`` plus service IDs found in ``input``; checked to exist."""
    refs: list[str] = []
    for value in lifecycle.requires:
        ref = entry.ref(value)
        if ref not in registry:
            raise entry.error(
                f"lifecycle.requires {ref!r} not found; fix the ID or declare that entry"
            )
        if ref == entry.id:
            raise entry.error("a service cannot require itself")
        refs.append(ref)
    for value in _strings(entry.data.get("input")):
        if value != entry.id and value in registry and _is_service(registry.get(value)):
            refs.append(value)
    return tuple(dict.fromkeys(refs))


def _strings(value: Any) -> list[str]:
    out: list[str] = []
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, str):
            out.append(v)
        elif isinstance(v, Mapping):
            stack.extend(v.values())
        elif isinstance(v, list | tuple):
            stack.extend(v)
    return out


def _check_known(entry: Entry, known: set[str]) -> None:
    unknown = sorted(set(entry.data) - known)
    if unknown:
        raise entry.error(
            f"unknown field {unknown[0]!r} for {entry.kind}; known fields: "
            f"{', '.join(sorted(known))}"
        )


# The service graph of a registry, computed once: {service id: services it requires}.
_GRAPHS: weakref.WeakKeyDictionary[Any, dict[str, tuple[str, ...]]] = weakref.WeakKeyDictionary()


def _service_graph(registry: RegistryLike) -> dict[str, tuple[str, ...]]:
    graph = _GRAPHS.get(registry)
    if graph is None:
        graph = {}
        for e in registry:
            if not _is_service(e):
                continue
            try:
                reqs = _requires(e, registry, _lifecycle(e))
            except Error:
                reqs = ()  # that entry's own validation reports it
            graph[e.id] = reqs
        graph = {k: tuple(r for r in v if r in graph) for k, v in graph.items()}
        _GRAPHS[registry] = graph
    return graph


def _check_cycles(entry: Entry, registry: RegistryLike) -> None:
    try:
        check_graph(_service_graph(registry))
    except DependencyError as exc:
        cycle = exc.details.get("cycle") or []
        if entry.id in cycle:
            raise entry.error(exc.message) from None


def _service_spec(entry: Entry, app: AppLike, process: str, lifecycle: Lifecycle) -> ServiceSpec:
    registry = app.registry
    reqs = tuple(r for r in _requires(entry, registry, lifecycle) if _is_service(registry.get(r)))
    host = entry.data.get("host")
    return ServiceSpec(
        id=entry.id,
        process=process,
        host=entry.ref(host) if host else app.default_host(),
        input=tuple(entry.data.get("input") or ()),
        lifecycle=Lifecycle(
            auto_start=lifecycle.auto_start,
            start_timeout=lifecycle.start_timeout,
            stop_timeout=lifecycle.stop_timeout,
            stable_threshold=lifecycle.stable_threshold,
            requires=reqs,
            restart=lifecycle.restart,
            optional=lifecycle.optional,
            security=lifecycle.security,
        ),
    )


def _manager_for(app: AppLike) -> ServiceManager:
    """The node's manager, hooked into ``app``'s start and stop once."""
    mgr = services(app.node)
    if mgr.app is not app:
        mgr.app = app

        async def start_services() -> None:
            await mgr.start_all()

        async def stop_services() -> None:
            if not await mgr.stop_all():
                app.clean = False
                log.warning(
                    "some services did not stop within their stop_timeout and were terminated"
                )

        app.on_start(start_services)
        app.on_stop(stop_services)
    return mgr


# ======================================================================================
# process.service
# ======================================================================================


class ProcessServiceKind:
    """``process.service``: a process kept running with Wippy's restart rules."""

    kind = "process.service"
    order = 30
    FIELDS = {"process", "host", "input", "lifecycle"}

    def validate(self, entry: Entry, registry: RegistryLike) -> None:
        _check_known(entry, self.FIELDS)
        if "process" not in entry.data:
            raise entry.error("missing 'process': the ID of the process entry to run")
        _ref_to_process(entry, registry, entry.data["process"], "process")
        if entry.data.get("host") is not None:
            _ref_to_host(entry, registry, entry.data["host"])
        inp = entry.data.get("input")
        if inp is not None and not isinstance(inp, list):
            raise entry.error(f"'input' must be a list of arguments, got {inp!r}")
        _requires(entry, registry, _lifecycle(entry))
        _check_cycles(entry, registry)

    async def install(self, entry: Entry, app: AppLike) -> None:
        process = entry.ref(entry.data["process"])
        _manager_for(app).add(_service_spec(entry, app, process, _lifecycle(entry)))


# ======================================================================================
# process.supervisor
# ======================================================================================


class ProcessSupervisorKind:
    """``process.supervisor``: an OTP supervisor over process entries."""

    kind = "process.supervisor"
    order = 25
    FIELDS = {"host", "strategy", "intensity", "period", "backoff", "children", "lifecycle"}
    CHILD_FIELDS = {"id", "process", "args", "input", "restart", "shutdown", "type", "host", "name"}

    def spec(self, entry: Entry, registry: RegistryLike) -> SupervisorSpec:
        """The :class:`SupervisorSpec` an entry describes (raises its LoadError)."""
        data = entry.data
        children_raw = data.get("children", [])
        if not isinstance(children_raw, list):
            raise entry.error(f"'children' must be a list, got {children_raw!r}")
        default_host = (
            _ref_to_host(entry, registry, data["host"]) if data.get("host") is not None else None
        )
        children: list[ChildSpec] = []
        for i, raw in enumerate(children_raw):
            label = f"children[{i}]"
            if not isinstance(raw, Mapping):
                raise entry.error(f"{label} must be a mapping with 'id' and 'process'")
            unknown = sorted(set(raw) - self.CHILD_FIELDS)
            if unknown:
                raise entry.error(
                    f"{label}: unknown field {unknown[0]!r}; known fields: "
                    f"{', '.join(sorted(self.CHILD_FIELDS))}"
                )
            if "id" not in raw:
                raise entry.error(f"{label}: missing 'id' (a name unique in this supervisor)")
            if "process" not in raw:
                raise entry.error(f"{label}: missing 'process' (a process entry ID)")
            process = _ref_to_process(entry, registry, raw["process"], f"{label}.process")
            host = (
                _ref_to_host(entry, registry, raw["host"], f"{label}.host")
                if raw.get("host") is not None
                else default_host
            )
            ctype = raw.get("type")
            if ctype is None and registry.get(process).kind == "process.supervisor":
                ctype = "supervisor"
            args = raw.get("args", raw.get("input"))
            try:
                children.append(
                    ChildSpec(
                        id=raw.get("id"),  # type: ignore[arg-type]
                        start=process,
                        args=args if args is not None else (),
                        restart=raw.get("restart", "permanent"),
                        shutdown=raw.get("shutdown"),
                        type=ctype,
                        host=host,
                        name=raw.get("name"),
                    )
                )
            except SpecError as exc:
                raise entry.error(f"{label}: {exc.message} [{exc.tag}]") from None
        backoff: Backoff | None = None
        if data.get("backoff") is not None:
            if not isinstance(data["backoff"], Mapping):
                raise entry.error("'backoff' must be a mapping")
            try:
                backoff = backoff_from_mapping(data["backoff"])
            except Error as exc:
                raise entry.error(f"backoff: {exc.message}") from None
        try:
            return SupervisorSpec(
                children=tuple(children),
                strategy=data.get("strategy", "one_for_one"),
                intensity=data.get("intensity", 1),
                period=data.get("period", 5.0),
                backoff=backoff,
            )
        except SpecError as exc:
            raise entry.error(f"{exc.message} [{exc.tag}]") from None

    def validate(self, entry: Entry, registry: RegistryLike) -> None:
        _check_known(entry, self.FIELDS)
        self.spec(entry, registry)
        if _is_service(entry):
            _requires(entry, registry, _lifecycle(entry))
            _check_cycles(entry, registry)

    async def install(self, entry: Entry, app: AppLike) -> None:
        spec = self.spec(entry, app.registry)
        node = app.node

        async def supervisor(ctx: Any, *args: Any) -> None:
            await Supervisor(spec).run(ctx)

        supervisor.__qualname__ = f"supervisor[{entry.id}]"
        node.register_process(entry.id, supervisor)
        if _is_service(entry):
            _manager_for(app).add(_service_spec(entry, app, entry.id, _lifecycle(entry)))


KIND_HANDLERS = (ProcessServiceKind(), ProcessSupervisorKind())
