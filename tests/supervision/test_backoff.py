"""Restart backoff: initial × factor^(n−1), capped, ± jitter (``supervision/_backoff.py``)."""

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from beamish.actors import Error
from beamish.supervision import Backoff


def test_defaults_are_wippys():
    b = Backoff()
    assert (b.initial_delay, b.max_delay, b.backoff_factor, b.jitter) == (1.0, 90.0, 2.0, 0.1)


def test_delays_grow_geometrically_until_the_cap():
    # The upstream quirk would give 1, 1, 1, ...: we grow as documented.
    b = Backoff(initial_delay=1, max_delay=10, backoff_factor=2, jitter=0)
    assert [b.delay(n) for n in range(1, 7)] == [1, 2, 4, 8, 10, 10]


def test_max_delay_zero_means_no_cap():
    b = Backoff(initial_delay=1, max_delay=0, backoff_factor=3, jitter=0)
    assert b.delay(5) == 81


def test_factor_one_is_constant_and_zero_initial_is_zero():
    assert Backoff(initial_delay=2, backoff_factor=1, jitter=0).delay(9) == 2
    assert Backoff(initial_delay=0, jitter=0.5).delay(3) == 0


def test_huge_attempts_saturate_instead_of_overflowing():
    b = Backoff(initial_delay=1, max_delay=90, backoff_factor=10, jitter=0)
    assert b.delay(10_000) == 90


def test_jitter_draws_one_random_number_and_stays_in_bounds():
    b = Backoff(initial_delay=10, max_delay=100, backoff_factor=2, jitter=0.1)
    rng, replay = random.Random(7), random.Random(7)
    d = b.delay(2, rng)
    u = replay.random()
    assert d == pytest.approx(20 + 20 * 0.1 * (2 * u - 1))
    assert rng.random() == replay.random()  # exactly one draw was used


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("initial_delay", -1),
        ("max_delay", -0.5),
        ("backoff_factor", 0.5),
        ("jitter", 1.5),
        ("jitter", "x"),
        ("backoff_factor", True),
    ],
)
def test_invalid_fields_are_tagged(field, value):
    with pytest.raises(Error, match=rf"^backoff '{field}' must be a number") as info:
        Backoff(**{field: value})
    assert info.value.details["tag"] == "invalid_backoff"
    assert info.value.details["field"] == field


def test_attempt_numbers_start_at_one():
    with pytest.raises(Error, match="attempt must be >= 1"):
        Backoff().delay(0)


backoffs = st.builds(
    Backoff,
    initial_delay=st.floats(0, 100),
    max_delay=st.floats(0, 1000),
    backoff_factor=st.floats(1, 10),
    jitter=st.floats(0, 1),
)


@given(backoffs, st.integers(1, 200), st.integers(0, 2**32))
def test_delay_is_within_the_jitter_band_of_the_capped_base(b, n, seed):
    base = b.base(n)
    lo, hi = b.bounds(n)
    d = b.delay(n, random.Random(seed))
    assert lo - 1e-9 <= d <= hi + 1e-9
    assert lo == pytest.approx(max(0.0, base * (1 - b.jitter)))
    if b.max_delay > 0:
        assert base <= b.max_delay


@given(backoffs, st.integers(1, 200))
def test_base_never_decreases(b, n):
    assert b.base(n) <= b.base(n + 1) or b.base(n) == pytest.approx(b.base(n + 1))


@given(backoffs, st.integers(1, 60))
def test_base_matches_the_formula(b, n):
    expected = b.initial_delay * b.backoff_factor ** (n - 1)
    if b.max_delay > 0:
        expected = min(expected, b.max_delay)
    assert b.base(n) == pytest.approx(expected, rel=1e-9)
