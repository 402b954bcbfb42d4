"""Go durations and layouts (the ``time`` module's text formats)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from beamish.actors import DurationSyntaxError, go_duration
from beamish.luabridge import _gotime as gt

REF = 1136214245  # Mon Jan 2 15:04:05 UTC 2006, Go's reference time


@pytest.mark.parametrize(
    ("text", "ns"),
    [("0", 0), ("1ns", 1), ("1us", 1000), ("1µs", 1000), ("1.5s", 1_500_000_000),
     ("300ms", 300_000_000), ("1h30m", 5_400_000_000_000), ("-2m3s", -123_000_000_000),
     ("+5s", 5_000_000_000), ("1h0.5m", 3_630_000_000_000), (".5s", 500_000_000)],
)
def test_parse_duration(text, ns):
    assert go_duration(text) == ns


@pytest.mark.parametrize("text", ["", "1", "h", "1x", "1.2.3s", "s1", "--1s", "1 s"])
def test_invalid_durations(text):
    with pytest.raises(DurationSyntaxError, match="time: "):
        go_duration(text)


@pytest.mark.parametrize(
    ("ns", "text"),
    [(0, "0s"), (1, "1ns"), (1500, "1.5µs"), (2_000_000, "2ms"), (1_500_000_000, "1.5s"),
     (5_400_000_000_000, "1h30m0s"), (-61_000_000_000, "-1m1s"), (3_600_500_000_000, "1h0m0.5s")],
)
def test_format_duration(ns, text):
    assert gt.format_duration(ns) == text


@given(st.integers(min_value=-(2**62), max_value=2**62))
def test_format_then_parse_is_identity(ns):
    assert go_duration(gt.format_duration(ns)) == ns


@pytest.mark.parametrize(
    ("layout", "text"),
    [
        ("2006-01-02T15:04:05Z07:00", "2006-01-02T15:04:05Z"),
        ("Mon Jan _2 15:04:05 MST 2006", "Mon Jan  2 15:04:05 UTC 2006"),
        ("Monday, 02-Jan-06 15:04:05 MST", "Monday, 02-Jan-06 15:04:05 UTC"),
        ("3:04PM", "3:04PM"),
        ("03:04:05 pm", "03:04:05 pm"),
        ("2006-01-02 15:04:05.000", "2006-01-02 15:04:05.120"),
        ("15:04:05.999999999", "15:04:05.12"),
        ("002 __2 1/2/06", "002   2 1/2/06"),
        ("January Monday", "January Monday"),
        ("-0700 -07:00 -07 Z0700", "+0000 +00:00 +00 Z"),
    ],
)
def test_format_time(layout, text):
    assert gt.format_time(REF, 120_000_000, gt.UTC, layout) == text


def test_format_in_zones():
    ny = gt.load_location("America/New_York")
    text = gt.format_time(REF, 0, ny, "2006-01-02 15:04 MST -07:00")
    assert text == "2006-01-02 10:04 EST -05:00"
    fixed = gt.Loc("X", 5 * 3600 + 1800)
    assert gt.format_time(REF, 0, fixed, "15:04 Z07:00 MST") == "20:34 +05:30 X"


@pytest.mark.parametrize(
    ("layout", "value", "expected"),
    [
        ("2006-01-02T15:04:05Z07:00", "2024-03-10T12:30:45+02:00", (1710066645, 0, 7200)),
        ("2006-01-02T15:04:05Z07:00", "2024-03-10T12:30:45Z", (1710073845, 0, 0)),
        ("2006-01-02 15:04:05", "2024-03-10 12:30:45.123", (1710073845, 123_000_000, 0)),
        ("Jan _2 2006 3:04PM", "Mar  5 2024 9:07PM", (1709672820, 0, 0)),
        ("02/01/06", "29/02/24", (1709164800, 0, 0)),
    ],
)
def test_parse_time(layout, value, expected):
    sec, nsec, loc = gt.parse_time(layout, value)
    off, _ = loc.offset_at(sec)
    assert (sec, nsec, off) == expected


@pytest.mark.parametrize(
    ("layout", "value", "problem"),
    [("2006-01-02", "2024-13-01", "month out of range"),
     ("2006-01-02", "2024-02-30", "day out of range"),
     ("2006-01-02", "2024-02-01x", "extra text"),
     ("2006-01-02", "yesterday", "cannot parse")],
)
def test_parse_time_errors(layout, value, problem):
    with pytest.raises(gt.GoTimeError, match=problem):
        gt.parse_time(layout, value)


@given(st.integers(min_value=gt.ZERO_SEC, max_value=253402300799), st.integers(0, 999_999_999))
def test_format_and_parse_rfc3339nano_round_trip(sec, nsec):
    text = gt.format_time(sec, nsec, gt.UTC, "2006-01-02T15:04:05.999999999Z07:00")
    assert gt.parse_time("2006-01-02T15:04:05.999999999Z07:00", text)[:2] == (sec, nsec)


def test_calendar_helpers():
    assert gt.fields(0, 0, gt.UTC)[:9] == (1970, 1, 1, 0, 0, 0, 0, 4, 1)
    assert gt.fields(gt.ZERO_SEC, 0, gt.UTC)[:3] == (1, 1, 1)
    assert gt.date(2024, 13, 1, 0, 0, 0, 0, gt.UTC) == gt.date(2025, 1, 1, 0, 0, 0, 0, gt.UTC)
    assert gt.date(2024, 3, 0, 0, 0, 0, 0, gt.UTC) == gt.date(2024, 2, 29, 0, 0, 0, 0, gt.UTC)
    assert gt.add_date(REF, 0, gt.UTC, 0, 1, 30) == gt.date(2006, 3, 4, 15, 4, 5, 0, gt.UTC)
    assert gt.truncate(REF, 5, gt.HOUR) == (REF - 4 * 60 - 5, 0)
    assert gt.round_time(REF, 0, gt.HOUR) == (REF - 4 * 60 - 5, 0)
    assert gt.round_time(REF + 30 * 60, 0, gt.HOUR) == (REF - 245 + 3600, 0)
    with pytest.raises(gt.GoTimeError, match="unknown time zone"):
        gt.load_location("Nowhere/Atlantis")
