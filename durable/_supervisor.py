"""Keep the embedded Temporal server alive: restart it when it dies, give up loudly.

What it is for
    The embedded server is a child process (:class:`~beamish.durable._server.DevServer`).
    If it dies on its own (OOM killer, a stray ``kill -9``, a crash), nothing in the
    Temporal SDK notices in a way a person sees: clients and workers retry their
    connections silently, forever, and the app looks healthy while nothing progresses.
    :class:`ServerSupervisor` watches the child, says in one log line what happened, and
    starts it again on the *same database file and the same port*, so every ``Client``
    and ``Worker`` reconnects by itself and durable workflows carry on where they were.

Design chosen
    * One dedicated daemon thread per supervised server. It polls the child every
      ``poll_interval`` seconds (``waitpid(WNOHANG)`` through ``Popen.poll``: cheap), and
      it is also the thread that forks a restarted child. That matters: the server's
      ``PR_SET_PDEATHSIG`` is tied to the *forking thread*, so the restarting thread must
      live as long as the child it started; this one lives until :meth:`stop`.
    * Restart intensity as in an OTP supervisor: at most ``intensity`` restart attempts
      within ``period`` seconds. A failed attempt (binary gone, database locked, server
      exits during start-up) counts too, and is retried after an exponential back-off.
      Beyond the intensity the supervisor gives up: an ERROR log line, the server stays
      stopped, and ``on_give_up(error)`` is called once (the app uses it to stop with a
      non-clean status, so ``beamish run`` exits non-zero).
    * :meth:`stop` first marks the supervisor stopping, then closes the server for good
      (``DevServer.close``: no later launch can sneak in), then joins the thread. The
      thread's waits all poll the child or an event, so the join is bounded.

Alternatives rejected
    * Watching from a trio task: restarts would fork on the trio thread (fine for
      PDEATHSIG) but a blocking ``wait_ready`` would need a worker thread anyway, and the
      server would not be supervised outside a trio app (tests, embedding programs).
    * Restarting workers and clients too: the Python SDK's ``Client`` and ``Worker``
      survive a server restart on the same port by themselves (measured), so that would
      only add work and lose in-flight activity results.

Contract
    ``ServerSupervisor(server, ...).start()`` after the server is running; callbacks run
    on the supervisor thread and must be quick and thread-safe. ``stop()`` is idempotent
    and stops the server.
"""

from __future__ import annotations

import collections
import logging
import signal
import threading
import time
from collections.abc import Callable

from beamish.actors import Error, ErrorKind

from ._server import DevServer

__all__ = ["DEFAULT_INTENSITY", "DEFAULT_PERIOD", "ServerSupervisor", "describe_exit"]

log = logging.getLogger("beamish.durable")

#: At most this many restart attempts ...
DEFAULT_INTENSITY = 5
#: ... within this many seconds, before the supervisor gives up.
DEFAULT_PERIOD = 60.0
#: How often the child is polled for an exit.
DEFAULT_POLL_INTERVAL = 0.1
#: Back-off after a failed restart attempt: first delay and cap (seconds).
_BACKOFF_FIRST = 0.2
_BACKOFF_MAX = 5.0


def describe_exit(returncode: int) -> str:
    """``"signal SIGKILL"`` for a negative Popen return code, else ``"code N"``."""
    if returncode < 0:
        try:
            return f"signal {signal.Signals(-returncode).name}"
        except ValueError:
            return f"signal {-returncode}"
    return f"code {returncode}"


