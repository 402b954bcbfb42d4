"""Hypothesis: a service under random crash sequences follows its restart policy exactly.

Each example draws a lifecycle (backoff, jitter, max_attempts, stable_threshold), a seed
and a sequence of runs (how long each lasts, how it ends), runs a real service on
trio's autojumping MockClock and checks, against a plain model of Wippy's rules: the
(virtual) start time of every run — hence the restart count and every delay — the
final state, and that nothing is left running after stop_all.
"""

import random

import pytest
import trio
import trio.testing
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from supervision_helpers import Board, settle

from beamish.actors import Node
from beamish.supervision import ServiceSpec, ServiceState, lifecycle_from_config, services

RESTARTED = {"error", "crash", "killed"}
TERMINAL = {"normal", "nonretryable", "canceled"}

scenario = st.fixed_dictionaries(
    {
        "seed": st.integers(0, 2**31),
        "initial": st.sampled_from([0.5, 1.0, 2.0]),
        "factor": st.sampled_from([1.0, 2.0, 3.0]),
        "max": st.sampled_from([0.0, 3.0, 10.0]),
        "jitter": st.sampled_from([0.0, 0.1, 0.5]),
        "max_attempts": st.integers(0, 4),
        "stable": st.sampled_from([1.0, 5.0]),
        "runs": st.lists(
            st.tuples(
                st.sampled_from([0.0, 0.2, 1.0, 4.0, 6.0]),
                st.sampled_from(sorted(RESTARTED | TERMINAL)),
            ),
            min_size=1,
            max_size=10,
        ),
    }
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario)
def test_restart_count_delays_and_final_state_match_the_policy(sc):
    config = {
        "stable_threshold": sc["stable"],
        "restart": {
            "initial_delay": sc["initial"],
            "backoff_factor": sc["factor"],
            "max_delay": sc["max"],
            "jitter": sc["jitter"],
            "max_attempts": sc["max_attempts"],
        },
    }
    lifecycle = lifecycle_from_config(config)
    backoff = lifecycle.restart.backoff

    async def main():
        board = Board()
        model_rng = random.Random(sc["seed"])
        expected = [0.0]
        attempt, final = 1, ServiceState.RUNNING
        async with Node() as node:
            mgr = services(node)
            mgr.rng = random.Random(sc["seed"])
            svc = mgr.add(ServiceSpec("app:w", board.child, ("w",), lifecycle=lifecycle))
            await mgr.start("app:w")
            for run_for, how in sc["runs"]:
                await trio.sleep(run_for)
                await settle()
                now = trio.current_time()
                ran = now - expected[-1]
                board.make_exit(node, "w", how)
                await settle()
                if how in TERMINAL:
                    final = ServiceState.EXITED
                    break
                if ran >= sc["stable"]:
                    attempt = 1
                if sc["max_attempts"] and attempt >= sc["max_attempts"]:
                    final = ServiceState.FAILED
                    break
                delay = backoff.delay(attempt, model_rng)
                attempt += 1
                assert svc.state is ServiceState.FAILED and svc.status().restarting
                expected.append(now + delay)
                await trio.sleep(delay)
                await settle()
                assert svc.state is ServiceState.RUNNING
            await settle()
            assert svc.state is final
            assert board.start_times["w"] == pytest.approx(expected, abs=1e-6)
            assert svc.status().restarts == len(expected) - 1
            assert svc.active == (final is ServiceState.RUNNING)
            assert await mgr.stop_all() is True
            assert node.processes() == []

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
