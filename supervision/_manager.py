"""The service manager: every service of a node, started and stopped in dependency order.

Wippy's root supervisor, for beamish: one
:class:`ServiceManager` per node (:func:`services` finds or creates it) holds the
:class:`Service` objects and runs whole-set operations:

* :meth:`ServiceManager.start` / :meth:`start_all` start the requested services and,
  first, everything they require, transitively (also services without
  ``auto_start``); a required service that already ran to completion (Exited after a
  normal return, e.g. a migration job) counts as satisfied and is not run again.
  Each service waits only for its own dependencies, so independent branches start in
  parallel. A service counts as started once it reached Running
  (within its ``start_timeout``); a dependency that failed to start blocks its
  dependents, and the start fails — unless that dependency is ``startup: optional``,
  which only blocks its own subtree.
* :meth:`stop` / :meth:`stop_all` stop in reverse: a service stops after every service
  that requires it has stopped; independent branches in parallel. Each stop is
  CANCEL "service stopping" → ``stop_timeout`` → terminate (see :mod:`._service`).
  ``stop_all`` returns False when some process had to be terminated (unclean).
* Before any start the graph is checked (:func:`check_graph`): an unknown ``requires``
  or a cycle raises :class:`DependencyError` naming the services.

Observing: :meth:`state`, :meth:`status` and Wippy-shaped :meth:`state_table` /
:meth:`state_tables`. The latter two are also registered as functions
``system.supervisor:state`` (argument: service ID) and ``system.supervisor:states``
on the node, so Lua (``system.supervisor.state(id)`` in the bridge, or
``funcs.call``) and any process can read service states by calling a function.

Concurrency: operations on one service are serialised by its lock; whole-set
operations take the locks one service at a time, never two at once, so they cannot
deadlock each other.
"""

from __future__ import annotations

import logging
import random
import weakref
from typing import Any

import trio

from beamish.actors import Error, ErrorKind, Node, Timeout

from ._deps import check_graph, closure, dependents
from ._service import Service, ServiceSpec, ServiceState, ServiceStatus

__all__ = ["CONTROL_HOST", "ServiceManager", "services"]

log = logging.getLogger("beamish.supervision")

#: Host of the service controllers (Wippy's supervisor pseudo-PIDs).
CONTROL_HOST = "node:control"
#: Function IDs registered on the node for reading service states.
STATE_FUNCTION = "system.supervisor:state"
STATES_FUNCTION = "system.supervisor:states"
#: Extra seconds a stop waits for a controller beyond the service's stop_timeout.
_STOP_GRACE = 1.0

# Managers by id(node). The node keeps its manager alive (the state functions it
# registers are the manager's bound methods); this map holds it weakly, so a finished
# node and its manager are collected together. (A WeakKeyDictionary keyed by the node
# would leak both: its value refers back to the key.)
_MANAGERS: weakref.WeakValueDictionary[int, ServiceManager] = weakref.WeakValueDictionary()


def services(node: Node) -> ServiceManager:
    """The node's :class:`ServiceManager`, created on first use."""
    mgr = _MANAGERS.get(id(node))
    if mgr is None or mgr.node is not node:
        mgr = ServiceManager(node)
        _MANAGERS[id(node)] = mgr
    return mgr


