"""Go duration strings and numbers → seconds (``actors/_duration.py``)."""

import datetime
import math

import pytest

from beamish.actors import DurationSyntaxError, Error, ErrorKind, go_duration, parse_duration


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("5s", 5.0),
        ("1m30s", 90.0),
        ("500ms", 0.5),
        ("1h", 3600.0),
        ("1h2m3s", 3723.0),
        ("1.5s", 1.5),
        (".5s", 0.5),
        ("250us", 250e-6),
        ("250µs", 250e-6),
        ("250μs", 250e-6),
        ("10ns", 10e-9),
        ("0", 0.0),
        ("2.5", 2.5),
        (3, 3.0),
        (0.25, 0.25),
        (" 5s ", 5.0),
    ],
)
def test_go_durations_and_numbers_are_seconds(value, seconds):
    assert parse_duration(value) == pytest.approx(seconds)


@pytest.mark.parametrize(
    "value", ["", "5", "s", "5sec", "1d", "-5s", "5 s", "1m-3s", True, None, -1, [], "nan"]
)
def test_bad_durations_are_invalid_and_name_the_field(value):
    if value == "5":  # a bare numeric string is seconds
        assert parse_duration(value) == 5.0
        return
    with pytest.raises(Error, match=r"^'lifecycle\.stop_timeout' must be a duration") as info:
        parse_duration(value, field="lifecycle.stop_timeout")
    assert info.value.kind is ErrorKind.INVALID
    assert info.value.retryable is False


def test_infinity_only_when_allowed():
    assert parse_duration("infinity", allow_inf=True) == math.inf
    assert parse_duration(math.inf, allow_inf=True) == math.inf
    with pytest.raises(Error):
        parse_duration("infinity")
    with pytest.raises(Error):
        parse_duration(math.inf)


def test_numbers_take_the_callers_unit():
    assert parse_duration(250, number_unit="ms") == 0.25
    assert parse_duration("250", number_unit="ms") == 0.25
    # a unit in the string always wins over the caller's unit for bare numbers
    assert parse_duration("2s", number_unit="ms") == 2.0
    assert parse_duration(datetime.timedelta(minutes=1, seconds=30)) == 90.0


def test_error_names_the_callers_unit():
    with pytest.raises(Error, match="number of milliseconds") as info:
        parse_duration("soon", field="activity.start_to_close_timeout", number_unit="ms")
    assert info.value.kind is ErrorKind.INVALID
    assert "activity.start_to_close_timeout" in str(info.value)


@pytest.mark.parametrize(
    ("text", "ns"),
    [("1h30m", 5_400_000_000_000), ("-1.5s", -1_500_000_000), ("300ms", 300_000_000),
     ("0", 0), ("+2us", 2_000), ("1µs", 1_000)],
)
def test_go_duration_is_gos_parser(text, ns):
    assert go_duration(text) == ns


@pytest.mark.parametrize("text", ["", "1", "1d", "s", "-", ".s", "9999999999h"])
def test_go_duration_rejects_what_go_rejects(text):
    with pytest.raises(DurationSyntaxError, match="time: "):
        go_duration(text)
