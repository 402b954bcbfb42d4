"""Restart intensity: "at most ``intensity`` restarts in any ``period`` seconds".

OTP's rule (``supervisor.erl``, ``add_restart``): every restart the supervisor is about
to make is stamped with the monotonic time; stamps older than ``period`` are dropped;
if more than ``intensity`` stamps remain, the supervisor gives up instead of
restarting: it stops its children and exits with an error, so *its* supervisor decides
(escalation through the tree). ``intensity = 0`` means the first crash already escalates.

A stamp ``t`` is still in the window at time ``now`` iff ``now - t < period`` (OTP:
``Restart > Now - Period``; written as a difference so float rounding cannot
make the two forms disagree). The window is half-open, so with ``period = 5`` a restart
at 0 and one at exactly 5 do not count together.

Design: a pure function over an immutable tuple, ``now`` passed in (OTP passes ``Now``
into the inner step for the same reason): property tests drive it with arbitrary
clocks, and the supervisor keeps no hidden clock state. :class:`RestartIntensity` is
the small stateful wrapper a supervisor holds.

Invariants: the stamps kept are sorted, all within ``(now - period, now]``, and there
are at most ``intensity + 1`` of them after any call (older ones are never needed).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

__all__ = [
    "DEFAULT_INTENSITY",
    "DEFAULT_PERIOD",
    "RestartIntensity",
    "add_restart",
]

#: OTP's defaults: one restart within five seconds.
DEFAULT_INTENSITY = 1
DEFAULT_PERIOD = 5.0


def add_restart(
    restarts: tuple[float, ...], now: float, period: float, intensity: int
) -> tuple[tuple[float, ...], bool]:
    """Record a restart at ``now``.

    Returns ``(stamps, allowed)``: the stamps still in the window (``now`` included,
    capped to the newest ``intensity + 1``) and whether the restart is within the
    intensity (``len(stamps) <= intensity``). ``restarts`` must be sorted, all ``<= now``.
    """
    kept = (*(t for t in restarts if now - t < period), now)
    if len(kept) > intensity + 1:
        kept = kept[-(intensity + 1) :]
    return kept, len(kept) <= intensity


@dataclass(slots=True)
class RestartIntensity:
    """The restart window of one supervisor.

    intensity: restarts allowed within ``period`` (int >= 0).
    period: window length in seconds (> 0; ``math.inf`` = count every restart ever).
    """

    intensity: int = DEFAULT_INTENSITY
    period: float = DEFAULT_PERIOD
    #: Invariant: sorted stamps within the window as of the last :meth:`record`.
    restarts: tuple[float, ...] = field(default=())

    def record(self, now: float) -> bool:
        """Record a restart at ``now``; False when it exceeds the intensity."""
        self.restarts, allowed = add_restart(self.restarts, now, self.period, self.intensity)
        return allowed

    def in_window(self, now: float) -> int:
        """How many recorded restarts are still within the window at ``now``."""
        if math.isinf(self.period):
            return len(self.restarts)
        return sum(1 for t in self.restarts if now - t < self.period)
