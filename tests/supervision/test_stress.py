"""Stress: 1,000 supervised children crashing at random leave nothing behind.

A root supervisor over 10 supervisors (six one_for_one, three rest_for_one, one
one_for_all) of 100 workers each. Every worker lives a random (exponential)
time, then raises, crashes with a Python exception, returns or is terminated from
outside; permanent workers are restarted every time. The run is bounded in virtual time
(trio's MockClock): two equal phases, so the second phase shows whether anything grows
once the system is warm. Checked and printed (``pytest -s`` shows the figures):

* restart decisions and children restarted, and the restart rate in real time
  (tracemalloc is on, so the rate is well below what the benchmark measures);
* live processes and trio tasks: back to the baseline after the tree stops;
* traced Python memory: no growth from phase 1 to phase 2 beyond a small bound, and
  back near the baseline after shutdown.
"""

import gc
import logging
import random
import time
import tracemalloc

import trio
import trio.testing

from beamish.actors import Error, ErrorKind, Node
from beamish.supervision import ChildSpec, SupervisorSpec, start_supervisor
from beamish.supervision._supervisor import _LIVE

GROUPS, PER_GROUP = 10, 100
MEAN_LIFETIME = 2.0  # virtual seconds
PHASE = 1.5  # virtual seconds per phase


def count_tasks() -> int:
    def walk(task) -> int:
        return 1 + sum(walk(t) for n in task.child_nurseries for t in n.child_tasks)

    return walk(trio.lowlevel.current_root_task())


def test_thousand_children_crashing_at_random_leak_nothing(caplog):
    # Thousands of crash and supervisor reports: pytest's log capture would keep every
    # record and be measured as growth, so only CRITICAL is captured here.
    caplog.set_level(logging.CRITICAL, logger="beamish")
    rng = random.Random(20240601)
    stats = {"exits": 0, "starts": 0}

    async def worker(ctx, gid, wid):
        # Live a random time unless asked to stop (CANCEL) first. Group strategies restart
        # 50-100 workers per crash, so their workers live longer.
        stats["starts"] += 1
        mean = MEAN_LIFETIME if gid not in strategies else MEAN_LIFETIME * 10
        if await ctx.select([ctx.events()], rng.expovariate(1 / mean)) is not None:
            return "stopped"
        stats["exits"] += 1
        roll = rng.random()
        if roll < 0.6:
            raise Error(f"worker {gid}.{wid} failed", kind=ErrorKind.INTERNAL)
        if roll < 0.8:
            raise RuntimeError("plain crash")
        return None  # permanent: restarted anyway

    strategies = {1: "rest_for_one", 2: "one_for_all", 4: "rest_for_one", 7: "rest_for_one"}
    groups = [
        ChildSpec(
            f"g{g}",
            SupervisorSpec(
                children=[ChildSpec(f"w{w}", worker, (g, w)) for w in range(PER_GROUP)],
                strategy=strategies.get(g, "one_for_one"),
                intensity=1_000_000,
                period=1.0,
            ),
        )
        for g in range(GROUPS)
    ]
    root_spec = SupervisorSpec(children=groups, intensity=100, period=1.0)
    figures = {}

    async def killer(node, stop):
        # Terminate random processes from outside, too.
        while not stop.is_set():
            await trio.sleep(rng.expovariate(50))
            pids = node.processes()
            if pids:
                pid = rng.choice(pids)
                if pid.host == "node:local" and node.is_alive(pid) and pid not in supervisors:
                    node.terminate(pid)
                    stats["killed"] = stats.get("killed", 0) + 1

    supervisors: set = set()

    async def main():
        async with Node() as node:
            await trio.testing.wait_all_tasks_blocked()
            base_tasks, base_procs = count_tasks(), len(node.processes())
            gc.collect()
            base_mem = tracemalloc.get_traced_memory()[0]
            root = await start_supervisor(node, root_spec, rng=random.Random(1))
            supervisors.add(root.pid)
            supervisors.update(i.pid for i in root.which_children())
            stop = trio.Event()
            mem = []
            wall = time.perf_counter()
            async with trio.open_nursery() as nursery:
                nursery.start_soon(killer, node, stop)
                for _ in range(2):
                    await trio.sleep(PHASE)
                    await trio.testing.wait_all_tasks_blocked()
                    gc.collect()
                    mem.append(tracemalloc.get_traced_memory()[0])
                    figures.setdefault("live", len(node.processes()))
                stop.set()
            await trio.testing.wait_all_tasks_blocked()
            wall = time.perf_counter() - wall
            restarts = root.restarts + sum(
                root.child_supervisor(i.id).restarts for i in root.which_children()
            )
            assert root.running, root.exit_error
            assert len(node.processes()) == 1 + GROUPS + GROUPS * PER_GROUP
            assert await root.stop() is None
            await trio.testing.wait_all_tasks_blocked()
            gc.collect()
            figures.update(
                restart_decisions=restarts,
                child_restarts=stats["starts"] - GROUPS * PER_GROUP,
                exits=stats["exits"],
                killed=stats.get("killed", 0),
                wall_s=wall,
                child_restarts_per_s=(stats["starts"] - GROUPS * PER_GROUP) / wall,
                phase1_kib=(mem[0] - base_mem) / 1024,
                phase2_growth_kib=(mem[1] - mem[0]) / 1024,
                after_stop_kib=(tracemalloc.get_traced_memory()[0] - base_mem) / 1024,
                tasks_after=count_tasks() - base_tasks,
                processes_after=len(node.processes()) - base_procs,
                live_supervisors=len(_LIVE),
            )
        assert node.terminated_at_shutdown == 0

    tracemalloc.start()
    try:
        trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
    finally:
        tracemalloc.stop()
    print("\nstress figures:", {k: round(v, 1) for k, v in figures.items()})
    assert figures["child_restarts"] > 5_000
    assert figures["processes_after"] == 0
    assert figures["tasks_after"] == 0
    assert figures["live_supervisors"] == 0
    assert figures["phase2_growth_kib"] < 512  # warm system: no per-restart growth
    assert figures["after_stop_kib"] < 512
