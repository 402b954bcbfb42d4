"""Garbage-collector tuning while a node runs.

Why: every message is two young container objects (the :class:`Message` and its payload
tuple). With CPython's default generation-0 threshold of 700 allocations, a young
collection runs every few hundred messages, and each one walks every message still
queued in a mailbox: measured on one-way throughput, about a fifth of the cost of a
message. Long-running Python servers commonly raise the threshold for the same reason.

So a running :class:`Node` raises the generation-0 threshold to at least
``gc_threshold`` (default :data:`DEFAULT_GC_THRESHOLD`) and puts the previous value
back when the last running node exits, unless someone else changed it meanwhile.
Generations 1 and 2 keep their thresholds: cycles are still collected, in larger
batches. ``Node(gc_threshold=None)`` leaves the collector alone.

Invariant: ``_saved`` is not None iff ``_holders > 0`` and a node raised the threshold.
"""

from __future__ import annotations

import gc
import threading

__all__ = ["DEFAULT_GC_THRESHOLD", "hold", "release"]

#: Generation-0 threshold a running node asks for (CPython's default is 700).
DEFAULT_GC_THRESHOLD = 10_000

_lock = threading.Lock()
_holders = 0
_saved: tuple[int, int, int] | None = None  # thresholds before the first holder
_ours: int | None = None  # the generation-0 threshold we set


def hold(threshold: int | None) -> bool:
    """Raise the generation-0 threshold to ``threshold`` while held. Returns whether
    this call holds (and so must :func:`release`); ``None`` means no tuning."""
    global _holders, _saved, _ours
    if threshold is None:
        return False
    with _lock:
        current = gc.get_threshold()
        if current[0] < threshold:
            if _saved is None:
                _saved = current
            gc.set_threshold(threshold, current[1], current[2])
            _ours = threshold
        _holders += 1
    return True


def release() -> None:
    """Undo one :func:`hold`; the last one restores the thresholds found at the first."""
    global _holders, _saved, _ours
    with _lock:
        _holders -= 1
        if _holders == 0 and _saved is not None:
            if gc.get_threshold()[0] == _ours:  # nobody else retuned it meanwhile
                gc.set_threshold(*_saved)
            _saved = _ours = None
