"""Child server processes: what the embedded servers (NATS, Temporal) and worker pools
share.

Every server or worker beamish starts is a child process that must not outlive it and
must be reachable on a port nobody else holds. These are the socket and process helpers
for that, in one place (the layers that start children import them from the
``beamish.actors`` facade): a free port, PDEATHSIG, starting again when a picked port
was taken meanwhile, waiting until the server listens, the bounded stop (SIGTERM, a
grace period, SIGKILL, reap), and the tail of its log for error messages.

``die_with_parent()`` returns a ``preexec_fn`` that sets ``PR_SET_PDEATHSIG`` (Linux):
the kernel SIGKILLs the child when the *thread* that forked it exits, even by SIGKILL,
so call ``Popen`` from a long-lived thread (the main one). It returns ``None`` where
the call does not exist. The C function is looked up before the fork: nothing is
imported or resolved in the child.
"""

from __future__ import annotations

import contextlib
import ctypes
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = [
    "PORT_ATTEMPTS",
    "accepts_connections",
    "die_with_parent",
    "free_port",
    "kill_child",
    "log_tail",
    "port_in_use",
    "start_on_port",
    "stop_child",
    "wait_listening",
]

_PR_SET_PDEATHSIG = 1
_prctl: Any = None


def free_port(ip: str) -> int:
    """A TCP port on ``ip`` that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((ip, 0))
        return int(s.getsockname()[1])


def port_in_use(ip: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((ip, port))
        except OSError:
            return True
        return False


def accepts_connections(ip: str, port: int) -> bool:
    """Whether something accepts a TCP connection there now (within 0.2 s)."""
    try:
        socket.create_connection((ip, port), timeout=0.2).close()
    except OSError:
        return False
    return True


def _set_pdeathsig() -> None:  # in the child, between fork and exec
    _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def die_with_parent() -> Callable[[], None] | None:
    """The ``preexec_fn`` that makes a child die with the forking thread, or ``None``."""
    global _prctl
    if _prctl is None and sys.platform.startswith("linux"):
        _prctl = ctypes.CDLL(None, use_errno=True).prctl
    return _set_pdeathsig if _prctl is not None else None


# -- a child server's life: start on a free port, wait until it listens, stop -------------

#: How often a server picking its own free port tries again when another process took
#: the port between the pick and the server's bind.
PORT_ATTEMPTS = 3


def start_on_port(
    launch: Callable[[], None],
    wait_ready: Callable[[], None],
    port_was_picked: Callable[[], bool],
    forget_port: Callable[[], None],
) -> None:
    """``launch()`` then ``wait_ready()``. When the server's port was picked here (not
    asked for) and the server failed with "address already in use", ``forget_port()``
    and try again, at most :data:`PORT_ATTEMPTS` times in all; else the error stands."""
    for attempt in range(PORT_ATTEMPTS):
        launch()
        try:
            wait_ready()
        except Exception as e:
            if (attempt + 1 < PORT_ATTEMPTS and port_was_picked()
                    and "address already in use" in str(e)):
                forget_port()
                continue
            raise
        return


def wait_listening(proc: subprocess.Popen[bytes], ip: str, port: int, timeout: float,
                   max_delay: float) -> int | None:
    """Poll (5 ms, doubling to ``max_delay``) until ``ip:port`` accepts connections
    (``None``) or ``proc`` exits (its exit code). Raises :class:`TimeoutError` after
    ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    delay = 0.005
    while True:
        code = proc.poll()
        if code is not None:
            return code
        if accepts_connections(ip, port):
            return None
        if time.monotonic() >= deadline:
            raise TimeoutError(f"{ip}:{port} did not accept connections in {timeout:g} s")
        time.sleep(delay)
        delay = min(delay * 2, max_delay)


def stop_child(proc: subprocess.Popen[bytes] | None, grace: float) -> None:
    """SIGTERM, wait up to ``grace`` seconds, SIGKILL, reap; nothing for a child that is
    gone already."""
    if proc is None or proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        kill_child(proc)


def kill_child(proc: subprocess.Popen[bytes] | None) -> None:
    """SIGKILL and reap (no grace period); nothing for a child that is gone already."""
    if proc is None or proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        proc.kill()
    proc.wait()


def log_tail(path: Path | None, offset: int, limit: int = 1500) -> str:
    """The last ``limit`` bytes a child wrote to its log since ``offset`` (for errors)."""
    if path is None:
        return "(no log)"
    try:
        with open(path, "rb") as f:
            f.seek(offset)
            data = f.read()[-limit:]
    except OSError:
        return "(log unreadable)"
    return data.decode(errors="replace").strip() or "(empty log)"
