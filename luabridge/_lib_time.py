"""The ``time`` Lua module (``require("time")``): clocks, sleeps, timers, Go times.

Wippy's API (``lua-api.md`` §1.5). Durations are a ``Duration`` object, a number of
**nanoseconds** (``500 * time.MILLISECOND``) or a Go string (``"1h30m"``, ``"250ms"``).

================================  ==========================================================
``time.now()``                    Time (UTC; the workflow clock inside a workflow)
``time.sleep(d)``                 yields the process to the scheduler (never blocks the
                                  thread); a durable timer in a workflow
``time.after(d)``                 channel that receives the Time once, ``d`` from now
``time.timer(d)``                 ``Timer, err``: ``:channel()``/``:response()``,
                                  ``:stop()`` -> bool, ``:reset(d)`` -> bool
``time.ticker(d)``                ``Ticker, err`` (``d <= 0`` is INVALID): ``:channel()``,
                                  ``:stop()``
``time.parse_duration(x)``        ``Duration, err``; ``d:hours() :minutes() :seconds()``
                                  (floats), ``:milliseconds() :microseconds()
                                  :nanoseconds()`` (integers), ``:string()``
``time.unix(sec, nsec)``,         Time; ``time.parse`` returns ``Time, err``
``time.date(y,mo,d,h,mi,s,ns,loc)``,
``time.parse(layout, s, loc?)``
Time methods                      ``add sub add_date before after equal compare format
                                  format_rfc3339 unix unix_milli unix_micro unix_nano date
                                  clock year month day hour minute second nanosecond
                                  weekday year_day is_zero utc in_local in_location
                                  location round truncate string``
locations                         ``time.utc``, ``time.localtz``, ``time.load_location``,
                                  ``time.fixed_zone(name, offset_seconds)``
constants                         ``NANOSECOND ... HOUR``, ``RFC3339`` and the other Go
                                  layouts, ``JANUARY..DECEMBER``, ``SUNDAY..SATURDAY``
================================  ==========================================================

Timer quota (``limits.timers`` of the process's host): every ``time.after`` channel,
``time.timer``, ``time.ticker`` and ``time.sleep`` takes a slot of its Lua process
while it lives: from creation until its value is received (``after``, ``timer``,
``sleep``), it is stopped (``:stop()``), or its channel is garbage-collected; a ticker
holds its slot until stopped or collected, a reset timer takes it again. Creating one
more than the limit fails in the script: ``time.timer``/``time.ticker`` return ``nil,
err``, ``time.after``/``time.sleep`` and ``:reset`` raise ``err`` (the file's
convention: bad durations do the same); ``err:kind()`` is ``errors.RATE_LIMITED``,
retryable. Stopping a timer, or losing its channel, also cancels the kernel timer
behind it at once (before, a stopped timer's task ran until its deadline).

Design: Time, Duration and Location are small Lua tables with protected metatables;
arithmetic and comparisons stay in Lua, calendar work calls pure Python helpers
(:mod:`._gotime`) directly (no yield: they need no process). Only the clock and the
waits go through the driver, hence through the context: that is what makes them
replayable in workflows.
"""

from __future__ import annotations

import datetime as _dt
import weakref
from collections.abc import Callable
from typing import Any

from beamish.actors._errors import Error, ErrorKind
from beamish.actors._limits import limit_error, limits_of

from . import _gotime as gt
from ._channels import LChannel, Waiter
from ._commands import BLOCKED, DirectAwait, command

__all__ = ["TIME_LUA", "time_callbacks"]

_LAYOUTS = {
    "LAYOUT": "01/02 03:04:05PM '06 -0700",
    "ANSIC": "Mon Jan _2 15:04:05 2006",
    "UNIX_DATE": "Mon Jan _2 15:04:05 MST 2006",
    "RUBY_DATE": "Mon Jan 02 15:04:05 -0700 2006",
    "RFC822": "02 Jan 06 15:04 MST",
    "RFC822Z": "02 Jan 06 15:04 -0700",
    "RFC850": "Monday, 02-Jan-06 15:04:05 MST",
    "RFC1123": "Mon, 02 Jan 2006 15:04:05 MST",
    "RFC1123Z": "Mon, 02 Jan 2006 15:04:05 -0700",
    "RFC3339": "2006-01-02T15:04:05Z07:00",
    "RFC3339NANO": "2006-01-02T15:04:05.999999999Z07:00",
    "KITCHEN": "3:04PM",
    "STAMP": "Jan _2 15:04:05",
    "STAMP_MILLI": "Jan _2 15:04:05.000",
    "STAMP_MICRO": "Jan _2 15:04:05.000000",
    "STAMP_NANO": "Jan _2 15:04:05.000000000",
    "DATE_TIME": "2006-01-02 15:04:05",
    "DATE_ONLY": "2006-01-02",
    "TIME_ONLY": "15:04:05",
}

