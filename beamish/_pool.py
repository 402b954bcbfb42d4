"""Worker pools: a ``process.host`` that runs on several worker nodes of this machine.

What it is for
    One beamish node is one Python process, so one core. A host entry that asks for
    workers (Wippy's ``host: {workers: N}``) runs its processes on worker nodes instead:
    ``beamish run`` starts them as child OS processes, each a node of the app's cluster
    (the embedded NATS server unless the app names one), and the host's spawns are
    spread over them.

How the setting maps
    Wippy's ``workers`` counts goroutines, and apps often say 32. beamish starts
    ``min(workers, cores)`` worker nodes (cores: the CPUs this process may run on), and
    none when that is 1: ``workers: 1``, a 1-core machine, or no ``workers`` at all keep
    the single-process runtime. ``BEAMISH_WORKERS`` (or ``beamish run --workers``)
    caps it further (``1``: no pool). Every pooled host of an app shares the same worker
    nodes; each worker runs every pooled host as a local host, so what a pooled process
    spawns stays on its worker.

Supervision
    A worker node that exits is reported down at once (its processes' watchers get
    "node disconnected") and started again under the same name after a back-off
    (0.2 s doubling to 5 s); more than ``MAX_RESTARTS`` restarts within
    ``RESTART_PERIOD`` seconds and the pool gives the worker up (logged as ERROR; the
    remaining workers keep serving). At shutdown workers get SIGTERM (their processes
    get the shutdown CANCEL), then SIGKILL after the timeout; PR_SET_PDEATHSIG kills
    them if this process dies first, so no worker outlives the app.

What a worker runs
    The same app directory, loaded the same way, with hosts, functions, libraries and
    process entries installed but no services, supervisors or Temporal entries (those
    run on the main node, which spawns onto the pool).
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
from collections.abc import Sequence
from typing import Any

import trio

from beamish.actors import Cluster, Error, ErrorKind, Host, Pid, SpawnRequest, die_with_parent

__all__ = [
    "MAX_RESTARTS",
    "RESTART_PERIOD",
    "WORKERS_ENV",
    "MainNodeHost",
    "WorkerPool",
    "pool_size",
]

log = logging.getLogger("beamish.pool")

#: Environment variable that caps the worker nodes of every pool (``1``: no pools).
WORKERS_ENV = "BEAMISH_WORKERS"
MAX_RESTARTS = 5
RESTART_PERIOD = 30.0


def cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def pool_size(asked: Sequence[Any], cap: int | None = None) -> int:
    """Worker nodes for hosts asking ``asked`` workers: ``min(max(asked), cores, cap)``,
    or 0 when that is below 2 (no pool)."""
    wanted = max((int(a) for a in asked if isinstance(a, int) and not isinstance(a, bool)),
                 default=0)
    env = os.environ.get(WORKERS_ENV, "").strip()
    if cap is None and env:
        try:
            cap = int(env)
        except ValueError:
            raise Error(f"{WORKERS_ENV}={env!r} is not a number; give the most worker "
                        "nodes a pool may start (1: none)", kind=ErrorKind.INVALID,
                        retryable=False) from None
    n = min(wanted, cores(), cap if cap is not None else wanted)
    return n if n >= 2 else 0


class WorkerPool:
    """The worker nodes of an app (``App`` owns one when a host asks for workers)."""

    def __init__(self, cluster: Cluster, directory: str, names: list[str],
                 argv_extra: Sequence[str] = (), stop_timeout: float = 10.0) -> None:
        self.cluster = cluster
        self.directory = directory
        self.names = names
        self.argv_extra = list(argv_extra)
        self.stop_timeout = stop_timeout
        self._procs: dict[str, Any] = {}
        self._closing = False
        self.restarts: dict[str, list[float]] = {n: [] for n in names}

    def argv(self, name: str) -> list[str]:
        cfg = self.cluster.config
        return [sys.executable, "-m", "beamish._cli", "worker", self.directory,
                "--node", name, "--cluster", self.cluster.url,
                "--cluster-name", cfg.cluster, "--main", self.cluster.me, *self.argv_extra]

    def _ready(self, name: str) -> bool:
        peer = self.cluster.peers.get(name)
        return peer is not None and self.hosts <= set(peer.hosts)

    async def start(self, nursery: trio.Nursery, hosts: frozenset[str],
                    timeout: float = 60.0) -> None:
        """Start every worker and wait until each has joined the cluster with
        ``hosts`` (the pooled hosts) installed."""
        self.hosts = hosts
        for name in self.names:
            await self._launch(name)
        try:
            with trio.fail_after(timeout):
                while not all(self._ready(n) for n in self.names):
                    dead = [n for n, p in self._procs.items() if p.poll() is not None]
                    if dead:
                        raise Error(f"worker node {dead[0]} exited while starting "
                                    f"(exit code {self._procs[dead[0]].returncode}); its "
                                    "error is above", kind=ErrorKind.UNAVAILABLE,
                                    retryable=False)
                    await trio.sleep(0.02)
        except trio.TooSlowError:
            missing = [n for n in self.names if not self._ready(n)]
            raise Error(f"worker nodes {', '.join(missing)} did not join within "
                        f"{timeout:g}s", kind=ErrorKind.UNAVAILABLE, retryable=False) from None
        for name in self.names:
            nursery.start_soon(self._supervise, name)

    async def _launch(self, name: str) -> None:
        # Popen here, on the trio thread, not trio.lowlevel.open_process: that forks in a
        # pooled worker thread, and PDEATHSIG kills the child when that thread idles out
        self._procs[name] = subprocess.Popen(
            self.argv(name), stdin=subprocess.DEVNULL, preexec_fn=die_with_parent())
        await trio.lowlevel.checkpoint()

    async def _supervise(self, name: str) -> None:
        backoff = 0.2
        while True:
            proc = self._procs[name]
            code = await _exited(proc)
            if self._closing:
                return
            self.cluster.node_down(name, f"worker exited with code {code}")
            now = trio.current_time()
            recent = [t for t in self.restarts[name] if now - t < RESTART_PERIOD]
            if len(recent) >= MAX_RESTARTS:
                log.error("beamish pool: worker node %s exited %d times within %gs; not "
                          "restarting it", name, len(recent) + 1, RESTART_PERIOD)
                return
            log.warning("beamish pool: worker node %s exited (code %s); restarting in "
                        "%.1fs", name, code, backoff)
            await trio.sleep(backoff)
            backoff = min(backoff * 2, 5.0)
            if self._closing:
                return
            recent.append(trio.current_time())
            self.restarts[name] = recent
            await self._launch(name)

    def pid_of(self, name: str) -> int | None:
        proc = self._procs.get(name)
        return proc.pid if proc is not None and proc.poll() is None else None

    async def aclose(self) -> None:
        """SIGTERM every worker, wait ``stop_timeout``, SIGKILL the rest; reap all."""
        self._closing = True
        procs = [p for p in self._procs.values() if p.poll() is None]
        for p in procs:
            p.send_signal(signal.SIGTERM)
        with trio.move_on_after(self.stop_timeout):
            for p in procs:
                await _exited(p)
        for p in procs:
            if p.poll() is None:
                log.warning("beamish pool: worker %s did not stop in %gs; killing it",
                            p.pid, self.stop_timeout)
                p.kill()
        with trio.CancelScope(shield=True):
            for p in procs:
                await _exited(p)


async def _exited(proc: subprocess.Popen[bytes]) -> int:
    """Wait for ``proc`` to exit (a pidfd where Linux has one, else polling); reap it
    and return its exit code."""
    code = proc.poll()
    if code is not None:
        return code
    try:
        fd = os.pidfd_open(proc.pid)
    except (AttributeError, OSError):  # pragma: no cover - old kernels, other systems
        while proc.poll() is None:
            await trio.sleep(0.05)
        return int(proc.returncode)
    try:
        await trio.lowlevel.wait_readable(fd)
    finally:
        os.close(fd)
    return proc.wait()


class MainNodeHost(Host):
    """On a worker node: a host that only the main node runs (a ``temporal.worker``).
    Spawning on it says so, instead of "host not found"."""

    def __init__(self, name: str, kind: str, main: str) -> None:
        self.name = name
        self.kind = kind
        self.main = main

    def spawn(self, request: SpawnRequest) -> Pid:
        raise Error(
            f"cannot spawn on {self.name} ({self.kind}) from worker node "
            f"{self.node.node_name}: that host runs on the pool's main node {self.main!r}; "
            "start it from the main node (a service or a function called there), or "
            "send the main node a message that asks for it",
            kind=ErrorKind.UNAVAILABLE,
            retryable=False,
        )
