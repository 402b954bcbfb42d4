"""Go time semantics in pure Python: duration strings and reference-time layouts.

What it is for: Wippy's ``time`` module is Go's ``time`` package seen from Lua. Apps
write ``"1h30m"`` durations and ``"2006-01-02 15:04:05"`` layouts, and compare the text
they get. This module reproduces those two Go formats exactly enough for apps:

* :func:`format_duration` — ``Duration.String`` (``"1h30m0s"``, ``"1.5s"``, ``"250ms"``,
  ``"0s"``). Its inverse, ``time.ParseDuration``, is the one duration parser of every
  layer, :func:`beamish.actors.go_duration` (it raises
  :class:`~beamish.actors.DurationSyntaxError` with Go's message).
* :func:`format_time` / :func:`parse_time` — Go layouts built from the reference time
  ``Mon Jan 2 15:04:05 MST 2006``: every standard chunk (``2006 06 01 1 Jan January 02 2
  _2 002 15 03 3 04 4 05 5 PM pm Mon Monday MST -0700 -07:00 -07 Z0700 Z07:00 Z07`` and
  the second-and-seconds forms), fractional seconds ``.000``/``.999`` (and ``,``).
* Calendar math for ``Time`` methods: :func:`fields`, :func:`date`, :func:`add_date`,
  :func:`truncate` / :func:`round_time` (relative to Go's zero time, as Go does).

A time is ``(sec, nsec)`` since the Unix epoch plus a :class:`Loc` (``UTC``, ``Local``,
an IANA name, or a fixed zone). Designed as plain functions over integers so the Lua
side keeps times as small tables and calls in only for calendar work.

Rejected: ``strftime``/``strptime`` translation (cannot express ``_2``, ``.999`` or Go's
lenient fractional seconds, and depends on the C locale).
"""

from __future__ import annotations

import calendar
import datetime as _dt
import re
import zoneinfo
from dataclasses import dataclass

__all__ = [
    "HOUR",
    "MICROSECOND",
    "MILLISECOND",
    "MINUTE",
    "NANOSECOND",
    "SECOND",
    "UTC",
    "ZERO_SEC",
    "GoTimeError",
    "Loc",
    "add_date",
    "date",
    "fields",
    "format_duration",
    "format_time",
    "load_location",
    "parse_time",
    "round_time",
    "truncate",
]

NANOSECOND = 1
MICROSECOND = 1000
MILLISECOND = 1_000_000
SECOND = 1_000_000_000
MINUTE = 60 * SECOND
HOUR = 60 * MINUTE
#: Go's zero Time (January 1, year 1, 00:00:00 UTC) in Unix seconds.
ZERO_SEC = -62135596800


class GoTimeError(ValueError):
    """A time string, layout or location that does not parse; the message says why (and
    is Go's, where Go has one)."""


# -- durations --------------------------------------------------------------------------------

def format_duration(ns: int) -> str:
    """Go's ``Duration.String``."""
    if ns == 0:
        return "0s"
    neg = ns < 0
    u = -ns if neg else ns
    if u < SECOND:
        if u < MICROSECOND:
            out = f"{u}ns"
        elif u < MILLISECOND:
            out = _frac(u, 3) + "µs"
        else:
            out = _frac(u, 6) + "ms"
    else:
        secs_part = _frac(u % MINUTE, 9) + "s"
        mins = u // MINUTE
        if mins == 0:
            out = secs_part
        else:
            hours, mins = divmod(mins, 60)
            out = (f"{hours}h" if hours else "") + f"{mins}m" + secs_part
    return "-" + out if neg else out


def _frac(v: int, prec: int) -> str:
    whole, frac = divmod(v, 10**prec)
    if not frac:
        return str(whole)
    digits = f"{frac:0{prec}d}".rstrip("0")
    return f"{whole}.{digits}"


