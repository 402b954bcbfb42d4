"""Supervision tests run on trio's autojumping MockClock.

Restart delays, stop timeouts and intensity windows are seconds long; under
``MockClock(autojump_threshold=0)`` the clock jumps to the next deadline whenever every
task is blocked, so those tests take milliseconds and are deterministic (trio's own
scheduling randomness aside). Tests that need real time (subprocesses, signals) are
plain sync tests or carry ``@pytest.mark.realtime``.
"""

from __future__ import annotations

import functools
import inspect
import sys
from pathlib import Path

import pytest
import trio
import trio.testing

# supervision_helpers.py sits beside the tests; with --import-mode=importlib the test
# folder is not on sys.path by itself.
_HERE = str(Path(__file__).parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "realtime: run this async test on trio's real clock, not the MockClock"
    )


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    fn = pyfuncitem.obj
    if not inspect.iscoroutinefunction(fn):
        return None
    kwargs = {a: pyfuncitem.funcargs[a] for a in pyfuncitem._fixtureinfo.argnames}
    if pyfuncitem.get_closest_marker("realtime"):
        trio.run(functools.partial(fn, **kwargs))
    else:
        trio.run(
            functools.partial(fn, **kwargs),
            clock=trio.testing.MockClock(autojump_threshold=0),
        )
    return True