TIME_LUA = r"""
local core, H, consts, host = ...
local command = core.command
local real = host.real
-- shared constants like time.utc reach scripts as read-only proxies
local function unproxy(v) return (type(v) == "table" and real(v)) or v end
local sync = core.sync
local type, error, tostring = type, error, tostring
local setmetatable, getmetatable = setmetatable, getmetatable
local math_type, floor, tointeger = math.type, math.floor, math.tointeger
local SECOND = 1000000000
local ZERO_SEC = consts.ZERO_SEC

local time = {}
for k, v in pairs(consts.values) do time[k] = v end

local function invalid(msg)
  return errors.new{kind = errors.INVALID, message = msg, retryable = false}
end

-- Duration -----------------------------------------------------------------------------
local D = {}
local D_MT = {__index = D, __metatable = "duration"}
local function new_dur(ns) return setmetatable({ns = ns}, D_MT) end
local function is_dur(v) return type(v) == "table" and getmetatable(v) == "duration" end

local function to_ns(d)
  local t = type(d)
  if t == "number" then
    local i = tointeger(d)
    if i then return i end
    if d ~= d or d == math.huge or d == -math.huge then
      return nil, invalid("duration must be finite")
    end
    return floor(d)
  elseif t == "string" then
    local ns, err = H.parse_duration(d)
    if ns == nil then return nil, invalid(err) end
    return ns
  elseif is_dur(d) then
    return d.ns
  end
  return nil, invalid("invalid duration: expected a Duration, nanoseconds or a string "
    .. "like '1h30m', got " .. t)
end
time._to_ns = to_ns

function D.hours(d) return d.ns / 3600e9 end
function D.minutes(d) return d.ns / 60e9 end
function D.seconds(d) return d.ns / 1e9 end
function D.milliseconds(d) return d.ns // 1000000 end
function D.microseconds(d) return d.ns // 1000 end
function D.nanoseconds(d) return d.ns end
function D.string(d) return H.format_duration(d.ns) end
function D.abs(d) return new_dur(d.ns < 0 and -d.ns or d.ns) end
D_MT.__tostring = D.string
D_MT.__eq = function(a, b) return is_dur(a) and is_dur(b) and a.ns == b.ns end
D_MT.__lt = function(a, b) return assert(to_ns(a)) < assert(to_ns(b)) end
D_MT.__le = function(a, b) return assert(to_ns(a)) <= assert(to_ns(b)) end
D_MT.__add = function(a, b) return new_dur(assert(to_ns(a)) + assert(to_ns(b))) end
D_MT.__sub = function(a, b) return new_dur(assert(to_ns(a)) - assert(to_ns(b))) end
D_MT.__unm = function(a) return new_dur(-a.ns) end

function time.parse_duration(x)
  local ns, err = to_ns(x)
  if ns == nil then return nil, err end
  return new_dur(ns), nil
end

-- Location -----------------------------------------------------------------------------
local L = {}
local L_MT = {__index = L, __metatable = "location"}
local function new_loc(name, fo) return setmetatable({name = name, fo = fo}, L_MT) end
function L.string(l) return l.name end
L_MT.__tostring = L.string
time.utc = new_loc("UTC")
time.localtz = new_loc("Local")
function time.load_location(name)
  if type(name) ~= "string" then return nil, invalid("location name must be a string") end
  if name == "" then return nil, invalid("location name must not be empty") end
  local canon, err = H.load_location(name)
  if canon == nil then
    return nil, errors.new{kind = errors.NOT_FOUND, message = err, retryable = false}
  end
  return new_loc(canon), nil
end
function time.fixed_zone(name, offset)
  if type(name) ~= "string" or math_type(offset) ~= "integer" then
    error("bad arguments to 'fixed_zone' (name, offset seconds expected)", 2)
  end
  return new_loc(name, offset)
end

-- Time ---------------------------------------------------------------------------------
local T = {}
local T_MT = {__index = T, __metatable = "time"}
local function new_time(s, n, loc, fo)
  return setmetatable({s = s, n = n, loc = loc or "UTC", fo = fo}, T_MT)
end
local function is_time(v) return type(v) == "table" and getmetatable(v) == "time" end
time._new_time = new_time

local function norm(s, n)  -- carry nanoseconds into seconds
  return s + n // SECOND, n % SECOND
end
local function check_time(t, fname)
  if not is_time(t) then error("bad argument to '" .. fname .. "' (Time expected)", 3) end
  return t
end

function T.add(t, d)
  local ns, err = to_ns(d)
  if ns == nil then error(err, 2) end
  local s, n = norm(t.s, t.n + ns)
  return new_time(s, n, t.loc, t.fo)
end
function T.sub(t, u)
  check_time(u, "sub")
  return new_dur((t.s - u.s) * SECOND + (t.n - u.n))
end
function T.add_date(t, y, m, d)
  local s, n = H.add_date(t.s, t.n, t.loc, t.fo, y or 0, m or 0, d or 0)
  return new_time(s, n, t.loc, t.fo)
end
function T.compare(t, u)
  check_time(u, "compare")
  if t.s ~= u.s then return t.s < u.s and -1 or 1 end
  if t.n ~= u.n then return t.n < u.n and -1 or 1 end
  return 0
end
function T.before(t, u) return T.compare(t, u) < 0 end
function T.after(t, u) return T.compare(t, u) > 0 end
function T.equal(t, u) return T.compare(t, u) == 0 end
function T.format(t, layout)
  if type(layout) ~= "string" then
    error("bad argument #1 to 'format' (layout string expected)", 2)
  end
  return H.format(t.s, t.n, t.loc, t.fo, layout)
end
function T.format_rfc3339(t) return H.format(t.s, t.n, t.loc, t.fo, time.RFC3339) end
local GO_STRING = "2006-01-02 15:04:05.999999999 -0700 MST"
function T.string(t) return H.format(t.s, t.n, t.loc, t.fo, GO_STRING) end
function T.unix(t) return t.s end
function T.unix_milli(t) return t.s * 1000 + t.n // 1000000 end
function T.unix_micro(t) return t.s * 1000000 + t.n // 1000 end
function T.unix_nano(t) return t.s * SECOND + t.n end
local function F(t) return H.fields(t.s, t.n, t.loc, t.fo) end
function T.date(t) local y, m, d = F(t) return y, m, d end
function T.clock(t) local _, _, _, h, mi, s = F(t) return h, mi, s end
function T.year(t) return (F(t)) end
function T.month(t) return (select(2, F(t))) end
function T.day(t) return (select(3, F(t))) end
function T.hour(t) return (select(4, F(t))) end
function T.minute(t) return (select(5, F(t))) end
function T.second(t) return (select(6, F(t))) end
function T.nanosecond(t) return t.n end
function T.weekday(t) return (select(8, F(t))) end
function T.year_day(t) return (select(9, F(t))) end
function T.is_zero(t) return t.s == ZERO_SEC and t.n == 0 end
function T.utc(t) return new_time(t.s, t.n, "UTC") end
function T.in_local(t) return new_time(t.s, t.n, "Local") end
function T.in_location(t, loc)
  loc = unproxy(loc)
  if type(loc) ~= "table" or getmetatable(loc) ~= "location" then
    error("bad argument #1 to 'in_location' (location expected)", 2)
  end
  return new_time(t.s, t.n, loc.name, loc.fo)
end
function T.location(t) return new_loc(t.loc, t.fo) end
function T.truncate(t, d)
  local ns, err = to_ns(d)
  if ns == nil then error(err, 2) end
  local s, n = H.truncate(t.s, t.n, ns)
  return new_time(s, n, t.loc, t.fo)
end
function T.round(t, d)
  local ns, err = to_ns(d)
  if ns == nil then error(err, 2) end
  local s, n = H.round(t.s, t.n, ns)
  return new_time(s, n, t.loc, t.fo)
end
T_MT.__tostring = T.string
T_MT.__eq = function(a, b) return is_time(a) and is_time(b) and a.s == b.s and a.n == b.n end
T_MT.__lt = function(a, b) return T.compare(a, b) < 0 end
T_MT.__le = function(a, b) return T.compare(a, b) <= 0 end

function time.unix(sec, nsec)
  if math_type(sec) ~= "integer" then sec = floor(sec or 0) end
  local s, n = norm(sec, tointeger(nsec or 0) or floor(nsec))
  return new_time(s, n, "UTC")
end
function time.date(y, mo, d, h, mi, s, ns, loc)
  local lname, fo = "UTC", nil
  loc = unproxy(loc)
  if loc ~= nil then
    if type(loc) ~= "table" or getmetatable(loc) ~= "location" then
      error("bad argument #8 to 'date' (location expected)", 2)
    end
    lname, fo = loc.name, loc.fo
  end
  local sec, nsec = H.date(y, mo, d, h or 0, mi or 0, s or 0, ns or 0, lname, fo)
  return new_time(sec, nsec, lname, fo)
end
function time.parse(layout, value, loc)
  if type(layout) ~= "string" or type(value) ~= "string" then
    return nil, invalid("time.parse expects a layout and a string")
  end
  local lname, lfo = "UTC", nil
  loc = unproxy(loc)
  if loc ~= nil then lname, lfo = loc.name, loc.fo end
  local s, n, name, fo = H.parse(layout, value, lname, lfo)
  if s == nil then return nil, invalid(n) end
  return new_time(s, n, name, fo), nil
end

-- the clock and the waits (through the driver) ------------------------------------------
function time.now()
  local s, n = sync("now")
  return new_time(s, n, "UTC")
end
function time.sleep(d)
  local ns, err = to_ns(d)
  if ns == nil then error(err, 2) end
  return command("sleep", ns)
end
function time.after(d)
  local ns, err = to_ns(d)
  if ns == nil then error(err, 2) end
  return sync("after", ns)
end

-- A timer's host handle lives in a weak table, never in the object a script holds.
local TIMER_H = setmetatable({}, {__mode = "k"})
local function timer_h(t, fname)
  local h = (type(t) == "table") and TIMER_H[t] or nil
  if h == nil then error("bad argument to '" .. fname .. "' (timer expected)", 3) end
  return h
end
local function new_timer(h, ch, mt)
  local t = setmetatable({ch = ch}, mt)
  TIMER_H[t] = h
  return t
end

local TM = {}
local TM_MT = {__index = TM, __metatable = "timer"}
function TM.channel(t) return t.ch end
TM.response = TM.channel
function TM.stop(t) return sync("timer_stop", timer_h(t, "stop")) end
function TM.reset(t, d)
  local h = timer_h(t, "reset")
  local ns, err = to_ns(d)
  if ns == nil then error(err, 2) end
  return sync("timer_reset", h, ns)
end
function time.timer(d)
  local ns, err = to_ns(d)
  if ns == nil then return nil, err end
  if ns < 0 then return nil, invalid("timer duration must not be negative") end
  local h, ch = sync("timer", ns, false)
  if h == nil then return nil, ch end  -- limits.timers reached: ch is the error
  return new_timer(h, ch, TM_MT), nil
end
local TK = {}
local TK_MT = {__index = TK, __metatable = "ticker"}
function TK.channel(t) return t.ch end
TK.response = TK.channel
function TK.stop(t) return sync("timer_stop", timer_h(t, "stop")) end
function time.ticker(d)
  local ns, err = to_ns(d)
  if ns == nil then return nil, err end
  if ns <= 0 then return nil, invalid("non-positive interval for ticker") end
  local h, ch = sync("timer", ns, true)
  if h == nil then return nil, ch end  -- limits.timers reached: ch is the error
  return new_timer(h, ch, TK_MT), nil
end

-- crossing to Python: a Time becomes a datetime, a Duration its nanoseconds
host.EXPORT[T_MT] = function(t) return "T", {t.s, t.n} end
host.EXPORT[D_MT] = function(d) return "D", d.ns end
return time
"""


