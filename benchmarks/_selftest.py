"""A tiny scenario that exercises the harness itself (used by tests/benchmarks).

Not discovered by ``python -m benchmarks`` (only ``bench_*`` modules are); run it with
``python -m benchmarks --module benchmarks._selftest``. Each implementation stands for
one outcome the harness must report: a measurement, a skip, an error, a timeout, a
sample that ends itself early (``finish_now``).
"""

from __future__ import annotations

import time

from ._common import finish_now
from ._harness import Scenario, Skip, Target


def beamish(n: int) -> float:
    import trio

    async def main() -> float:
        start = time.perf_counter()
        for _ in range(n):
            await trio.lowlevel.checkpoint()
        return (time.perf_counter() - start) / n * 1e6

    return trio.run(main)


def floor(n: int) -> float:
    start = time.perf_counter()
    total = 0
    for i in range(n):
        total += i
    return (time.perf_counter() - start) / n * 1e6


def extra(n: int) -> dict[str, float]:
    return {"value": float(n), "spawn_us": 1.5, "n": n}


def skipper(n: int) -> float:
    raise Skip("not available here")


def broken(n: int) -> float:
    raise ValueError("boom")


def early(n: int) -> float:
    """Ends the sample before its 'tear-down', which would fail."""
    finish_now({"value": 7.0, "n": n})
    raise RuntimeError("tear-down ran: finish_now did not end the worker")


def sleeper(n: int) -> float:
    time.sleep(60)
    return 0.0


SCENARIOS = [
    Scenario(
        name="selftest",
        title="harness self-test",
        unit="µs/op",
        implementations={
            "beamish": beamish,
            "floor": floor,
            "extra": extra,
            "skipper": skipper,
            "broken": broken,
        },
        params={"n": 1_000},
        quick_params={"n": 100},
        overrides={"extra": {"n": 10}},
        rep_caps={"extra": 1},
        targets=(
            Target("beamish <= 1000x floor", "max_ratio", 1000.0, "floor"),
            Target("beamish <= 1 s", "max_value", 1e6),
            Target("needs a missing row", "max_ratio", 2.0, "skipper"),
            Target("floor <= 1 s", "max_value", 1e6, subject="floor"),
        ),
        timeout=60.0,
    ),
    Scenario(
        name="selftest_early",
        title="harness self-test: a sample that skips its tear-down",
        unit="µs/op",
        implementations={"beamish": early},
        params={"n": 3},
        timeout=60.0,
    ),
    Scenario(
        name="selftest_timeout",
        title="harness self-test: a worker that overruns",
        unit="µs/op",
        implementations={"beamish": sleeper},
        params={"n": 1},
        timeout=1.0,
    ),
]
