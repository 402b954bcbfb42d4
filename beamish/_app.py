"""An app: a loaded, validated registry and — while open — a node running it.

Lifecycle (:class:`AppState`)::

    LOADED ──__aenter__──▶ RUNNING ──__aexit__──▶ STOPPED

``App(dir)`` loads and validates every entry (nothing starts). Opening it starts a
:class:`Node`, installs entries in kind order (hosts, functions, processes, services),
then runs the start hooks layers registered (``on_start``: e.g. the supervision layer
starts ``auto_start`` services in dependency order). Closing runs the stop hooks in
reverse, then shuts the node down (CANCEL, bounded wait, terminate).

Files entries load (``source: file://...``) must lie in the app directory, after
following symlinks; ``source_roots`` allows further folders explicitly (the CLI's
``--source-root``). See :mod:`beamish._registry`.

``clean`` tells afterwards whether shutdown was clean: every stop hook succeeded, no
process had to be terminated and nothing called :meth:`App.fail`. ``fail(error)`` is how a
part of the running app that is gone for good (the embedded Temporal server that could
not be restarted) reports it: ``failure`` keeps the error, and the ``on_failure``
listeners (``beamish run`` registers one) stop the app.

Strict or lenient loading (:mod:`beamish._availability`): ``App(dir)`` is strict by
default, as an embedding program expects: the first entry that cannot be loaded raises
its :class:`LoadError`. ``App(dir, strict=False)`` (what ``beamish run`` does) loads
leniently instead: entries beamish cannot run are reported once (WARNING on the
``beamish`` logger), left out, listed in :attr:`App.unavailable`, and using one fails
with ``Error(NOT_FOUND)`` and its reason. Strict wins when anyone asks for it: the
caller, the app's ``beamish.yaml`` (``strict: true``) or ``BEAMISH_STRICT=1``
(:mod:`beamish._settings`).
"""

from __future__ import annotations

import enum
import logging
import os
import re
import socket
from collections.abc import Awaitable, Callable, Iterable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

import trio

from beamish.actors import (
    DEFAULT_HOST,
    ClusterConfig,
    Entry,
    Error,
    ErrorKind,
    KindHandler,
    LoadError,
    Node,
)

from ._availability import AppNode, Unavailable, sort_out, unknown_kind, warn_unknown_keys
from ._kinds import default_handlers
from ._loader import load_directory, python_entry, resolve_roots
from ._pool import MainNodeHost, WorkerPool, pool_size
from ._registry import Registry
from ._settings import load_settings, strict_from_env

__all__ = ["App", "AppState"]

log = logging.getLogger("beamish")

#: The kinds a worker node of a pool installs (the rest run on the main node).
def default_node_name() -> str:
    """``<host>-<pid>``: a node name unique on a network of machines with distinct
    host names (letters, digits and '-' only)."""
    host = re.sub(r"[^A-Za-z0-9-]", "-", socket.gethostname().split(".")[0])[:40]
    return f"{host or 'node'}-{os.getpid()}"


WORKER_KINDS = frozenset(
    {"process.host", "function.lua", "function.py", "library.lua", "process.lua",
     "process.py", "pg.scope"}
)

Hook = Callable[[], Awaitable[None]]
F = TypeVar("F", bound=Callable[..., Any])


class AppState(enum.Enum):
    LOADED = "loaded"
    RUNNING = "running"
    STOPPED = "stopped"