# -- locations ----------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Loc:
    """A time zone: ``UTC``, ``Local``, an IANA name, or a fixed offset (seconds east)."""

    name: str
    fixed: int | None = None

    def offset_at(self, sec: int) -> tuple[int, str]:
        """``(offset seconds east of UTC, abbreviation)`` at Unix second ``sec``."""
        if self.fixed is not None:
            return self.fixed, self.name
        if self.name == "UTC":
            return 0, "UTC"
        tz = _tz(self.name)
        instant = _EPOCH + _dt.timedelta(seconds=max(min(sec, 253402300799), -62135596800))
        local = instant.astimezone(tz)
        off = local.utcoffset()
        abbrev = local.tzname() or self.name
        return (int(off.total_seconds()) if off is not None else 0), abbrev


_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.UTC)
UTC = Loc("UTC")


def _tz(name: str) -> _dt.tzinfo:
    if name == "Local":
        local = _dt.datetime.now().astimezone().tzinfo
        assert local is not None
        return local
    return zoneinfo.ZoneInfo(name)


def load_location(name: str) -> Loc:
    """Go's ``time.LoadLocation``: ``""``/``"UTC"`` -> UTC, ``"Local"``, IANA names."""
    if name in ("", "UTC"):
        return UTC
    if name == "Local":
        return Loc("Local")
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise GoTimeError(f"unknown time zone {name}") from exc
    return Loc(name)


# -- calendar -------------------------------------------------------------------------------------

def _civil(days: int) -> tuple[int, int, int]:
    """Days since 1970-01-01 -> (year, month, day), proleptic Gregorian, any year."""
    z = days + 719468
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    y = yoe + era * 400
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + 3 if mp < 10 else mp - 9
    return (y + 1 if m <= 2 else y), m, d


def _days(y: int, m: int, d: int) -> int:
    """(year, month, day) -> days since 1970-01-01 (month/day may overflow: normalised)."""
    y += (m - 1) // 12
    m = (m - 1) % 12 + 1
    y2 = y - 1 if m <= 2 else y
    era = y2 // 400
    yoe = y2 - era * 400
    mp = m + 9 if m <= 2 else m - 3
    doy = (153 * mp + 2) // 5
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468 + (d - 1)


def fields(sec: int, nsec: int, loc: Loc) -> tuple[int, ...]:
    """(year, month, day, hour, minute, second, nsec, weekday 0=Sunday, yearday, offset)."""
    off, _ = loc.offset_at(sec)
    local = sec + off
    days, rem = divmod(local, 86400)
    y, m, d = _civil(days)
    hour, rem = divmod(rem, 3600)
    minute, second = divmod(rem, 60)
    weekday = (days + 4) % 7  # 1970-01-01 was a Thursday
    yday = days - _days(y, 1, 1) + 1
    return (y, m, d, hour, minute, second, nsec, weekday, yday, off)


def date(y: int, mo: int, d: int, h: int, mi: int, s: int, ns: int,
         loc: Loc) -> tuple[int, int]:
    """Go's ``time.Date`` (out-of-range values normalise): ``(sec, nsec)``."""
    extra, ns = divmod(ns, SECOND)
    local = _days(y, mo, d) * 86400 + h * 3600 + mi * 60 + s + extra
    off, _ = loc.offset_at(local)
    sec = local - off
    off2, _ = loc.offset_at(sec)  # across a DST change, use the offset in force then
    if off2 != off:
        sec = local - off2
    return sec, ns


def add_date(sec: int, nsec: int, loc: Loc, years: int, months: int,
             days: int) -> tuple[int, int]:
    y, m, d, hh, mm, ss, ns, *_ = fields(sec, nsec, loc)
    return date(y + years, m + months, d + days, hh, mm, ss, ns, loc)


def truncate(sec: int, nsec: int, d: int) -> tuple[int, int]:
    """Go's ``Time.Truncate``: round down to a multiple of ``d`` since the zero time."""
    if d <= 0:
        return sec, nsec
    since = (sec - ZERO_SEC) * SECOND + nsec
    since -= since % d
    s, n = divmod(since, SECOND)
    return s + ZERO_SEC, n


def round_time(sec: int, nsec: int, d: int) -> tuple[int, int]:
    """Go's ``Time.Round``: nearest multiple of ``d`` since the zero time (halves up)."""
    if d <= 0:
        return sec, nsec
    since = (sec - ZERO_SEC) * SECOND + nsec
    r = since % d
    since = since - r + d if r + r >= d else since - r
    s, n = divmod(since, SECOND)
    return s + ZERO_SEC, n


