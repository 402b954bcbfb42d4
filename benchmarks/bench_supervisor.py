"""Supervisor restart rate: a child that crashes at start-up, restarted n times.

The figure: µs per restart (crash noticed, intensity checked, child spawned again),
from the supervisor's start until the child's (n+1)-th incarnation returns normally.
The child is ``transient`` (a normal return is not restarted). The restart intensity
is checked on every restart but never trips: at most ``INTENSITY`` restarts within
``PERIOD`` seconds (1,000 in 0.5 ms), which also keeps the window of remembered
restarts short, as in a real system (a window of thousands would measure the window).

* beamish: ``beamish.supervision.start_supervisor`` with one ``ChildSpec`` (skipped,
  with the import error as the note, until that layer is installed);
* floor: a hand-written supervisor task: the child runs in a wrapper that reports its
  exit into the supervisor's ``_floor.Mailbox``; the supervisor keeps OTP's restart
  timestamps (a deque) and starts the child again;
* triotp: ``supervisor.start`` with a ``TRANSIENT`` ``child_spec`` (tenacity retries).

Not measured: Pykka and Thespian have no supervisor that restarts a crashed actor
(Thespian's ``ChildActorExited`` plus hand-written re-creation would measure our code,
not theirs); asyncio and trio channels have no notion of one either.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from ._common import clock, triotp_run
from ._harness import Scenario

#: Restarts allowed within PERIOD seconds: checked every time, never reached.
INTENSITY = 1_000
PERIOD = 0.0005


class Crash(Exception):
    """The child's planned crash."""


def beamish(n: int) -> float:
    import trio

    from beamish.actors import Node
    from beamish.supervision import ChildSpec, SupervisorSpec, start_supervisor

    async def main() -> float:
        done = trio.Event()
        runs = 0

        async def child(ctx: Any) -> None:
            nonlocal runs
            runs += 1
            if runs <= n:
                raise Crash("planned crash")
            done.set()

        spec = SupervisorSpec(
            children=[ChildSpec("crasher", child, restart="transient")],
            intensity=INTENSITY,
            period=PERIOD,
        )
        async with Node() as node:
            start = clock()
            sup = await start_supervisor(node, spec)
            await done.wait()
            elapsed = clock() - start
            await sup.stop()
        return elapsed / n * 1e6

    return trio.run(main)


def floor(n: int) -> float:
    import trio

    from ._floor import Mailbox

    async def main() -> float:
        done = trio.Event()
        runs = 0

        async def child() -> None:
            nonlocal runs
            runs += 1
            if runs <= n:
                raise Crash("planned crash")
            done.set()

        async with trio.open_nursery() as nursery:
            box = Mailbox()

            async def run_child() -> None:
                Mailbox()  # every incarnation gets a fresh mailbox, as a process does
                try:
                    await child()
                except Exception as exc:
                    box.put(exc)
                else:
                    box.put(None)

            async def supervisor(intensity: int, period: float) -> None:
                restarts: deque[float] = deque()
                nursery.start_soon(run_child)
                while True:
                    error = await box.receive()
                    if error is None:  # transient: a normal exit is not restarted
                        return
                    now = trio.current_time()
                    restarts.append(now)
                    while restarts and restarts[0] < now - period:
                        restarts.popleft()
                    if len(restarts) > intensity:
                        raise RuntimeError("reached max restart intensity")
                    nursery.start_soon(run_child)

            start = clock()
            nursery.start_soon(supervisor, INTENSITY, PERIOD)
            await done.wait()
            elapsed = clock() - start
        return elapsed / n * 1e6

    return trio.run(main)


def triotp(n: int) -> float:
    import trio
    from triotp import supervisor

    async def main() -> float:
        done = trio.Event()
        runs = 0

        async def child() -> None:
            nonlocal runs
            runs += 1
            if runs <= n:
                raise Crash("planned crash")
            done.set()

        spec = supervisor.child_spec(
            id="crasher", task=child, args=[], restart=supervisor.restart_strategy.TRANSIENT
        )
        opts = supervisor.options(max_restarts=INTENSITY, max_seconds=PERIOD)
        async with trio.open_nursery() as nursery:
            start = clock()
            nursery.start_soon(supervisor.start, [spec], opts)
            await done.wait()
            elapsed = clock() - start
            nursery.cancel_scope.cancel()
        return elapsed / n * 1e6

    return triotp_run(main)


SCENARIOS = [
    Scenario(
        name="supervisor_restart",
        title="supervisor restart of a crashing child",
        unit="µs/restart",
        implementations={"beamish": beamish, "floor": floor, "triotp": triotp},
        params={"n": 5_000},
        quick_params={"n": 500},
    )
]
