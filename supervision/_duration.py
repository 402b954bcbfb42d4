"""Durations in configuration: Go duration strings ("5s", "1m30s", "500ms") or numbers.

Why: Wippy's YAML writes every lifecycle timing as a Go ``time.Duration`` string, so a
Wippy app must load unchanged; Python users would rather write numbers. Both are
accepted and normalised to **float seconds**, the unit every beamish API takes.

Grammar (Go's ``time.ParseDuration``, minus the sign): one or more ``<number><unit>``
pairs, ``number`` a decimal with optional fraction, ``unit`` one of ``ns``, ``us``
(``µs``/``μs``), ``ms``, ``s``, ``m``, ``h``. The lone string ``"0"`` is zero. A plain
number (int or float, or a numeric string such as ``"2.5"``) means seconds.

Rejected: negative durations (no lifecycle timing can be negative; Go accepts them),
``bool`` (YAML's ``yes`` would silently become 1 s), NaN, and units Go does not know
(``"5sec"``, ``"1d"``). Errors are ``Error(INVALID)`` naming the field and the value and
showing a valid example, so a kind handler can prefix the entry and file.
"""

from __future__ import annotations

import math
import re

from beamish.actors import Error, ErrorKind

__all__ = ["parse_duration"]

_UNITS: dict[str, float] = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,  # U+00B5 micro sign
    "μs": 1e-6,  # U+03BC greek mu
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}
_PART = re.compile(r"(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h)")
_NUMBER = re.compile(r"\d+\.?\d*|\.\d+")


def parse_duration(value: object, *, field: str = "duration", allow_inf: bool = False) -> float:
    """Seconds for ``value``: a Go duration string, a number of seconds, or ``"infinity"``
    (only with ``allow_inf``; also ``math.inf``). Raises ``Error(INVALID)`` naming ``field``."""
    if isinstance(value, bool) or value is None:
        raise _bad(field, value)
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        text = value.strip()
        if allow_inf and text.lower() in ("infinity", "inf"):
            return math.inf
        seconds = _parse_text(text, field, value)
    else:
        raise _bad(field, value)
    if math.isnan(seconds) or seconds < 0:
        raise _bad(field, value)
    if math.isinf(seconds) and not allow_inf:
        raise _bad(field, value)
    return seconds


def _parse_text(text: str, field: str, original: object) -> float:
    if text == "0" or _NUMBER.fullmatch(text):
        return float(text)
    pos, total = 0, 0.0
    while pos < len(text):
        m = _PART.match(text, pos)
        if m is None:
            raise _bad(field, original)
        total += float(m.group(1)) * _UNITS[m.group(2)]
        pos = m.end()
    if pos == 0:
        raise _bad(field, original)
    return total


def _bad(field: str, value: object) -> Error:
    return Error(
        f'\'{field}\' must be a duration like "5s", "1m30s", "500ms" or a number of '
        f"seconds (>= 0), got {value!r}",
        kind=ErrorKind.INVALID,
        retryable=False,
        details={"field": field, "value": repr(value)},
    )