# -- layouts --------------------------------------------------------------------------------

_LONG_MONTHS = [calendar.month_name[i] for i in range(1, 13)]
_SHORT_MONTHS = [m[:3] for m in _LONG_MONTHS]
_LONG_DAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]
_SHORT_DAYS = [d[:3] for d in _LONG_DAYS]

# token kinds
_STD_TOKENS = [
    ("January", "longmonth"), ("Jan", "month"), ("Monday", "longday"), ("Mon", "day"),
    ("MST", "tz"),
    ("2006", "longyear"), ("002", "zeroyday"), ("__2", "underyday"),
    ("01", "zeromonth"), ("02", "zeroday"), ("03", "zerohour12"), ("04", "zerominute"),
    ("05", "zerosecond"), ("06", "year"), ("15", "hour"), ("_2", "underday"),
    ("Z07:00:00", "isotz_colon_sec"), ("Z070000", "isotz_sec"), ("Z07:00", "isotz_colon"),
    ("Z0700", "isotz"), ("Z07", "isotz_short"),
    ("-07:00:00", "tz_colon_sec"), ("-070000", "tz_sec"), ("-07:00", "tz_colon"),
    ("-0700", "tz_num"), ("-07", "tz_short"),
    ("PM", "PM"), ("pm", "pm"),
    ("1", "nummonth"), ("2", "numday"), ("3", "hour12"), ("4", "minute"), ("5", "second"),
]
_FRAC = re.compile(r"[.,](0+|9+)(?!\d)")


def _tokens(layout: str) -> list[tuple[str, str]]:
    """Split a Go layout into ("lit", text) and (kind, text) chunks."""
    out: list[tuple[str, str]] = []
    lit: list[str] = []
    i = 0
    n = len(layout)
    while i < n:
        m = _FRAC.match(layout, i)
        if m and i > 0 and out and out[-1][0] in ("zerosecond", "second") and not lit:
            out.append(("frac0" if m.group(1)[0] == "0" else "frac9", m.group(0)))
            i = m.end()
            continue
        if m:
            if lit:
                out.append(("lit", "".join(lit)))
                lit = []
            out.append(("frac0" if m.group(1)[0] == "0" else "frac9", m.group(0)))
            i = m.end()
            continue
        for text, kind in _STD_TOKENS:
            if layout.startswith(text, i):
                # "2006" needs care: "_2006" is "_" + year; "Jan" needs no trailing lowercase
                end = i + len(text)
                if kind in ("month", "day") and end < n and layout[end].islower():
                    continue
                if kind == "underday" and layout.startswith("_2006", i):
                    continue
                if lit:
                    out.append(("lit", "".join(lit)))
                    lit = []
                out.append((kind, text))
                i += len(text)
                break
        else:
            lit.append(layout[i])
            i += 1
    if lit:
        out.append(("lit", "".join(lit)))
    return out


