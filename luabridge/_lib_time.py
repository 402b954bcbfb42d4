"""The ``time`` Lua module (``require("time")``): clocks, sleeps, timers, Go times.

Wippy's documented API. Durations are a ``Duration`` object, a number of
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
from typing import TYPE_CHECKING, Any

from beamish.actors import Error, ErrorKind, go_duration, limit_error, limits_of

from . import _gotime as gt
from ._callbacks import safe_callback
from ._channels import LChannel, Waiter
from ._commands import BLOCKED, DirectAwait, LuaProcess, command
from ._lua_sources import HostLua

if TYPE_CHECKING:
    from ._runtime import Sandbox

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

#: Privileged Lua, ``lua/time.lua``: called with (core, callbacks, constants, host);
#: returns the module table.
TIME_LUA = HostLua("beamish.luabridge", "time.lua")


def _loc(name: Any, fixed: Any) -> gt.Loc:
    if fixed is not None:
        return gt.Loc(str(name), int(fixed))
    if name in (None, "", "UTC"):
        return gt.UTC
    return gt.Loc(str(name))


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
        "parse_duration": safe_callback(go_duration, fail),  # Go's own messages
        "format_duration": safe_callback(gt.format_duration, lambda e: "?"),
        "fields": safe_callback(fields, lambda e: (0,) * 9),
        "format": safe_callback(fmt, fail),
        "date": safe_callback(date, fail),
        "add_date": safe_callback(add_date, fail),
        "parse": safe_callback(parse, fail),
        "truncate": safe_callback(lambda s, n, d: gt.truncate(int(s), int(n), int(d)), fail),
        "round": safe_callback(lambda s, n, d: gt.round_time(int(s), int(n), int(d)), fail),
        "load_location": safe_callback(load_location, fail),
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


def _time_adapter(drv: LuaProcess) -> Callable[[Any], tuple[Any, ...]]:
    new_time = drv.sb.lib.new_time

    def adapt(item: Any) -> tuple[Any, ...]:
        if isinstance(item, _dt.datetime):
            s, n = unix_parts(item)
        else:
            s, n = unix_parts(drv.ctx.now())
        return (new_time(s, n, "UTC"), True)

    return adapt


@command("now")
def _now(drv: LuaProcess, tid: int) -> tuple[Any, ...]:
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


def _collector(sb: Sandbox) -> Callable[[], None]:
    """A full collection of ``sb``'s Lua heap."""
    run = sb.eval_privileged

    def collect() -> None:
        try:
            run("collectgarbage('collect')", name="time.collect")
        except Exception:  # a failed collection only means no slot was freed
            pass

    return collect


def _slots(drv: LuaProcess) -> _Slots:
    cache = drv.cache
    if cache is None:
        cache = drv.cache = {}
    slots = cache.get(_SLOTS_KEY)
    if slots is None:
        ctx = drv.ctx
        slots = cache[_SLOTS_KEY] = _Slots(limits_of(ctx).timers, ctx.pid.host or "?",
                                           _collector(drv.sb))
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


def _timer_channel(drv: LuaProcess, seconds: float, kind: str,
                   adapt: Callable[[Any], tuple[Any, ...]],
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
def _sleep(drv: LuaProcess, tid: int, ns: Any) -> Any:
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

    def via_channel(drv_: LuaProcess, tid_: int) -> Any:
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
def _after(drv: LuaProcess, tid: int, ns: Any) -> tuple[Any, ...]:
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
def _timer(drv: LuaProcess, tid: int, ns: Any, repeat: Any) -> tuple[Any, ...]:
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
def _timer_stop(drv: LuaProcess, tid: int, ref: Any) -> tuple[Any, ...]:
    if type(ref) is not _TimerRef:
        raise Error("timer expected", kind=ErrorKind.INVALID)
    was = ref.active
    ref.timer.cancel()
    ref.channel.source = None
    return (0, was)


@command("timer_reset")
def _timer_reset(drv: LuaProcess, tid: int, ref: Any, ns: Any) -> tuple[Any, ...]:
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
