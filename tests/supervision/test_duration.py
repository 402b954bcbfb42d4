"""Go duration strings and numbers → seconds (``supervision/_duration.py``)."""

import math

import pytest

from beamish.actors import Error, ErrorKind
from beamish.supervision import parse_duration


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