def format_time(sec: int, nsec: int, loc: Loc, layout: str) -> str:
    """Go's ``Time.Format(layout)``."""
    y, mo, d, h, mi, s, ns, wd, yd, off = fields(sec, nsec, loc)
    _, abbrev = loc.offset_at(sec)
    parts: list[str] = []
    for kind, text in _tokens(layout):
        if kind == "lit":
            parts.append(text)
        elif kind == "longyear":
            parts.append(f"{y:04d}" if y >= 0 else f"-{-y:04d}")
        elif kind == "year":
            parts.append(f"{y % 100:02d}")
        elif kind == "longmonth":
            parts.append(_LONG_MONTHS[mo - 1])
        elif kind == "month":
            parts.append(_SHORT_MONTHS[mo - 1])
        elif kind == "nummonth":
            parts.append(str(mo))
        elif kind == "zeromonth":
            parts.append(f"{mo:02d}")
        elif kind == "longday":
            parts.append(_LONG_DAYS[wd])
        elif kind == "day":
            parts.append(_SHORT_DAYS[wd])
        elif kind == "numday":
            parts.append(str(d))
        elif kind == "zeroday":
            parts.append(f"{d:02d}")
        elif kind == "underday":
            parts.append(f"{d:2d}")
        elif kind == "zeroyday":
            parts.append(f"{yd:03d}")
        elif kind == "underyday":
            parts.append(f"{yd:3d}")
        elif kind == "hour":
            parts.append(f"{h:02d}")
        elif kind in ("hour12", "zerohour12"):
            h12 = h % 12 or 12
            parts.append(str(h12) if kind == "hour12" else f"{h12:02d}")
        elif kind == "minute":
            parts.append(str(mi))
        elif kind == "zerominute":
            parts.append(f"{mi:02d}")
        elif kind == "second":
            parts.append(str(s))
        elif kind == "zerosecond":
            parts.append(f"{s:02d}")
        elif kind == "PM":
            parts.append("PM" if h >= 12 else "AM")
        elif kind == "pm":
            parts.append("pm" if h >= 12 else "am")
        elif kind == "tz":
            parts.append(abbrev if abbrev and abbrev[0] not in "+-" else _num_tz(off, False, False))
        elif kind in ("frac0", "frac9"):
            digits = len(text) - 1
            frac = f"{ns:09d}"[:digits]
            if kind == "frac9":
                frac = frac.rstrip("0")
                if frac:
                    parts.append(text[0] + frac)
            else:
                parts.append(text[0] + frac)
        else:  # numeric zones
            iso = kind.startswith("iso")
            if iso and off == 0:
                parts.append("Z")
                continue
            colon = "colon" in kind
            with_sec = kind.endswith("sec")
            short = kind.endswith("short")
            parts.append(_num_tz(off, colon, with_sec, short))
    return "".join(parts)


def _num_tz(off: int, colon: bool, with_sec: bool, short: bool = False) -> str:
    sign = "-" if off < 0 else "+"
    a = abs(off)
    hh, rem = divmod(a, 3600)
    mm, ss = divmod(rem, 60)
    if short:
        return f"{sign}{hh:02d}"
    sep = ":" if colon else ""
    out = f"{sign}{hh:02d}{sep}{mm:02d}"
    if with_sec:
        out += f"{sep}{ss:02d}"
    return out


_DIGITS = re.compile(r"\d+")


