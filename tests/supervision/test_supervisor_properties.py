"""Hypothesis: random crash sequences against a model of the supervisor's policy.

Each example runs a real supervisor with real puppet processes on trio's autojumping
MockClock and, after every crash, compares it with a small pure model of OTP's rules:
which children are alive, how often each was started, whether the supervisor is still
up (intensity), and — with backoff — the exact (virtual) time of every restart. At the
end the supervisor is stopped and no process may be left.
"""

import random

import pytest
import trio
import trio.testing
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from supervision_helpers import EXITS, Board, settle

from beamish.actors import Node
from beamish.supervision import Backoff, ChildSpec, SupervisorSpec, start_supervisor

IDS = ["c0", "c1", "c2", "c3"]


class Model:
    """OTP's restart rules, written as plainly as possible."""

    def __init__(self, restart, strategy, intensity, period):
        self.ids = list(restart)
        self.restart = restart
        self.strategy = strategy
        self.intensity = intensity
        self.period = period
        self.alive = dict.fromkeys(restart, True)
        self.starts = dict.fromkeys(restart, 1)
        self.removed: set[str] = set()
        self.stamps: list[float] = []
        self.up = True
        self.restarts = 0

    def applies(self, cid):
        return self.up and cid not in self.removed and self.alive[cid]

    def exit(self, cid, how, now):
        self.alive[cid] = False
        kind = self.restart[cid]
        abnormal = how in ("error", "killed")
        if not (kind == "permanent" or (kind == "transient" and abnormal)):
            if kind == "temporary":
                self.removed.add(cid)
            return
        self.stamps = [t for t in self.stamps if now - t < self.period] + [now]
        if len(self.stamps) > self.intensity:
            self.up = False
            self.alive = dict.fromkeys(self.alive, False)
            return
        self.restarts += 1
        order = [i for i in self.ids if i not in self.removed]
        group = {
            "one_for_one": [cid],
            "one_for_all": order,
            "rest_for_one": order[order.index(cid) :],
        }[self.strategy]
        for g in group:
            if g != cid and self.restart[g] == "temporary":
                self.removed.add(g)
                self.alive[g] = False
            else:
                self.alive[g] = True
                self.starts[g] += 1


scenario = st.fixed_dictionaries(
    {
        "n": st.integers(1, 4),
        "restart": st.lists(
            st.sampled_from(["permanent", "transient", "temporary"]), min_size=4, max_size=4
        ),
        "strategy": st.sampled_from(["one_for_one", "one_for_all", "rest_for_one"]),
        "intensity": st.integers(0, 5),
        "period": st.sampled_from([1.0, 2.5, 5.0, 30.0]),
        "events": st.lists(
            st.tuples(
                st.integers(0, 3), st.sampled_from(EXITS), st.sampled_from([0, 0, 0.5, 1, 3])
            ),
            max_size=25,
        ),
    }
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario)
def test_random_crashes_match_the_model(sc):
    ids = IDS[: sc["n"]]
    restart = {cid: sc["restart"][i] for i, cid in enumerate(ids)}
    model = Model(restart, sc["strategy"], sc["intensity"], sc["period"])

    async def main():
        board = Board()
        spec = SupervisorSpec(
            children=[ChildSpec(c, board.child, (c,), restart=restart[c]) for c in ids],
            strategy=sc["strategy"],
            intensity=sc["intensity"],
            period=sc["period"],
        )
        async with Node() as node:
            sup = await start_supervisor(node, spec)
            await settle()
            for index, how, gap in sc["events"]:
                cid = ids[index % len(ids)]
                if gap:
                    await trio.sleep(gap)
                await settle()
                if not model.applies(cid):
                    continue
                model.exit(cid, how, trio.current_time())
                board.make_exit(node, cid, how)
                await settle()
                assert sup.running == model.up
                for c in ids:
                    assert board.count(c) == model.starts[c], (c, board.log)
                    assert node.is_alive(board.pid(c)) == model.alive[c], c
                if model.up:
                    assert [i.id for i in sup.which_children()] == [
                        c for c in ids if c not in model.removed
                    ]
                    assert sup.restarts == model.restarts
            if model.up:
                assert await sup.stop() is None
            else:
                err = await sup.wait()
                assert err.details["reason"] == "reached_max_restart_intensity"
            assert node.processes() == []

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))


backoff_scenario = st.fixed_dictionaries(
    {
        "seed": st.integers(0, 2**31),
        "initial": st.sampled_from([0.1, 0.5, 1.0]),
        "factor": st.sampled_from([1.0, 1.5, 2.0, 3.0]),
        "max": st.sampled_from([0.0, 2.0, 10.0]),
        "jitter": st.sampled_from([0.0, 0.1, 0.5]),
        "intensity": st.integers(1, 8),
        "period": st.sampled_from([2.0, 5.0, 20.0]),
        "runs": st.lists(st.sampled_from([0.0, 0.1, 1.0, 3.0, 25.0]), min_size=1, max_size=12),
    }
)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(backoff_scenario)
def test_backoff_restart_times_match_the_policy(sc):
    backoff = Backoff(
        initial_delay=sc["initial"],
        max_delay=sc["max"],
        backoff_factor=sc["factor"],
        jitter=sc["jitter"],
    )
    period, intensity = sc["period"], sc["intensity"]

    async def main():
        board = Board()
        spec = SupervisorSpec(
            children=[ChildSpec("w", board.child, ("w",))],
            intensity=intensity,
            period=period,
            backoff=backoff,
        )
        model_rng = random.Random(sc["seed"])
        attempt, stamps, expected_starts = 0, [], [0.0]
        async with Node() as node:
            sup = await start_supervisor(node, spec, rng=random.Random(sc["seed"]))
            await settle()
            for run_for in sc["runs"]:
                await trio.sleep(run_for)
                await settle()
                now = trio.current_time()
                ran = now - expected_starts[-1]
                board.make_exit(node, "w", "error")
                stamps = [t for t in stamps if now - t < period] + [now]
                if len(stamps) > intensity:
                    assert (await sup.wait()).details["reason"] == ("reached_max_restart_intensity")
                    break
                if ran >= period:
                    attempt = 0
                attempt += 1
                delay = backoff.delay(attempt, model_rng)
                expected_starts.append(now + delay)
                await trio.sleep(delay)
                await settle()
                assert board.count("w") == len(expected_starts)
            assert board.start_times["w"] == pytest.approx(expected_starts, abs=1e-6)
            if sup.running:
                await sup.stop()
            assert node.processes() == []

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
