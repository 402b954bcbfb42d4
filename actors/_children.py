"""Child server processes: what the embedded servers (NATS, Temporal) and worker pools
share.

Every server or worker beamish starts is a child process that must not outlive it and
must be reachable on a port nobody else holds. These are the few socket and process
helpers for that, in one place (the layers that start children import them from the
``beamish.actors`` facade).

``die_with_parent()`` returns a ``preexec_fn`` that sets ``PR_SET_PDEATHSIG`` (Linux):
the kernel SIGKILLs the child when the *thread* that forked it exits, even by SIGKILL,
so call ``Popen`` from a long-lived thread (the main one). It returns ``None`` where
the call does not exist. The C function is looked up before the fork: nothing is
imported or resolved in the child.
"""

from __future__ import annotations

import ctypes
import signal
import socket
import sys
from collections.abc import Callable
from typing import Any

__all__ = ["accepts_connections", "die_with_parent", "free_port", "port_in_use"]

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
