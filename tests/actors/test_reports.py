"""Crash and supervisor reports through logging (``actors/_reports.py``)."""

import logging

import trio

from beamish.actors import Node, ProcessExit


def divide(x):
    return 1 / x


async def crashes(ctx):
    divide(0)


async def waits(ctx):
    await trio.sleep_forever()


def crash_records(caplog):
    return [r for r in caplog.records if r.name == "beamish.crash"]


async def test_an_unobserved_crash_is_an_error_report_starting_at_the_users_frame(caplog):
    caplog.set_level(logging.DEBUG, logger="beamish")
    async with Node() as node:
        pid = node.spawn(crashes)
        await trio.sleep(0.01)
    (record,) = crash_records(caplog)
    assert record.levelno == logging.ERROR
    assert record.beamish_fields == {
        "pid": str(pid),
        "entry": None,
        "parent": None,
        "kind": "Internal",
        "reason": "ZeroDivisionError: division by zero",
    }
    text = record.getMessage()
    first_frame = text.splitlines()[1]
    assert "test_reports.py" in first_frame and "in crashes" in first_frame
    assert "in divide" in text
    assert "_process.py" not in text  # the runtime's frames before the body are cut


async def test_an_observed_crash_is_reported_at_info_and_a_terminate_at_debug(caplog):
    caplog.set_level(logging.DEBUG, logger="beamish")
    async with Node() as node:
        try:
            await node.exec(crashes)
        except ProcessExit:
            pass
        victim = node.spawn(waits)
        await trio.sleep(0)
        node.terminate(victim)
        await node.wait(victim)
    levels = [(r.levelno, r.beamish_fields["reason"]) for r in crash_records(caplog)]
    assert levels == [
        (logging.INFO, "ZeroDivisionError: division by zero"),
        (logging.DEBUG, "process terminated"),
    ]


async def test_a_normal_exit_reports_nothing(caplog):
    caplog.set_level(logging.DEBUG, logger="beamish")

    async def fine(ctx):
        return 1

    async with Node() as node:
        await node.exec(fine)
    assert crash_records(caplog) == []
