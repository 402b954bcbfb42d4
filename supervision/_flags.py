"""Supervisor flags: the strategy, the restart intensity and the optional backoff.

The contract
------------

``SupervisorSpec(children=(), strategy=ONE_FOR_ONE, intensity=1, period=5.0,
backoff=None)`` describes a static supervisor:

``children``
    Child specs (:class:`ChildSpec` or mappings), started left to right, stopped right
    to left. Checked with :func:`check_child_specs` at construction.
``strategy`` (default ``one_for_one``)
    What a restart covers when a child must be restarted. ``one_for_one``: that child
    only. ``one_for_all``: every child — the others are stopped in reverse start order,
    then all are started again in order. ``rest_for_one``: the child and every child
    started after it (stopped in reverse, restarted in order). Temporary children caught
    in such a group are stopped and removed, not restarted.
``intensity`` (default 1) and ``period`` (default 5 s)
    More than ``intensity`` restarts within ``period`` seconds and the supervisor stops
    all its children (reverse order) and exits with an error of kind INTERNAL whose
    ``details["reason"]`` is ``"reached_max_restart_intensity"``: its own supervisor,
    or the service wrapping it, then decides. ``intensity=0``: no restart at all.
    ``period`` accepts a duration string; ``math.inf`` counts every restart ever.
``backoff`` (default none: restart at once, as OTP does)
    A :class:`Backoff`: the n-th consecutive restart of a child waits ``delay(n)``.
    The count resets when the child's last run lasted at least ``period`` (it outlived
    the intensity window, so it was not part of a crash loop). Restarts still count
    towards the intensity when they are *decided*, not when they happen.

``DynamicSupervisorSpec(intensity=1, period=5.0, backoff=None, max_children=None)``
describes a dynamic supervisor: no children at start, ``start_child`` adds them at run
time, strategy one_for_one; children that exit for good (temporary, transient after a
normal exit, or terminated through the API) are removed. ``max_children`` bounds how
many may exist at once.

Invalid values raise :class:`SpecError` with tags ``invalid_strategy``,
``invalid_intensity``, ``invalid_period``, ``invalid_backoff``,
``invalid_max_children``; invalid children raise the child-spec tags.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from beamish.actors import Error, parse_duration

from ._backoff import Backoff
from ._child_spec import ChildSpec, SpecError, check_child_specs
from ._intensity import DEFAULT_INTENSITY, DEFAULT_PERIOD

__all__ = ["DynamicSupervisorSpec", "Strategy", "SupervisorSpec"]


class Strategy(enum.StrEnum):
    """What a restart covers (see the module docstring)."""

    ONE_FOR_ONE = "one_for_one"
    ONE_FOR_ALL = "one_for_all"
    REST_FOR_ONE = "rest_for_one"


@dataclass(frozen=True, slots=True)
class SupervisorSpec:
    """A static supervisor's children and flags. See the module docstring."""

    children: tuple[ChildSpec, ...] = ()
    strategy: Strategy = Strategy.ONE_FOR_ONE
    intensity: int = DEFAULT_INTENSITY
    period: float = DEFAULT_PERIOD
    backoff: Backoff | None = None

    #: Lets :class:`ChildSpec` recognise a nested supervisor without an import cycle.
    is_supervisor_spec = True
    dynamic = False

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "children", tuple(check_child_specs(self.children)))
        set_(self, "strategy", _valid_strategy(self.strategy))
        set_(self, "intensity", _valid_intensity(self.intensity))
        set_(self, "period", _valid_period(self.period))
        set_(self, "backoff", _valid_backoff(self.backoff))


@dataclass(frozen=True, slots=True)
class DynamicSupervisorSpec:
    """A dynamic supervisor's flags. See the module docstring."""

    intensity: int = DEFAULT_INTENSITY
    period: float = DEFAULT_PERIOD
    backoff: Backoff | None = None
    max_children: int | None = None

    is_supervisor_spec = True
    dynamic = True
    strategy = Strategy.ONE_FOR_ONE
    children: ClassVar[tuple[ChildSpec, ...]] = ()

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "intensity", _valid_intensity(self.intensity))
        set_(self, "period", _valid_period(self.period))
        set_(self, "backoff", _valid_backoff(self.backoff))
        m = self.max_children
        if m is not None and (isinstance(m, bool) or not isinstance(m, int) or m < 0):
            raise SpecError(
                "invalid_max_children",
                m,
                f"max_children must be an integer >= 0 or None (unbounded), got {m!r}",
            )


def _valid_strategy(value: Any) -> Strategy:
    try:
        return Strategy(value)
    except ValueError:
        raise SpecError(
            "invalid_strategy",
            value,
            f"invalid strategy {value!r}; use one_for_one, one_for_all or rest_for_one",
        ) from None


def _valid_intensity(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise SpecError(
            "invalid_intensity", value, f"intensity must be an integer >= 0, got {value!r}"
        )
    return value


def _valid_period(value: Any) -> float:
    try:
        period = parse_duration(value, field="period", allow_inf=True)
    except Error:
        period = -1.0
    if not period > 0:
        raise SpecError(
            "invalid_period",
            value,
            f'period must be a duration > 0 (seconds, "5s", or infinity), got {value!r}',
        )
    return period


def _valid_backoff(value: Any) -> Backoff | None:
    if value is None or isinstance(value, Backoff):
        return value
    if isinstance(value, Mapping):
        try:
            return backoff_from_mapping(value)
        except SpecError:
            raise
        except Error as exc:
            raise SpecError("invalid_backoff", value, exc.message) from None
    raise SpecError(
        "invalid_backoff", value, f"backoff must be a Backoff, a mapping or None, got {value!r}"
    )


_BACKOFF_KEYS = {
    "initial_delay": "initial_delay",
    "max_delay": "max_delay",
    "backoff_factor": "backoff_factor",
    "factor": "backoff_factor",
    "jitter": "jitter",
}


def backoff_from_mapping(data: Mapping[str, Any]) -> Backoff:
    """A :class:`Backoff` from YAML-style keys (``initial_delay``, ``max_delay`` as
    durations; ``backoff_factor`` or ``factor``; ``jitter``)."""
    kw: dict[str, Any] = {}
    for key, value in data.items():
        field = _BACKOFF_KEYS.get(key)
        if field is None:
            raise SpecError(
                "invalid_backoff",
                key,
                f"unknown backoff key {key!r}; known keys: initial_delay, max_delay, "
                "backoff_factor, jitter",
            )
        if field in ("initial_delay", "max_delay"):
            value = parse_duration(value, field=key)
        kw[field] = value
    return Backoff(**kw)
