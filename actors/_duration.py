"""Durations: one grammar for every layer (Go's ``time.ParseDuration``).

Why one module: Wippy writes every timing (YAML lifecycle fields, Temporal options, the
Lua ``time`` module) as a Go ``time.Duration`` string, and each beamish layer used to
parse its own subset. This is the only parser; every layer calls it, so ``"1m30s"``
means the same thing everywhere.

Grammar (Go's): an optional sign, then one or more ``<number><unit>`` pairs, ``number``
a decimal with an optional fraction (``"1.5h"``, ``".5s"``), ``unit`` one of ``ns``,
``us`` (``µs``/``μs``), ``ms``, ``s``, ``m``, ``h``. The lone ``"0"`` is zero. Values
that overflow Go's int64 nanoseconds are rejected, as Go does.

Two entry points:

* :func:`go_duration` — the exact Go function: a string in, signed integer
  nanoseconds out, :class:`DurationSyntaxError` with Go's own message otherwise (the Lua
  ``time`` module shows that message to scripts).
* :func:`parse_duration` — for configuration and options: a Go string, a number or a
  :class:`~datetime.timedelta` in, float **seconds** out (the unit of every beamish
  API). A plain number (or a numeric string such as ``"2.5"``) is in ``number_unit``:
  seconds unless the caller's format says otherwise (Wippy's Temporal options count
  bare numbers in milliseconds). Negative values, ``bool`` (YAML's ``yes`` would
  silently become 1 s), NaN and, unless ``allow_inf``, infinity are refused. Errors are
  ``Error(INVALID)`` naming the field and the value and showing valid examples, so a
  kind handler can prefix the entry and file.
"""

from __future__ import annotations

import datetime
import math
import re

from ._errors import Error, ErrorKind

__all__ = ["DurationSyntaxError", "go_duration", "parse_duration"]

_NS_PER: dict[str, int] = {
    "ns": 1,
    "us": 1_000,
    "µs": 1_000,  # U+00B5 micro sign
    "μs": 1_000,  # U+03BC greek mu
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60_000_000_000,
    "h": 3_600_000_000_000,
}
_MAX_NS = 2**63 - 1
_PART = re.compile(r"(\d*)(?:\.(\d*))?([^\d.]+)")
_NUMBER = re.compile(r"[+]?(\d+\.?\d*|\.\d+)")
_SECONDS_PER = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


class DurationSyntaxError(ValueError):
    """A string that is not a Go duration; the message is Go's."""


def go_duration(text: str) -> int:
    """Go's ``time.ParseDuration``: signed nanoseconds for ``"1h30m"``, ``"-1.5s"``..."""
    orig = text
    if not isinstance(text, str) or not text:
        raise DurationSyntaxError(f'time: invalid duration "{orig}"')
    neg = False
    if text[0] in "+-":
        neg = text[0] == "-"
        text = text[1:]
    if text == "0":
        return 0
    if not text:
        raise DurationSyntaxError(f'time: invalid duration "{orig}"')
    total = 0
    pos = 0
    while pos < len(text):
        m = _PART.match(text, pos)
        if not m or (not m.group(1) and not m.group(2)):
            raise DurationSyntaxError(f'time: invalid duration "{orig}"')
        whole, frac, unit = m.group(1), m.group(2), m.group(3)
        scale = _NS_PER.get(unit)
        if scale is None:
            raise DurationSyntaxError(f'time: unknown unit "{unit}" in duration "{orig}"')
        v = int(whole or "0") * scale
        if frac:
            v += int(frac) * scale // (10 ** len(frac))
        total += v
        if total > _MAX_NS + (1 if neg else 0):
            raise DurationSyntaxError(f'time: invalid duration "{orig}"')
        pos = m.end()
    return -total if neg else total


def parse_duration(
    value: object,
    *,
    field: str = "duration",
    number_unit: str = "s",
    allow_inf: bool = False,
) -> float:
    """Seconds for ``value``: a Go duration string, a number in ``number_unit`` (``"s"``,
    ``"ms"``...), a :class:`~datetime.timedelta`, or, with ``allow_inf``, ``"infinity"`` /
    ``math.inf``. Raises ``Error(INVALID)`` naming ``field``."""
    if isinstance(value, bool) or value is None:
        raise _bad(field, value, number_unit)
    if isinstance(value, datetime.timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, int | float):
        seconds = float(value) * _SECONDS_PER[number_unit]
    elif isinstance(value, str):
        text = value.strip()
        if allow_inf and text.lower() in ("infinity", "inf"):
            return math.inf
        if _NUMBER.fullmatch(text):
            seconds = float(text) * _SECONDS_PER[number_unit]
        else:
            try:
                seconds = go_duration(text) / 1e9
            except DurationSyntaxError:
                raise _bad(field, value, number_unit) from None
    else:
        raise _bad(field, value, number_unit)
    if math.isnan(seconds) or seconds < 0 or (math.isinf(seconds) and not allow_inf):
        raise _bad(field, value, number_unit)
    return seconds


_UNIT_NAMES = {"s": "seconds", "ms": "milliseconds"}


def _bad(field: str, value: object, number_unit: str) -> Error:
    unit = _UNIT_NAMES.get(number_unit, number_unit)
    return Error(
        f'\'{field}\' must be a duration like "5s", "1m30s", "500ms" or a number of '
        f"{unit} (>= 0), got {value!r}",
        kind=ErrorKind.INVALID,
        retryable=False,
        details={"field": field, "value": repr(value)},
    )