def _loc(name: Any, fixed: Any) -> gt.Loc:
    if fixed is not None:
        return gt.Loc(str(name), int(fixed))
    if name in (None, "", "UTC"):
        return gt.UTC
    return gt.Loc(str(name))


def _safe(fn: Callable[..., Any], on_error: Callable[[Exception], Any]) -> Callable[..., Any]:
    """A Python callback for Lua that never raises (exceptions would reach Lua as objects)."""

    def wrapper(*args: Any) -> Any:
        try:
            return fn(*args)
        except Exception as exc:
            return on_error(exc)

    wrapper.__name__ = getattr(fn, "__name__", "callback")
    return wrapper


def time_callbacks() -> dict[str, Callable[..., Any]]:
    """Pure helpers the Lua side calls directly (they return ``nil, message`` on error)."""

    def fail(exc: Exception) -> tuple[None, str]:
        return (None, str(exc))

    def fields(s: int, n: int, name: Any, fo: Any) -> tuple[int, ...]:
        return gt.fields(int(s), int(n), _loc(name, fo))[:9]

    def fmt(s: int, n: int, name: Any, fo: Any, layout: str) -> str:
        return gt.format_time(int(s), int(n), _loc(name, fo), layout)

    def date(y: int, mo: int, d: int, h: int, mi: int, s: int, ns: int, name: Any,
             fo: Any) -> tuple[int, int]:
        return gt.date(int(y), int(mo), int(d), int(h), int(mi), int(s), int(ns),
                       _loc(name, fo))

    def add_date(s: int, n: int, name: Any, fo: Any, y: int, m: int, d: int) -> tuple[int, int]:
        return gt.add_date(int(s), int(n), _loc(name, fo), int(y), int(m), int(d))

    def parse(layout: str, value: str, name: Any, fo: Any) -> tuple[Any, ...]:
        s, n, loc = gt.parse_time(layout, value, _loc(name, fo))
        return (s, n, loc.name, loc.fixed)

    def load_location(name: str) -> Any:
        return gt.load_location(name).name

    return {
        "parse_duration": _safe(gt.parse_duration, fail),
        "format_duration": _safe(gt.format_duration, lambda e: "?"),
        "fields": _safe(fields, lambda e: (0,) * 9),
        "format": _safe(fmt, fail),
        "date": _safe(date, fail),
        "add_date": _safe(add_date, fail),
        "parse": _safe(parse, fail),
        "truncate": _safe(lambda s, n, d: gt.truncate(int(s), int(n), int(d)), fail),
        "round": _safe(lambda s, n, d: gt.round_time(int(s), int(n), int(d)), fail),
        "load_location": _safe(load_location, fail),
    }


