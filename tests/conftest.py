"""Run ``async def`` tests under trio (no pytest-trio: it lags behind pytest releases)."""

from __future__ import annotations

import functools
import inspect

import pytest
import trio


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    fn = pyfuncitem.obj
    if inspect.iscoroutinefunction(fn):
        kwargs = {a: pyfuncitem.funcargs[a] for a in pyfuncitem._fixtureinfo.argnames}
        trio.run(functools.partial(fn, **kwargs))
        return True
    return None