class ServerSupervisor:
    """Watch one :class:`DevServer` and restart it on the same database and port.

    Parameters:
        server: a started server (``state`` RUNNING).
        intensity / period: at most ``intensity`` restart attempts in ``period`` seconds.
        poll_interval: how often the child is checked.
        on_give_up: called once, on the supervisor thread, with the :class:`Error`
            (UNAVAILABLE) that describes why the server is gone for good.
        on_restart: called on the supervisor thread after each successful restart.
    """

    def __init__(
        self,
        server: DevServer,
        *,
        intensity: int = DEFAULT_INTENSITY,
        period: float = DEFAULT_PERIOD,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        on_give_up: Callable[[Error], None] | None = None,
        on_restart: Callable[[], None] | None = None,
    ) -> None:
        if intensity < 0 or period <= 0:
            raise Error(
                f"restart intensity {intensity} in {period} s is invalid: the intensity "
                "must be >= 0 and the period > 0",
                kind=ErrorKind.INVALID,
                retryable=False,
            )
        self.server = server
        self.intensity = intensity
        self.period = period
        self.poll_interval = poll_interval
        self.on_give_up = on_give_up
        self.on_restart = on_restart
        #: Successful restarts so far.
        self.restarts = 0
        #: Set once the supervisor gave up; the error says why.
        self.failure: Error | None = None
        self._attempts: collections.deque[float] = collections.deque()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def failed(self) -> bool:
        return self.failure is not None

    def start(self) -> ServerSupervisor:
        """Start the watcher thread. Idempotent."""
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._run, name=f"temporal-supervisor:{self.server.port}", daemon=True
            )
            self._thread.start()
        return self

    def stop(self, timeout: float | None = None) -> None:
        """Stop watching and stop the server for good (bounded). Idempotent."""
        self._stopping.set()
        self.server.close(timeout)
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(self.server.stop_timeout + 5.0)

    # ------------------------------------------------------------------ thread

    def _run(self) -> None:
        try:
            while not self._stopping.wait(self.poll_interval):
                code = self.server.exit_code()
                if code is None:
                    continue
                self._recover(code)
                if self.failure is not None:
                    return
        except BaseException:  # never die silently: the child would die with this thread
            log.exception("the embedded Temporal server's supervisor failed")
            self._give_up(
                Error(
                    "the embedded Temporal server's supervisor failed unexpectedly (see the "
                    "log); restart the app",
                    kind=ErrorKind.UNAVAILABLE,
                    retryable=False,
                )
            )

    def _recover(self, code: int) -> None:
        server = self.server
        how = describe_exit(code)
        log.warning(
            "embedded Temporal server (pid %s) exited with %s; restarting it on the same "
            "database %s (port %s)",
            server.pid,
            how,
            server.db_filename or "(in memory: its workflows are lost)",
            server.port,
        )
        delay = _BACKOFF_FIRST
        last: Error | None = None
        while not self._stopping.is_set():
            if not self._may_attempt():
                detail = f": {last}" if last is not None else ""
                self._give_up(
                    Error(
                        f"the embedded Temporal server (database {server.db_filename}, port "
                        f"{server.port}) exited with {how} and could not be kept running: "
                        f"{len(self._attempts)} restart attempts within {self.period:g} s"
                        f"{detail}; see its log {server.log_path} and restart the app",
                        kind=ErrorKind.UNAVAILABLE,
                        retryable=False,
                    )
                )
                return
            self._attempts.append(time.monotonic())
            try:
                server.launch()
                server.wait_ready()
            except Error as e:
                if self._stopping.is_set():
                    return
                last = e
                log.warning("restarting the embedded Temporal server failed: %s", e)
                self._stopping.wait(delay)
                delay = min(delay * 2, _BACKOFF_MAX)
                continue
            if self._stopping.is_set():
                return
            self.restarts += 1
            log.info(
                "embedded Temporal server is back (pid %s, %s, restart %d)",
                server.pid,
                server.address,
                self.restarts,
            )
            if self.on_restart is not None:
                self.on_restart()
            return

    def _may_attempt(self) -> bool:
        now = time.monotonic()
        while self._attempts and now - self._attempts[0] > self.period:
            self._attempts.popleft()
        return len(self._attempts) < self.intensity

    def _give_up(self, error: Error) -> None:
        if self.failure is not None:
            return
        self.failure = error
        log.error("%s", error)
        if self.on_give_up is not None:
            try:
                self.on_give_up(error)
            except Exception:
                log.exception("the give-up callback of the Temporal server supervisor failed")