def time_constants() -> dict[str, Any]:
    values: dict[str, Any] = {
        "NANOSECOND": gt.NANOSECOND, "MICROSECOND": gt.MICROSECOND,
        "MILLISECOND": gt.MILLISECOND, "SECOND": gt.SECOND, "MINUTE": gt.MINUTE,
        "HOUR": gt.HOUR,
    }
    values.update(_LAYOUTS)
    for i, m in enumerate(["JANUARY", "FEBRUARY", "MARCH", "APRIL", "MAY", "JUNE", "JULY",
                           "AUGUST", "SEPTEMBER", "OCTOBER", "NOVEMBER", "DECEMBER"], 1):
        values[m] = i
    for i, d in enumerate(["SUNDAY", "MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY",
                           "FRIDAY", "SATURDAY"]):
        values[d] = i
    return {"values": values, "ZERO_SEC": gt.ZERO_SEC}


# -- datetimes across the boundary ---------------------------------------------------------------

_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.UTC)


def unix_parts(value: _dt.datetime) -> tuple[int, int]:
    """``(sec, nsec)`` of an aware or naive (taken as UTC) datetime."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=_dt.UTC)
    delta = value - _EPOCH
    sec = delta.days * 86400 + delta.seconds
    return sec, delta.microseconds * 1000


def datetime_from_parts(sec: int, nsec: int) -> _dt.datetime:
    return _EPOCH + _dt.timedelta(seconds=sec, microseconds=nsec // 1000)


def _seconds(ns: Any) -> float:
    if not isinstance(ns, int | float):
        raise Error("duration must be a number of nanoseconds", kind=ErrorKind.INVALID)
    return max(0.0, ns / 1e9)


def _time_adapter(drv: Any) -> Callable[[Any], tuple[Any, ...]]:
    new_time = drv.sb.lib.new_time

    def adapt(item: Any) -> tuple[Any, ...]:
        if isinstance(item, _dt.datetime):
            s, n = unix_parts(item)
        else:
            s, n = unix_parts(drv.ctx.now())
        return (new_time(s, n, "UTC"), True)

    return adapt


@command("now")
def _now(drv: Any, tid: int) -> tuple[Any, ...]:
    s, n = unix_parts(drv.ctx.now())
    return (0, s, n)


# -- the timer quota ------------------------------------------------------------------------------

#: Key of a driver's :class:`_Slots` in ``Driver.cache``.
_SLOTS_KEY = "time.slots"


class _Slots:
    """The live timers of one Lua process, against its host's ``limits.timers``.

    A channel the script dropped holds its slot until the Lua collector frees it, which
    may be long after in a big heap (``select`` over the inbox and a fresh
    ``time.after`` timeout, in a loop, leaves one such channel per turn). So at the
    limit a full collection is run first, at most once per ``limit // 2`` timers
    created, and the slots it frees are used; only then is the limit an error.

    Invariant: ``used`` = the :class:`_Timer` states of this process with ``held`` set.
    """

    __slots__ = ("collect", "host", "limit", "made", "used")

    def __init__(self, limit: int, host: str, collect: Callable[[], None] | None) -> None:
        self.limit = limit
        self.host = host
        self.collect = collect
        self.used = 0
        #: Timers made since the last forced collection.
        self.made = 0

    def take(self) -> None:
        """Take a slot, or raise the limit error (nothing taken)."""
        if self.used >= self.limit and self.collect is not None \
                and self.made >= self.limit // 2:
            self.made = 0
            self.collect()  # finalizers of dropped timer channels give slots back
        if self.used >= self.limit:
            raise limit_error(
                "timers",
                self.host,
                self.limit,
                f"cannot create a timer: this process already has {self.used} live "
                "timers, counting after channels, timers, tickers and sleeps not yet "
                "received, stopped or garbage",
                "stop the ones you no longer need, or raise the limit",
            )
        self.used += 1
        self.made += 1


def _collector(sb: Any) -> Callable[[], None] | None:
    """A full collection of ``sb``'s Lua heap, or None if the sandbox offers no way."""
    run = getattr(sb, "eval_privileged", None)
    if run is None:
        return None

    def collect() -> None:
        try:
            run("collectgarbage('collect')", name="time.collect")
        except Exception:  # a failed collection only means no slot was freed
            pass

    return collect


