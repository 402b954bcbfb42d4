"""Restart intensity: more than I restarts within P seconds escalates (``_intensity.py``)."""

import math

from hypothesis import given
from hypothesis import strategies as st

from beamish.supervision import RestartIntensity, add_restart


def test_intensity_zero_refuses_the_first_restart():
    assert RestartIntensity(0, 5).record(0.0) is False


def test_otp_default_allows_one_restart_in_five_seconds():
    r = RestartIntensity()
    assert r.record(0.0) is True
    assert r.record(4.9) is False


def test_the_window_is_half_open():
    # now - t < period: a restart exactly one period later does not count the old one.
    r = RestartIntensity(1, 5)
    assert r.record(0.0)
    assert r.record(5.0)
    assert r.restarts == (5.0,)


def test_infinite_period_counts_every_restart():
    r = RestartIntensity(3, math.inf)
    assert all(r.record(t) for t in (0, 1e6, 2e6))
    assert r.record(3e6) is False


def model(stamps, intensity, period):
    """The brute-force reading of the rule: count every restart so far in the window."""
    out, history = [], []
    for now in stamps:
        history.append(now)
        out.append(sum(1 for t in history if now - t < period) <= intensity)
    return out


@given(
    st.lists(st.floats(0, 50, allow_nan=False), max_size=40).map(sorted),
    st.integers(0, 6),
    st.floats(0.01, 30),
)
def test_matches_the_brute_force_window_count(stamps, intensity, period):
    r = RestartIntensity(intensity, period)
    got = [r.record(t) for t in stamps]
    assert got == model(stamps, intensity, period)


@given(
    st.lists(st.floats(0, 50, allow_nan=False), max_size=40).map(sorted),
    st.integers(0, 6),
    st.floats(0.01, 30),
)
def test_kept_stamps_are_bounded_sorted_and_in_window(stamps, intensity, period):
    kept: tuple[float, ...] = ()
    for now in stamps:
        kept, _ = add_restart(kept, now, period, intensity)
        assert len(kept) <= intensity + 1
        assert list(kept) == sorted(kept)
        assert all(now - t < period for t in kept)
        assert kept[-1] == now
