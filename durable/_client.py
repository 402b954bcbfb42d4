"""A ``temporal.client`` entry: its configuration, its connection, and what it owns.

What it is for
    Every ``Client`` beamish makes must use the same data converter (JSON with PIDs and
    errors, ``_convert.py``) and the ``wippy-context`` interceptor
    (``_interceptors.py``), or context values and signal senders silently go missing,
    and the temporalio runtime of ``_logs.py``, or Temporal core's log lines land on the
    user's stdout.
    :func:`connect_client` is that one place; :class:`ClientConfig` holds and validates
    a ``temporal.client`` entry's fields; :class:`TemporalClient` is the entry at run
    time: it owns what the workers of one client share — the embedded dev server (when
    there is no address), the asyncio bridge thread and the connected ``Client`` — and
    creates their hosts (:class:`~beamish.durable.WorkerHost`, which sees it only
    through the ``WorkerClient`` protocol).

``temporal.client`` fields (Wippy's): ``address`` (``host:port``; empty or
``"embedded"`` = start the dev server), ``namespace`` (``"default"``),
``connection_timeout`` (10 s), ``auth`` = {``type``: ``none`` | ``api_key`` | ``mtls``,
``api_key``, ``api_key_file``, ``cert_file``, ``key_file``, ``cert_pem``, ``key_pem``},
``tls`` = {``enabled``, ``ca_file``, ``server_name``}, ``connection_timeout`` (how long the
first connection is retried; a Go duration such as ``"10s"``, bare numbers are
milliseconds as in every Temporal option). ``insecure_skip_verify`` is not supported by
the Python SDK and is refused rather than ignored.

Threads: :func:`connect_client` is asyncio code for the bridge loop; :class:`TemporalClient`
is driven from the trio thread (``start``, ``aclose``) and reaches Temporal only through
its bridge. Not workflow code: nothing here runs inside a workflow.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import temporalio.client
import temporalio.service
import trio

from beamish.actors import Error, ErrorKind

from ._bridge import AsyncioBridge
from ._convert import DATA_CONVERTER
from ._host import WorkerHost
from ._interceptors import ContextInterceptor
from ._logs import core_runtime
from ._options import duration
from ._server import DevServer
from ._supervisor import ServerSupervisor

__all__ = ["EMBEDDED", "ClientConfig", "ClientState", "TemporalClient", "connect_client"]

#: The address value meaning "start the embedded dev server".
EMBEDDED = "embedded"
#: Seconds a client keeps retrying its first connection.
DEFAULT_CONNECTION_TIMEOUT = 10.0


@dataclass(frozen=True)
class ClientConfig:
    """A validated ``temporal.client`` entry."""

    address: str = EMBEDDED
    namespace: str = "default"
    auth: Mapping[str, Any] = field(default_factory=dict)
    tls: Mapping[str, Any] = field(default_factory=dict)
    #: Seconds to keep retrying the first connection (Wippy's default: 10 s).
    connection_timeout: float = DEFAULT_CONNECTION_TIMEOUT

    @property
    def embedded(self) -> bool:
        return not self.address or self.address == EMBEDDED

    @classmethod
    def from_entry(cls, entry_id: str, data: Mapping[str, Any]) -> ClientConfig:
        def bad(msg: str) -> Error:
            return Error(
                f"temporal.client {entry_id!r}: {msg}", kind=ErrorKind.INVALID, retryable=False
            )

        address = str(data.get("address") or EMBEDDED)
        if address != EMBEDDED and ":" not in address:
            raise bad(f"address {address!r} must be host:port (or 'embedded')")
        auth = dict(data.get("auth") or {})
        kind = str(auth.get("type", "none"))
        if kind not in ("none", "api_key", "mtls"):
            raise bad(f"auth.type {kind!r} must be one of none, api_key, mtls")
        if kind == "api_key" and not (auth.get("api_key") or auth.get("api_key_file")):
            raise bad("auth.type api_key needs api_key or api_key_file")
        if kind == "mtls" and not (
            (auth.get("cert_file") or auth.get("cert_pem"))
            and (auth.get("key_file") or auth.get("key_pem"))
        ):
            raise bad("auth.type mtls needs a certificate and a key (cert_*/key_*)")
        tls = dict(data.get("tls") or {})
        if tls.get("insecure_skip_verify"):
            raise bad("tls.insecure_skip_verify is not supported by the Python Temporal SDK")
        timeout = DEFAULT_CONNECTION_TIMEOUT
        if data.get("connection_timeout") is not None:
            try:
                timeout = duration(data["connection_timeout"], "connection_timeout").total_seconds()
            except Error as e:
                raise bad(e.message) from e
        return cls(address, str(data.get("namespace") or "default"), auth, tls, timeout)


#: Seconds a just-started frontend may answer "not healthy yet" before connect gives up.
_WARMUP = 10.0


def _read(value: Any, path: Any) -> bytes | None:
    if value:
        return str(value).encode()
    if path:
        return Path(str(path)).read_bytes()
    return None


async def connect_client(
    address: str, config: ClientConfig | None = None
) -> temporalio.client.Client:
    """Connect to ``address`` with beamish's converter and interceptor (asyncio).

    The client runs on :func:`~._logs.core_runtime`, so Temporal core's log lines go to
    Python logging (``beamish.temporal.core``, stderr), never to stdout; its workers
    inherit that runtime. Fails with UNAVAILABLE (retryable) when the server cannot be
    reached.
    """
    config = config or ClientConfig(address=address)
    auth, tls_cfg = config.auth, config.tls
    kind = auth.get("type", "none")
    api_key = None
    if kind == "api_key":
        key = _read(auth.get("api_key"), auth.get("api_key_file"))
        api_key = key.decode().strip() if key else None
    tls: bool | temporalio.service.TLSConfig = False
    if kind == "mtls" or tls_cfg.get("enabled") or api_key:
        tls = temporalio.service.TLSConfig(
            server_root_ca_cert=_read(None, tls_cfg.get("ca_file")),
            domain=tls_cfg.get("server_name"),
            client_cert=_read(auth.get("cert_pem"), auth.get("cert_file"))
            if kind == "mtls"
            else None,
            client_private_key=_read(auth.get("key_pem"), auth.get("key_file"))
            if kind == "mtls"
            else None,
        )
    # A frontend that has just started accepts connections a little before it answers
    # (``Frontend is not healthy yet``): that one answer is retried, briefly.
    deadline = asyncio.get_running_loop().time() + _WARMUP
    delay = 0.05
    while True:
        try:
            return await temporalio.client.Client.connect(
                address,
                namespace=config.namespace,
                data_converter=DATA_CONVERTER,
                interceptors=[ContextInterceptor()],
                api_key=api_key,
                tls=tls,
                runtime=core_runtime(),
            )
        except RuntimeError as e:
            if "not healthy yet" in str(e) and asyncio.get_running_loop().time() < deadline:
                await asyncio.sleep(delay)
                delay = min(delay * 2, 0.5)
                continue
            raise Error(
                f"cannot connect to Temporal at {address} (namespace {config.namespace!r}): {e}",
                kind=ErrorKind.UNAVAILABLE,
                retryable=True,
            ) from e


# -- the client entry at run time -------------------------------------------------------


class ClientState(enum.Enum):
    """Lifecycle of a :class:`TemporalClient`: NEW -> RUNNING (``start``) -> STOPPED
    (``aclose``, also after a failed start)."""

    NEW = "new"
    RUNNING = "running"
    STOPPED = "stopped"


class TemporalClient:
    """One ``temporal.client`` entry: server (if embedded), bridge thread, ``Client``.

    Parameters:
        name: the entry ID; the node part of workflow PIDs.
        config: address / namespace / auth (:class:`ClientConfig`); embedded by default.
        db_filename: the embedded server's SQLite file (``<app>/.beamish/temporal.db``);
            ``None`` keeps an embedded server's state in memory.
        server_options: extra :class:`DevServer` keywords (port, log_level, ...).
        supervisor_options: :class:`ServerSupervisor` keywords (``intensity``,
            ``period``) for the embedded server.
        on_fatal: called on the trio thread, once, with an ``Error(UNAVAILABLE)`` when the
            embedded server died and could not be restarted within the intensity (the
            app passes its ``fail``, so ``beamish run`` stops non-clean).

    Use ``await client.start(node)`` then :meth:`add_worker`; ``aclose()`` (idempotent)
    stops workers, the bridge thread and the server, in that order. An embedded server is
    supervised: restarted on the same database and port when it dies (see
    ``_supervisor.py``); clients and workers reconnect by themselves.
    """

    def __init__(
        self,
        name: str,
        config: ClientConfig | None = None,
        *,
        db_filename: str | Path | None = None,
        server_options: Mapping[str, Any] | None = None,
        supervisor_options: Mapping[str, Any] | None = None,
        on_fatal: Callable[[Error], None] | None = None,
    ) -> None:
        self.name = name
        self.supervisor_options = dict(supervisor_options or {})
        self.on_fatal = on_fatal
        self.supervisor: ServerSupervisor | None = None
        #: Set when the embedded server is gone for good.
        self.failure: Error | None = None
        self.config = config or ClientConfig()
        self.db_filename = db_filename
        self.server_options = dict(server_options or {})
        self.server: DevServer | None = None
        self.bridge: AsyncioBridge | None = None
        self.client: temporalio.client.Client | None = None
        self.node: Any = None
        self.workers: dict[str, WorkerHost] = {}
        self._state = ClientState.NEW

    @property
    def state(self) -> ClientState:
        return self._state

    @property
    def address(self) -> str:
        if self.server is not None:
            return self.server.address
        return self.config.address

    def attach(self, node: Any) -> None:
        """Bind to ``node`` and add the worker hosts created so far to it."""
        self.node = node
        for host in self.workers.values():
            if host.name not in node.hosts:
                node.add_host(host)

    async def start(self, node: Any) -> None:
        """Start the server (if embedded), the bridge and connect. From trio."""
        if self._state is not ClientState.NEW:
            return
        self.attach(node)
        self._state = ClientState.RUNNING
        try:
            if self.config.embedded:
                self.server = DevServer(
                    db_filename=self.db_filename,
                    namespaces=[self.config.namespace]
                    if self.config.namespace != "default"
                    else [],
                    **self.server_options,
                )
                # fork on this (the trio, long-lived) thread: PDEATHSIG follows the thread
                self.server.launch()
                await trio.to_thread.run_sync(self.server.wait_ready)
                token = trio.lowlevel.current_trio_token()

                def give_up(error: Error) -> None:  # on the supervisor thread
                    with contextlib.suppress(trio.RunFinishedError):
                        token.run_sync_soon(self._server_failed, error)

                self.supervisor = ServerSupervisor(
                    self.server, on_give_up=give_up, **self.supervisor_options
                ).start()
            self.bridge = AsyncioBridge(f"temporal:{self.name}")
            await self.bridge.start(node.system_nursery())
            self.client = await self._connect()
        except BaseException:
            with trio.CancelScope(shield=True):
                await self.aclose()
            raise

    def _server_failed(self, error: Error) -> None:
        """On the trio thread: the embedded server is gone for good; tell the owner."""
        if self.failure is not None or self._state is ClientState.STOPPED:
            return
        self.failure = error
        if self.on_fatal is not None:
            self.on_fatal(error)

    async def _connect(self) -> temporalio.client.Client:
        """Connect, retrying while the server is still coming up (a dev server accepts
        TCP a moment before its frontend answers) for up to ``connection_timeout``."""
        assert self.bridge is not None
        deadline = trio.current_time() + self.config.connection_timeout
        delay = 0.05
        while True:
            try:
                return await self.bridge.run(connect_client, self.address, self.config)
            except Error as e:
                if e.kind is not ErrorKind.UNAVAILABLE or trio.current_time() >= deadline:
                    raise
            await trio.sleep(delay)
            delay = min(delay * 2, 1.0)

    def add_worker(
        self,
        name: str,
        task_queue: str,
        *,
        options: Mapping[str, Any] | None = None,
        activities: Any = None,
    ) -> WorkerHost:
        """Create the host for a ``temporal.worker`` entry and add it to the node."""
        if name in self.workers:
            raise Error(
                f"temporal.worker {name!r} already exists on client {self.name!r}",
                kind=ErrorKind.ALREADY_EXISTS,
                retryable=False,
            )
        host = WorkerHost(name, self, task_queue, options=options, activities=activities)
        self.workers[name] = host
        if self.node is not None:
            self.node.add_host(host)
        return host

    def hosts_table(self) -> dict[str, str]:
        return {name: w.task_queue for name, w in self.workers.items()}

    async def aclose(self) -> None:
        """Stop every worker, the bridge thread, then the server. Idempotent."""
        if self._state is ClientState.STOPPED:
            return
        self._state = ClientState.STOPPED
        with trio.CancelScope(shield=True):
            for host in list(self.workers.values()):
                await host._stop_worker()
            if self.bridge is not None:
                await self.bridge.aclose()
            if self.supervisor is not None:
                await trio.to_thread.run_sync(self.supervisor.stop)
            elif self.server is not None:
                await trio.to_thread.run_sync(self.server.stop)

    def statistics(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "state": self._state.value,
            "address": self.address if self._state is ClientState.RUNNING else None,
            "embedded": self.config.embedded,
            "server_restarts": self.supervisor.restarts if self.supervisor else 0,
            "workers": sorted(self.workers),
        }

    def __repr__(self) -> str:
        return f"<TemporalClient {self.name} {self._state.value} {self.config.address}>"