def _slots(drv: Any) -> _Slots:
    cache = drv.cache
    if cache is None:
        cache = drv.cache = {}
    slots = cache.get(_SLOTS_KEY)
    if slots is None:
        ctx = drv.ctx
        host = getattr(getattr(ctx, "pid", None), "host", "") or "?"
        slots = cache[_SLOTS_KEY] = _Slots(limits_of(ctx).timers, host, _collector(drv.sb))
    return slots


class _Timer:
    """One timer's state: the kernel channel that will fire (``src``), its interval,
    and its slot.

    Holds no reference to its :class:`LChannel` (whose ``on_item`` and finalizer hold
    this object), so a channel the script dropped is freed by reference counting, and
    its finalizer cancels the kernel timer.
    """

    __slots__ = ("held", "interval", "slots", "src")

    def __init__(self, slots: _Slots, interval: float) -> None:
        slots.take()
        self.slots = slots
        self.held = True
        self.interval = interval
        self.src: Any = None

    def release(self) -> None:
        """Give the slot back (idempotent)."""
        if self.held:
            self.held = False
            self.slots.used -= 1

    def fired(self) -> None:
        """Its value was received: nothing left to cancel, the slot is free."""
        self.src = None
        self.release()

    def cancel(self) -> None:
        """Stop the kernel timer (closing its channel cancels it); free the slot."""
        src = self.src
        if src is not None:
            self.src = None
            src.close()
        self.release()


