"""Helpers the scenario files share: clocks, peer set-up and tear-down, RSS.

Kept tiny on purpose: each ``bench_*.py`` should read as the full recipe of its scenario
for every implementation; only what would be copied verbatim eight times lives here.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from time import perf_counter as clock
from typing import Any

__all__ = [
    "WARMUP",
    "clock",
    "finish_now",
    "forked_copies",
    "pykka_actors",
    "rss_bytes",
    "thespian_system",
    "tree_rss_bytes",
    "triotp_run",
]

#: Operations run before the clock starts (imports, first allocations, caches).
WARMUP = 200


@contextlib.contextmanager
def thespian_system(base: str) -> Iterator[Any]:
    """A Thespian ActorSystem of ``base`` ("simpleSystemBase", "multiprocQueueBase"),
    always shut down (the multiproc base leaves OS processes otherwise)."""
    import logging

    from thespian.actors import ActorSystem

    logging.getLogger("Thespian").setLevel(logging.CRITICAL)
    system = ActorSystem(base, logDefs={"version": 1, "loggers": {}})
    try:
        yield system
    finally:
        system.shutdown()


@contextlib.contextmanager
def pykka_actors() -> Iterator[None]:
    """Stop every Pykka actor (and so its thread) on the way out."""
    import pykka

    try:
        yield
    finally:
        pykka.ActorRegistry.stop_all()


def triotp_run(main: Any, *args: Any) -> Any:
    """``trio.run`` with triotp's mailbox registry initialised and its logging muted."""
    import logbook
    import trio
    from triotp import mailbox

    async def wrapper() -> Any:
        mailbox._init()
        return await main(*args)

    with logbook.NullHandler().applicationbound():
        return trio.run(wrapper)


def rss_bytes() -> int:
    """Resident set size of this process."""
    import psutil

    return psutil.Process(os.getpid()).memory_info().rss


def tree_rss_bytes() -> int:
    """RSS of this process plus the unique memory of every process forked from it.

    Thespian's multiproc base daemonizes its admin (``setsid`` + double fork), so its
    actors are neither our descendants nor in our session; being forked, they keep our
    command line. So: the processes with our command line created after us.
    """
    import psutil

    me = psutil.Process(os.getpid())
    total = me.memory_info().rss
    for proc in forked_copies(me):
        with contextlib.suppress(psutil.Error):
            # pages shared with us after the fork are in our RSS already: count only
            # what each fork has of its own (USS)
            total += proc.memory_full_info().uss
    return total


def forked_copies(origin: Any) -> list[Any]:
    """Live processes (other than ``origin``, a psutil.Process) that share its command
    line and were created after it: the forks it made, even daemonized ones."""
    import psutil

    cmdline, born = origin.cmdline(), origin.create_time()
    found = []
    for proc in psutil.process_iter(["pid", "create_time", "cmdline"]):
        info = proc.info
        if (
            proc.pid != origin.pid
            and info["cmdline"] == cmdline
            and info["create_time"] is not None
            and info["create_time"] >= born
        ):
            found.append(proc)
    return found


def finish_now(value: Any) -> Any:
    """End the sample with ``value`` now, skipping tear-down (see ``_worker.finish_now``)."""
    from ._worker import finish_now as _finish_now

    return _finish_now(value)
