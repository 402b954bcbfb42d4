"""Restart backoff: how long to wait before the n-th restart of a crash streak.

The rule (Wippy's documented one)::

    base(n)  = min(initial_delay * backoff_factor ** (n - 1), max_delay)   # n >= 1
    delay(n) = max(0, base(n) * (1 + jitter * u)),  u uniform in [-1, 1)

So the first restart waits ``initial_delay``, each later one ``backoff_factor`` times
longer, until ``max_delay``; jitter spreads restarts of many services apart. Jitter is
applied *after* the cap (as Wippy's calculator does), so a delay may exceed
``max_delay`` by at most ``jitter * max_delay``. ``max_delay == 0`` means "no cap"
(Wippy's convention: the cap applies only when set).

Deliberately *not* copied: Wippy HEAD's controller builds a fresh calculator per retry,
so every restart waits ``initial_delay`` and the factor never applies (a quirk of its
code that contradicts its documented rule). Here the caller passes the attempt number
``n``.

Design: a frozen value object plus a pure :meth:`Backoff.delay` taking the attempt and
a ``random.Random``; who counts attempts and when they reset (a service's
``stable_threshold``, a supervisor child's run outliving the intensity period) is the
caller's business. It draws exactly one ``rng.random()`` per delay when ``jitter > 0``
and none otherwise, so a seeded run is reproducible and a test can replay the draws.

Invariant: ``base(n)`` is non-decreasing in ``n`` and never exceeds the cap; it never
overflows (large exponents saturate at the cap instead of raising OverflowError).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from beamish.actors import Error, ErrorKind

__all__ = [
    "DEFAULT_BACKOFF_FACTOR",
    "DEFAULT_INITIAL_DELAY",
    "DEFAULT_JITTER",
    "DEFAULT_MAX_DELAY",
    "Backoff",
]

#: Wippy's ``restart`` defaults (``runtime:api/supervisor/config.go``).
DEFAULT_INITIAL_DELAY = 1.0
DEFAULT_MAX_DELAY = 90.0
DEFAULT_BACKOFF_FACTOR = 2.0
DEFAULT_JITTER = 0.1


@dataclass(frozen=True, slots=True)
class Backoff:
    """Exponential backoff with a cap and jitter; all times in seconds.

    Fields (validated at construction, ``Error(INVALID)`` with a tagged ``details``):
        initial_delay: wait before the first restart (>= 0). Default 1 s.
        max_delay: cap on the un-jittered delay (>= 0; 0 = no cap). Default 90 s.
        backoff_factor: growth per attempt (>= 1; 1 = constant delay). Default 2.0.
        jitter: fraction of random spread, in [0, 1]. Default 0.1 (±10 %).
    """

    initial_delay: float = DEFAULT_INITIAL_DELAY
    max_delay: float = DEFAULT_MAX_DELAY
    backoff_factor: float = DEFAULT_BACKOFF_FACTOR
    jitter: float = DEFAULT_JITTER

    def __post_init__(self) -> None:
        _check("initial_delay", self.initial_delay, lambda v: 0 <= v < math.inf, ">= 0")
        _check("max_delay", self.max_delay, lambda v: 0 <= v < math.inf, ">= 0 (0 = no cap)")
        _check("backoff_factor", self.backoff_factor, lambda v: 1 <= v < math.inf, ">= 1")
        _check("jitter", self.jitter, lambda v: 0 <= v <= 1, "between 0 and 1")

    def base(self, attempt: int) -> float:
        """The un-jittered delay before restart number ``attempt`` (1-based)."""
        if attempt < 1:
            raise Error(f"backoff attempt must be >= 1, got {attempt}", kind=ErrorKind.INVALID)
        cap = self.max_delay if self.max_delay > 0 else math.inf
        exponent = attempt - 1
        if self.initial_delay == 0:
            return 0.0
        if exponent == 0 or self.backoff_factor == 1:
            return min(self.initial_delay, cap)
        if self.initial_delay >= cap:
            return cap
        # Saturate instead of overflowing: compare the growth in log space first.
        room = math.log(cap / self.initial_delay) if cap < math.inf else 700.0
        if exponent * math.log(self.backoff_factor) >= room:
            return cap
        return min(self.initial_delay * self.backoff_factor**exponent, cap)

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        """The jittered delay before restart number ``attempt`` (1-based).

        Draws one ``rng.random()`` when ``jitter > 0`` (module ``random`` if ``rng`` is
        None); the result is ``base * (1 + jitter * (2u - 1))``, never negative.
        """
        base = self.base(attempt)
        if self.jitter <= 0 or base == 0 or math.isinf(base):
            return base
        u = (rng or random).random()
        return max(0.0, base + base * self.jitter * (2.0 * u - 1.0))

    def bounds(self, attempt: int) -> tuple[float, float]:
        """The smallest and largest value :meth:`delay` can return for ``attempt``."""
        base = self.base(attempt)
        return max(0.0, base * (1 - self.jitter)), base * (1 + self.jitter)


def _check(name: str, value: object, ok: object, rule: str) -> None:
    valid = isinstance(value, int | float) and not isinstance(value, bool)
    if valid:
        try:
            valid = bool(ok(float(value)))  # type: ignore[operator,arg-type]
        except (TypeError, ValueError):
            valid = False
    if not valid:
        raise Error(
            f"backoff '{name}' must be a number {rule}, got {value!r}",
            kind=ErrorKind.INVALID,
            retryable=False,
            details={"tag": "invalid_backoff", "field": name, "value": repr(value)},
        )