class App:
    """A beamish app loaded from ``directory``. Use ``async with App(dir) as app``.

    Parameters:
        directory: the app folder (YAML entries + code).
        shutdown_timeout: seconds processes get after the shutdown CANCEL.
        handlers: kind handlers (default: every installed layer's).
        source_roots: folders outside ``directory`` that ``file://`` sources may also be
            read from (default: none; only the app directory). Symlinks are followed
            before the check, so a link inside the app pointing elsewhere is refused
            unless its target is under one of these.
        strict: fail the load on the first entry that cannot be loaded (default). With
            ``False`` such entries are reported and left out instead, unless the app's
            ``beamish.yaml`` or ``BEAMISH_STRICT`` asks for strict loading.
        node: this node's name (PIDs read ``{node@host|id}``); default the
            ``beamish.yaml`` ``node``, else none; in a cluster ``<hostname>-<pid>``
            (``"main"`` for the embedded cluster of an app's own pool).
        cluster: join this cluster (a NATS URL, ``"embedded"``, a mapping of
            :class:`~beamish.actors.ClusterConfig` fields or one); default the
            ``beamish.yaml`` ``cluster``. An app whose hosts ask for ``workers`` gets an
            embedded cluster of its own when it names none (see ``beamish._pool``).
        workers: the most worker nodes any pool may start (``1``: no pools); default
            ``BEAMISH_WORKERS``, else the cores of this machine.
        worker_of: run as a worker node of the pool of main node ``worker_of`` (what
            ``beamish run`` starts; hosts, functions and process entries only).

    Raises :class:`LoadError` when the app cannot be loaded at all (a malformed YAML
    file, a duplicate ID, bad settings) and, when strict, for the first bad entry.
    """

    def __init__(
        self,
        directory: str | Path | None = None,
        *,
        shutdown_timeout: float = 10.0,
        handlers: dict[str, KindHandler] | None = None,
        source_roots: Iterable[str | Path] = (),
        strict: bool = True,
        node: str | None = None,
        cluster: Any = None,
        workers: int | None = None,
        worker_of: str | None = None,
    ) -> None:
        self.directory = Path(directory if directory is not None else Path.cwd()).resolve()
        #: The extra folders sources may come from (resolved), beside the app directory.
        self.source_roots: tuple[Path, ...] = resolve_roots(self.directory, source_roots)[1:]
        #: Every entry the YAML files define (none without a directory) and every entry
        #: :meth:`add` declared, available or not.
        self.loaded: Registry = (
            load_directory(self.directory, source_roots=self.source_roots)
            if directory is not None
            else Registry()
        )
        self._declared = False  # entries added since the last validate()
        #: The entries the app runs (all of :attr:`loaded` unless some are unavailable).
        self.registry: Registry = self.loaded
        #: The entries left out, by ID, with why (empty when strict).
        self.unavailable: dict[str, Unavailable] = {}
        #: Whether the app was loaded strictly (see the module docstring).
        settings, from_env = load_settings(self.directory), strict_from_env()  # both checked
        self.strict = strict or settings.strict or from_env
        self.node_name = node if node is not None else settings.node
        self.cluster = cluster if cluster is not None else settings.cluster
        self.max_workers = workers
        self.worker_of = worker_of
        #: The worker nodes of the pooled hosts (``None``: no pool).
        self.pool: WorkerPool | None = None
        #: IDs of the hosts that run on the pool.
        self.pooled_hosts: frozenset[str] = frozenset()
        self.handlers = handlers if handlers is not None else default_handlers()
        self.shutdown_timeout = shutdown_timeout
        self.state = AppState.LOADED
        self.clean = True
        #: The first fatal failure reported with :meth:`fail` (``None``: none).
        self.failure: BaseException | None = None
        self._failure_listeners: list[Callable[[BaseException], None]] = []
        self._node: Node | None = None
        self._start_hooks: list[Hook] = []
        self._stop_hooks: list[Hook] = []
        for entry in self.loaded:  # once per entry, as it enters the app (also in add)
            warn_unknown_keys(entry, self.handlers.get(entry.kind))
        self.validate()

    # -- loading ------------------------------------------------------------------------

    def handler(self, entry: Entry) -> KindHandler:
        h = self.handlers.get(entry.kind)
        if h is None:
            raise entry.error(unknown_kind(entry.kind, self.handlers, strict=True))
        return h

    def validate(self) -> None:
        """Check every loaded entry with its kind handler (run once, by the constructor).

        Strict: raises the first entry's :class:`LoadError`. Lenient: sets
        :attr:`registry` to the entries that can run and :attr:`unavailable` to the rest,
        and logs one WARNING per unavailable entry.
        """
        self.registry, self.unavailable = sort_out(
            self.loaded, self.handlers, strict=self.strict, app_dir=self.directory
        )
        self._declared = False

    # -- declaring entries in Python ------------------------------------------------------

    def add(
        self, entry_id: str, kind: str, *, meta: dict[str, Any] | None = None, **fields: Any
    ) -> Entry:
        """Declare an entry as a YAML file would: ``app.add("app:host", "process.host")``.

        ``fields`` are the YAML fields beside ``name`` and ``kind``; a ``handler`` may be
        the Python callable itself instead of ``"module:callable"``. Entries may refer to
        ones declared later: they are checked together when the app starts (strict or
        lenient as the app is). Raises :class:`LoadError` for a malformed ID, an unknown
        kind or a duplicate ID, and ``Error(INVALID)`` once the app has started.
        """
        if self.state is not AppState.LOADED:
            raise Error(
                f"cannot add {entry_id!r}: the app has started; declare entries before "
                "'async with app'",
                kind=ErrorKind.INVALID,
            )
        entry = python_entry(
            entry_id, kind, fields, meta=meta, roots=(self.directory, *self.source_roots)
        )
        warn_unknown_keys(entry, self.handler(entry))  # an unknown kind fails here
        self.loaded.add(entry)
        self._declared = True
        return entry

    def function(self, entry_id: str, **fields: Any) -> Callable[[F], F]:
        """Decorator: the function below is the ``function.py`` entry ``entry_id``."""

        def declare(fn: F) -> F:
            self.add(entry_id, "function.py", handler=fn, **fields)
            return fn

        return declare

    def process(self, entry_id: str, **fields: Any) -> Callable[[F], F]:
        """Decorator: the async function or :class:`~beamish.Server` class below is the
        ``process.py`` entry ``entry_id`` (``host=`` names its default host)."""

        def declare(body: F) -> F:
            self.add(entry_id, "process.py", handler=body, **fields)
            return body

        return declare

    def workflow(
        self, entry_id: str, *, worker: str | None = None, **fields: Any
    ) -> Callable[[F], F]:
        """Decorator: the async function below is the ``workflow.py`` entry ``entry_id``,
        served by the ``temporal.worker`` entry ``worker``.

        Without ``worker``: the app's only worker; with none declared, a client
        ``<namespace>:temporal`` (the embedded Temporal server) and a worker
        ``<namespace>:worker`` (task queue ``<namespace>``) are declared for it.
        """

        def declare(body: F) -> F:
            meta = {"temporal": {"workflow": {"worker": worker or self._default_worker(entry_id)}}}
            self.add(entry_id, "workflow.py", handler=body, meta=meta, **fields)
            return body

        return declare

    def _default_worker(self, entry_id: str) -> str:
        workers = self.loaded.find("temporal.worker")
        if len(workers) == 1:
            return workers[0].id
        if workers:
            raise LoadError(
                f"workflow {entry_id!r}: the app has several temporal.worker entries "
                f"({', '.join(sorted(w.id for w in workers))}); say which with worker="
            )
        ns = entry_id.split(":")[0]
        if f"{ns}:temporal" not in self.loaded:
            self.add(f"{ns}:temporal", "temporal.client")
        self.add(f"{ns}:worker", "temporal.worker", client=f"{ns}:temporal", task_queue=ns)
        return f"{ns}:worker"

    def run(self, entry_id: str, *args: Any) -> Any:
        """Start the app, run one entry (:meth:`run_entry`), stop the app; return its
        result. Blocking: it calls ``trio.run``, so call it from synchronous code (a
        script's ``main``), not from inside a trio program (use ``async with`` there)."""

        async def once() -> Any:
            async with self:
                return await self.run_entry(entry_id, args)

        return trio.run(once)

    @property
    def state_dir(self) -> Path:
        """``<app>/.beamish``: where the app keeps local state (e.g. the Temporal db)."""
        return self.directory / ".beamish"

    # -- running ------------------------------------------------------------------------

    @property
    def node(self) -> Node:
        if self._node is None:
            raise Error("the app is not running: use 'async with App(dir)'", kind=ErrorKind.INVALID)
        return self._node

    def on_start(self, hook: Hook) -> None:
        """Run ``hook`` after every entry is installed (in registration order)."""
        self._start_hooks.append(hook)

    def on_stop(self, hook: Hook) -> None:
        """Run ``hook`` at shutdown, before the node stops (reverse registration order)."""
        self._stop_hooks.append(hook)

    def fail(self, error: BaseException) -> None:
        """Report that a part of the running app failed for good (for example the embedded
        Temporal server could not be kept running). Logs it as ERROR once, marks shutdown
        non-clean and calls the :meth:`on_failure` listeners (``beamish run`` stops the
        app and exits 1). From the trio thread; only the first failure is reported."""
        self.clean = False
        if self.failure is not None:
            return
        self.failure = error
        log.error("app %s failed: %s", self.directory.name, error)
        for listener in list(self._failure_listeners):
            listener(error)

    def on_failure(self, listener: Callable[[BaseException], None]) -> None:
        """Call ``listener(error)`` on the first :meth:`fail` (at once if it already failed)."""
        self._failure_listeners.append(listener)
        if self.failure is not None:
            listener(self.failure)

    async def __aenter__(self) -> App:
        if self.state is not AppState.LOADED:
            raise Error(f"app {self.directory} can be started once", kind=ErrorKind.INVALID)
        if self._declared:
            self.validate()
        asked = {e.id: (e.data.get("host") or {}).get("workers")
                 for e in self.registry.find("process.host")
                 if isinstance(e.data.get("host"), dict)}
        size = pool_size(list(asked.values()), self.max_workers)
        cluster = self.cluster
        if size and cluster is None and self.worker_of is None:
            # a pool of its own: the embedded server, a cluster name no other app shares
            cluster = ClusterConfig(cluster=f"app{os.getpid()}")
        name = self.node_name or ""
        if not name and cluster is not None:
            # a pool of its own is "main"; in a cluster a node needs a name no other
            # node has: this machine and process, unless one is given
            name = "main" if size and self.cluster is None else default_node_name()
        if size or self.worker_of is not None:
            self.pooled_hosts = frozenset(
                h for h, n in asked.items() if isinstance(n, int) and n >= 2)
        options: dict[str, Any] = {"shutdown_timeout": self.shutdown_timeout, "name": name,
                                   "cluster": cluster}
        if self.unavailable:
            self._node = AppNode(
                {k: u.error(self.directory) for k, u in self.unavailable.items()}, **options
            )
        else:
            self._node = Node(**options)
        await self._node.__aenter__()
        self.state = AppState.RUNNING
        try:
            if size and self.worker_of is None:
                self.pool = WorkerPool(
                    self._node._remote,  # type: ignore[arg-type]
                    str(self.directory),
                    [f"{name}-w{i}" for i in range(1, size + 1)],
                    ["--strict"] if self.strict else [],
                    stop_timeout=self.shutdown_timeout,
                )
                await self.pool.start(self._node.system_nursery(), self.pooled_hosts)
            entries = sorted(self.registry, key=lambda e: (self.handler(e).order, e.id))
            if self.worker_of is not None:
                entries = [e for e in entries if e.kind in WORKER_KINDS]
            for entry in entries:
                await self.handler(entry).install(entry, self)
            if self.worker_of is not None:
                for entry in self.registry.find("temporal.worker"):
                    self._node.add_host(MainNodeHost(entry.id, entry.kind, self.worker_of))
            if self._node.cluster is not None:
                self._node.cluster.announce()  # peers may spawn on its hosts from now on
            if self.worker_of is None:
                for hook in self._start_hooks:
                    await hook()
        except BaseException as exc:
            await self.__aexit__(type(exc), exc, exc.__traceback__)
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.state is not AppState.RUNNING:
            return
        self.state = AppState.STOPPED
        node = self.node
        try:
            for hook in reversed(self._stop_hooks):
                try:
                    await hook()
                except Exception:
                    self.clean = False
                    log.exception("stop hook %r failed", hook)
        finally:
            try:
                if self.pool is not None:
                    with trio.CancelScope(shield=True):
                        await self.pool.aclose()
            finally:
                await node.__aexit__(exc_type, exc, tb)
            if node.terminated_at_shutdown:
                self.clean = False

    def default_host(self) -> str:
        hosts = sorted(e.id for e in self.registry.find("process.host"))
        return hosts[0] if hosts else DEFAULT_HOST

    async def run_entry(self, entry_id: str, args: Sequence[Any] = ()) -> Any:
        """Run one entry: call a function, or exec a process and return its result.

        Raises ``Error(NOT_FOUND)`` for an unknown or unavailable entry (with the reason
        it is unavailable), :class:`LoadError` for a kind that cannot be run directly,
        and whatever the entry fails with."""
        entry = self.registry.get(entry_id)
        handler = self.handler(entry)
        run = getattr(handler, "run", None)
        if run is None:
            raise LoadError(
                f"{entry.where} of kind {entry.kind!r} cannot be run directly; "
                "run a function or process entry"
            )
        return await run(entry, self, tuple(args))

    def __repr__(self) -> str:
        return f"<App {self.directory} {self.state.value} entries={len(self.registry)}>"