def parse_time(layout: str, value: str, default: Loc = UTC) -> tuple[int, int, Loc]:
    """Go's ``time.Parse`` / ``ParseInLocation``: ``(sec, nsec, loc)``."""
    y, mo, d, h, mi, s, ns = 1, 1, 1, 0, 0, 0, 0
    pm: bool | None = None
    off: int | None = None
    zone_name: str | None = None
    yday = -1
    pos = 0

    def fail(what: str) -> GoTimeError:
        return GoTimeError(
            f'parsing time "{value}" as "{layout}": cannot parse "{value[pos:]}" as {what}'
        )

    def num(min_len: int, max_len: int, what: str) -> int:
        nonlocal pos
        m = _DIGITS.match(value, pos)
        if not m or not min_len <= len(m.group(0)[:max_len]) <= max_len:
            raise fail(what)
        text = m.group(0)[:max_len]
        pos += len(text)
        return int(text)

    def word(names: list[str], what: str) -> int:
        nonlocal pos
        for i, name in enumerate(names):
            if value[pos:pos + len(name)].lower() == name.lower():
                pos += len(name)
                return i
        raise fail(what)

    toks = _tokens(layout)
    for ti, (kind, text) in enumerate(toks):
        if kind == "lit":
            if not value.startswith(text, pos):
                raise fail(f'"{text}"')
            pos += len(text)
        elif kind == "longyear":
            y = num(4, 4, '"2006"')
        elif kind == "year":
            yy = num(2, 2, '"06"')
            y = yy + (1900 if yy >= 69 else 2000)
        elif kind == "longmonth":
            mo = word(_LONG_MONTHS, '"January"') + 1
        elif kind == "month":
            mo = word(_SHORT_MONTHS, '"Jan"') + 1
        elif kind in ("nummonth", "zeromonth"):
            mo = num(2 if kind == "zeromonth" else 1, 2, f'"{text}"')
        elif kind == "longday":
            word(_LONG_DAYS, '"Monday"')
        elif kind == "day":
            word(_SHORT_DAYS, '"Mon"')
        elif kind in ("numday", "zeroday", "underday"):
            if kind == "underday" and value[pos:pos + 1] == " ":
                pos += 1
            d = num(2 if kind == "zeroday" else 1, 2, f'"{text}"')
        elif kind in ("zeroyday", "underyday"):
            while kind == "underyday" and value[pos:pos + 1] == " ":
                pos += 1
            yday = num(3 if kind == "zeroyday" else 1, 3, f'"{text}"')
        elif kind == "hour":
            h = num(2, 2, '"15"')
        elif kind in ("hour12", "zerohour12"):
            h = num(2 if kind == "zerohour12" else 1, 2, f'"{text}"')
        elif kind in ("minute", "zerominute"):
            mi = num(2 if kind == "zerominute" else 1, 2, f'"{text}"')
        elif kind in ("second", "zerosecond"):
            s = num(2 if kind == "zerosecond" else 1, 2, f'"{text}"')
            # Go accepts a fractional second here even when the layout has none
            nxt = _FRAC_VALUE.match(value, pos)
            next_kind = toks[ti + 1][0] if ti + 1 < len(toks) else ""
            if nxt and next_kind not in ("frac0", "frac9"):
                ns = _frac_ns(nxt.group(1))
                pos = nxt.end()
        elif kind in ("frac0", "frac9"):
            m = _FRAC_VALUE.match(value, pos)
            if not m:
                if kind == "frac9":
                    continue
                raise fail(f'"{text}"')
            ns = _frac_ns(m.group(1))
            pos = m.end()
        elif kind in ("PM", "pm"):
            ampm = value[pos:pos + 2].upper()
            if ampm not in ("AM", "PM"):
                raise fail(f'"{text}"')
            pm = ampm == "PM"
            pos += 2
        elif kind == "tz":
            m = re.compile(r"[A-Z]{3,5}|[+-]\d{2}").match(value, pos)
            if not m:
                raise fail('"MST"')
            zone_name = m.group(0)
            pos = m.end()
            if zone_name in ("UTC", "GMT", "Z"):
                off = 0
        else:
            if kind.startswith("iso") and value[pos:pos + 1] == "Z":
                pos += 1
                off = 0
                continue
            m = re.compile(r"([+-])(\d{2})(?::?(\d{2}))?(?::?(\d{2}))?").match(value, pos)
            if not m:
                raise fail(f'"{text}"')
            sign = -1 if m.group(1) == "-" else 1
            off = sign * (int(m.group(2)) * 3600 + int(m.group(3) or 0) * 60 + int(m.group(4) or 0))
            pos = m.end()
    if pos != len(value):
        raise GoTimeError(f'parsing time "{value}": extra text: "{value[pos:]}"')
    if pm is not None:
        if h > 12:
            raise GoTimeError(f'parsing time "{value}": hour out of range')
        if pm and h < 12:
            h += 12
        elif not pm and h == 12:
            h = 0
    if not (1 <= mo <= 12):
        raise GoTimeError(f'parsing time "{value}": month out of range')
    if yday >= 0:
        mo, d = 1, yday
    elif not (1 <= d <= calendar.monthrange(y if 1 <= y <= 9999 else 2000, mo)[1]):
        raise GoTimeError(f'parsing time "{value}": day out of range')
    if h > 23 or mi > 59 or s > 59:
        raise GoTimeError(f'parsing time "{value}": time out of range')
    if off is not None:
        local = _days(y, mo, d) * 86400 + h * 3600 + mi * 60 + s
        loc = UTC if off == 0 and zone_name in (None, "UTC", "GMT", "Z") else Loc(
            zone_name or _num_tz(off, True, False), off)
        return local - off, ns, loc
    sec, nsec = date(y, mo, d, h, mi, s, ns, default)
    if zone_name and zone_name not in ("UTC", "GMT"):
        return sec, nsec, Loc(zone_name, 0)
    return sec, nsec, default


_FRAC_VALUE = re.compile(r"[.,](\d+)")


def _frac_ns(digits: str) -> int:
    digits = (digits + "000000000")[:9]
    return int(digits)