def _timer_channel(drv: Any, seconds: float, kind: str, adapt: Any,
                   cap: int = 1) -> tuple[LChannel, _Timer]:
    """An :class:`LChannel` fed by a kernel ``after`` and holding a timer slot (see the
    module docstring); raises the limit error before creating anything."""
    timer = _Timer(_slots(drv), seconds)
    src = timer.src = drv.ctx.after(seconds)
    lch = LChannel(cap, source=src, adapt=adapt, kind=kind)
    weakref.finalize(lch, timer.cancel).atexit = False  # the script lost the channel
    return lch, timer


# -- sleeps, after channels, timers, tickers ---------------------------------------------

@command("sleep")
def _sleep(drv: Any, tid: int, ns: Any) -> Any:
    """A lone task awaits ``ctx.sleep`` (no timer object: no slot); beside other tasks
    the sleep is a timer channel and takes a slot while it waits."""
    seconds = _seconds(ns)
    if seconds <= 0:
        drv.wake(tid, (0,))  # a zero sleep lets the other tasks run first
        return BLOCKED
    ctx = drv.ctx

    async def direct() -> tuple[Any, ...]:
        await ctx.sleep(seconds)
        return (0,)

    def via_channel(drv_: Any, tid_: int) -> Any:
        try:
            ch, timer = _timer_channel(drv, seconds, "sleep", lambda item: (), cap=0)
        except Error as exc:
            return (1, drv.sb.convert.error_to_lua(exc))
        ch.on_item = lambda ch_: timer.fired()
        ch.park_receiver(Waiter(drv, tid_))
        drv.park_on(ch)
        return BLOCKED

    return DirectAwait(direct, via_channel)


