"""Supervisor reports through logging: restarts, giving up, forced kills."""

import logging

import trio

from beamish.actors import Error, ErrorKind, Node
from beamish.supervision import BRUTAL_KILL, ChildSpec, SupervisorSpec, start_supervisor


async def waits(ctx):
    await trio.sleep_forever()


async def test_supervisor_reports_restarts_kills_and_giving_up(caplog):
    caplog.set_level(logging.DEBUG, logger="beamish")
    attempts = []

    async def flaky(ctx):
        attempts.append(1)
        await ctx.sleep(0.001)
        raise Error("flaky", kind=ErrorKind.UNAVAILABLE)

    async with Node() as node:
        spec = SupervisorSpec(
            children=[
                ChildSpec("stubborn", waits, shutdown=BRUTAL_KILL),
                ChildSpec("flaky", flaky),
            ],
            intensity=2,
            period=60,
        )
        sup = await start_supervisor(node, spec)
        await node.wait(sup.pid)
    events = [
        (r.levelno, r.beamish_fields["event"], r.beamish_fields["child"])
        for r in caplog.records
        if r.name == "beamish.supervisor"
    ]
    assert events == [
        (logging.ERROR, "restart", "flaky"),
        (logging.ERROR, "restart", "flaky"),
        (logging.ERROR, "escalated", "flaky"),
        (logging.WARNING, "killed", "stubborn"),
    ]
    assert len(attempts) == 3
    reports = [r for r in caplog.records if r.name == "beamish.supervisor"]
    (gave_up,) = [r for r in reports if r.beamish_fields["event"] == "escalated"]
    assert "the restart intensity (2 within 60s) is spent" in gave_up.getMessage()