class ServiceManager:
    """All services of one node. Prefer :func:`services` to get the node's manager.

    ``rng`` draws restart jitter (seed it for reproducible runs).
    """

    def __init__(self, node: Node, *, rng: random.Random | None = None) -> None:
        self.node = node
        self.rng = rng if rng is not None else random.Random()
        self._services: dict[str, Service] = {}
        if CONTROL_HOST not in node.hosts:
            node.add_host(CONTROL_HOST)
        node.functions.register(STATE_FUNCTION, self.state_table)
        node.functions.register(STATES_FUNCTION, self.state_tables)
        #: Set by the YAML kind when it hooks this manager into an app's lifecycle.
        self.app: Any = None

    # -- the set --------------------------------------------------------------------------

    def add(self, spec: ServiceSpec) -> Service:
        """Add a service (not started). ``Error(ALREADY_EXISTS)`` for a taken ID."""
        if spec.id in self._services:
            raise Error(
                f"service {spec.id!r} already exists",
                kind=ErrorKind.ALREADY_EXISTS,
                retryable=False,
            )
        svc = Service(spec, self.node, self.rng)
        self._services[spec.id] = svc
        return svc

    def get(self, service_id: str) -> Service:
        svc = self._services.get(service_id)
        if svc is None:
            raise Error(
                f"unknown service {service_id!r}; known services: "
                f"{', '.join(sorted(self._services)) or '(none)'}",
                kind=ErrorKind.NOT_FOUND,
                retryable=False,
            )
        return svc

    def __contains__(self, service_id: object) -> bool:
        return service_id in self._services

    def __iter__(self) -> Any:
        return iter(list(self._services.values()))

    def __len__(self) -> int:
        return len(self._services)

    def graph(self) -> dict[str, tuple[str, ...]]:
        return {i: s.lifecycle.requires for i, s in self._services.items()}

    def check(self) -> None:
        """Raise :class:`DependencyError` for an unknown ``requires`` or a cycle."""
        check_graph(self.graph())

    # -- observing ----------------------------------------------------------------------

    def state(self, service_id: str) -> ServiceState:
        return self.get(service_id).state

    def status(self, service_id: str) -> ServiceStatus:
        return self.get(service_id).status()

    def state_table(self, service_id: str) -> dict[str, Any]:
        """Wippy's ``system.supervisor.state(id)``: id, status, desired, retry_count,
        last_update, started_at (ns), details."""
        return self.get(service_id).state_table()

    def state_tables(self) -> list[dict[str, Any]]:
        """Wippy's ``system.supervisor.states()``, sorted by ID."""
        return [self._services[i].state_table() for i in sorted(self._services)]

    # -- starting -----------------------------------------------------------------------

    async def start(self, service_id: str) -> None:
        """Start ``service_id`` after everything it requires; wait until it is Running.

        Raises :class:`Timeout` when it (or a dependency) does not reach Running within
        its ``start_timeout``, ``Error`` when it ended before reaching Running, and
        :class:`DependencyError` for a bad graph."""
        self.get(service_id)
        self.check()
        await self._start_set(
            closure(self.graph(), [service_id]), roots={service_id}, strict={service_id}
        )

    async def start_all(self) -> None:
        """Start every ``auto_start`` service (and what they require), in order.

        Raises the first failure of a required service; optional ones only log."""
        self.check()
        wanted = [i for i, s in self._services.items() if s.lifecycle.auto_start]
        await self._start_set(closure(self.graph(), wanted), roots=set(wanted), strict=set())

    async def _start_set(self, ids: set[str], *, roots: set[str], strict: set[str]) -> None:
        """Start ``ids`` (a closure under ``requires``), each after its dependencies.

        A dependency that is not a root and already *exited normally* (a finished job,
        e.g. a migration) counts as satisfied and is not run again."""
        graph = self.graph()
        done = {i: trio.Event() for i in ids}
        ok: dict[str, bool] = {}
        errors: list[Error] = []

        async def one(sid: str) -> None:
            svc = self._services[sid]
            try:
                for dep in graph[sid]:
                    await done[dep].wait()
                    if not ok[dep]:
                        ok[sid] = False
                        log.warning("service %s not started: dependency %s did not start", sid, dep)
                        if sid in strict:
                            errors.append(
                                Error(
                                    f"service {sid!r} not started: its dependency {dep!r} "
                                    "did not start",
                                    kind=ErrorKind.UNAVAILABLE,
                                    details={"service": sid, "dependency": dep},
                                )
                            )
                        return
                if sid not in roots and svc.state is ServiceState.EXITED and svc.last_error is None:
                    ok[sid] = True
                    return
                try:
                    await self._start_one(svc)
                except Error as exc:
                    ok[sid] = False
                    if svc.lifecycle.optional and sid not in strict:
                        log.warning("optional service %s did not start: %s", sid, exc)
                    else:
                        errors.append(exc)
                else:
                    ok[sid] = True
            finally:
                ok.setdefault(sid, False)
                done[sid].set()

        async with trio.open_nursery() as nursery:
            for sid in sorted(ids):
                nursery.start_soon(one, sid)
        if errors:
            raise errors[0]

    async def _start_one(self, svc: Service) -> None:
        async with svc.lock:
            if svc.state is ServiceState.STOPPING or (svc.active and svc.desired == "stopped"):
                await svc.wait_inactive()
            if not svc.active:
                svc.activate(CONTROL_HOST)
            lc = svc.lifecycle
            reached = await svc.wait_until(
                lambda s: s.reached_running or not s.active, lc.start_timeout
            )
        if not reached:
            raise Timeout(
                f"service {svc.id!r} did not reach Running within {lc.start_timeout:g}s "
                f"(state {svc.state.value}: {svc.details}); raise lifecycle.start_timeout "
                "or check the process"
            )
        if not svc.reached_running:
            err = svc.last_error
            raise Error(
                f"service {svc.id!r} failed to start: "
                + (err.message if err is not None else svc.details),
                kind=err.kind if err is not None else ErrorKind.INTERNAL,
                retryable=err.retryable if err is not None else None,
                details={"service": svc.id, "state": svc.state.value},
            )

    # -- stopping -----------------------------------------------------------------------

    async def stop(self, service_id: str) -> bool:
        """Stop ``service_id`` after every active service that requires it.

        Returns False when a process had to be terminated after its stop_timeout."""
        self.get(service_id)
        users = dependents(self.graph())
        ids: set[str] = set()
        stack = [service_id]
        while stack:
            sid = stack.pop()
            if sid not in ids:
                ids.add(sid)
                stack.extend(users.get(sid, ()))
        return await self._stop_set(ids)

    async def stop_all(self) -> bool:
        """Stop every service, dependents first. False when any stop was forced."""
        return await self._stop_set(set(self._services))

    async def _stop_set(self, ids: set[str]) -> bool:
        users = dependents(self.graph())
        done = {i: trio.Event() for i in ids}
        clean = True

        async def one(sid: str) -> None:
            nonlocal clean
            try:
                for user in users.get(sid, ()):
                    if user in done:
                        await done[user].wait()
                if not await self._stop_one(self._services[sid]):
                    clean = False
            finally:
                done[sid].set()

        async with trio.open_nursery() as nursery:
            for sid in sorted(ids):
                nursery.start_soon(one, sid)
        return clean

    async def _stop_one(self, svc: Service) -> bool:
        async with svc.lock:
            if not svc.active:
                svc.desired = "stopped"
                return True
            forced = svc.forced_stops
            svc.request_stop()
            with trio.move_on_after(svc.lifecycle.stop_timeout + _STOP_GRACE):
                await svc.wait_inactive()
            if svc.active:  # the controller itself is stuck: take both down
                log.error("service %s: controller did not stop; terminating it", svc.id)
                for pid in (svc.pid, svc.controller):
                    if pid is not None and self.node.is_alive(pid):
                        self.node.terminate(pid)
                await svc.wait_inactive()
                return False
            return svc.forced_stops == forced

    def __repr__(self) -> str:
        running = sum(1 for s in self._services.values() if s.state is ServiceState.RUNNING)
        return f"<ServiceManager services={len(self._services)} running={running}>"