@command("after")
def _after(drv: Any, tid: int, ns: Any) -> tuple[Any, ...]:
    try:
        lch, timer = _timer_channel(drv, _seconds(ns), "after", _time_adapter(drv))
    except Error as exc:
        return (1, drv.sb.convert.error_to_lua(exc))
    lch.on_item = lambda ch: timer.fired()
    return (0, drv.sb.lib.wrap_channel(lch))


class _TimerRef:
    """A timer or ticker as the script holds it (``t.h``): its channel and state."""

    __slots__ = ("channel", "timer")

    def __init__(self, channel: LChannel, timer: _Timer) -> None:
        self.channel = channel
        self.timer = timer

    @property
    def active(self) -> bool:
        """Whether it may still fire (not stopped, and not a one-shot already received)."""
        return self.timer.src is not None


@command("timer")
def _timer(drv: Any, tid: int, ns: Any, repeat: Any) -> tuple[Any, ...]:
    seconds = _seconds(ns)
    ctx = drv.ctx
    try:
        lch, timer = _timer_channel(drv, seconds, "ticker" if repeat else "timer",
                                    _time_adapter(drv))
    except Error as exc:
        return (0, None, drv.sb.convert.error_to_lua(exc))

    def on_item(ch: LChannel) -> None:
        if repeat and timer.src is not None:
            timer.src = ch.source = ctx.after(timer.interval)  # the slot stays held
        else:
            timer.fired()
            ch.source = None

    lch.on_item = on_item
    return (0, _TimerRef(lch, timer), drv.sb.lib.wrap_channel(lch))


@command("timer_stop")
def _timer_stop(drv: Any, tid: int, ref: Any) -> tuple[Any, ...]:
    if type(ref) is not _TimerRef:
        raise Error("timer expected", kind=ErrorKind.INVALID)
    was = ref.active
    ref.timer.cancel()
    ref.channel.source = None
    return (0, was)


@command("timer_reset")
def _timer_reset(drv: Any, tid: int, ref: Any, ns: Any) -> tuple[Any, ...]:
    """Re-arm with a new interval; the old deadline's kernel timer is cancelled, and a
    stopped or fired timer takes a slot again (raising if none is left)."""
    if type(ref) is not _TimerRef:
        raise Error("timer expected", kind=ErrorKind.INVALID)
    timer = ref.timer
    was = ref.active
    seconds = _seconds(ns)
    if not timer.held:
        try:
            timer.slots.take()
        except Error as exc:
            return (1, drv.sb.convert.error_to_lua(exc))
        timer.held = True
    old, timer.src = timer.src, None
    if old is not None:
        old.close()
    timer.interval = seconds
    timer.src = ref.channel.source = drv.ctx.after(seconds)
    return (0, was)
