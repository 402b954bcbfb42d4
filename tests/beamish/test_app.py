"""The App: install entries on a node, run entries, start/stop hooks."""

import textwrap

import pytest

from beamish import App, AppState, Error, ErrorKind, LoadError, ProcessExit

APP = """
namespace: t
entries:
  - {name: workers, kind: process.host}
  - {name: add, kind: function.py, handler: 'tcode:add'}
  - {name: boom, kind: function.py, handler: 'tcode:boom'}
  - {name: proc, kind: process.py, handler: 'tcode:proc'}
  - {name: crash, kind: process.py, handler: 'tcode:crash'}
"""

CODE = """
from beamish import Error, ErrorKind

def add(a, b):
    return a + b

def boom():
    raise Error("no such order", kind=ErrorKind.NOT_FOUND)

async def proc(ctx, x):
    return {"pid_host": ctx.pid.host, "sum": await ctx.call("t:add", x, 1)}

async def crash(ctx):
    raise RuntimeError("bad")
"""


@pytest.fixture
def app_dir(tmp_path):
    (tmp_path / "app.yaml").write_text(textwrap.dedent(APP))
    (tmp_path / "tcode.py").write_text(textwrap.dedent(CODE))
    return tmp_path


async def test_run_function_and_process_entries(app_dir):
    async with App(app_dir) as app:
        assert app.state is AppState.RUNNING
        assert await app.run_entry("t:add", [1, 2]) == 3
        assert await app.run_entry("t:proc", [41]) == {"pid_host": "t:workers", "sum": 42}
        with pytest.raises(Error, match="no such order") as info:
            await app.run_entry("t:boom")
        assert info.value.kind is ErrorKind.NOT_FOUND
        with pytest.raises(ProcessExit, match="RuntimeError: bad"):
            await app.run_entry("t:crash")
        with pytest.raises(LoadError, match="cannot be run directly"):
            await app.run_entry("t:workers")
        with pytest.raises(Error, match="unknown entry 't:nope'"):
            await app.run_entry("t:nope")
    assert app.state is AppState.STOPPED and app.clean


async def test_hooks_run_in_order_and_stop_hooks_in_reverse(app_dir):
    calls = []
    app = App(app_dir)

    def hook(name):
        async def run():
            calls.append(name)

        return run

    app.on_start(hook("start1"))
    app.on_start(hook("start2"))
    app.on_stop(hook("stop1"))
    app.on_stop(hook("stop2"))
    async with app:
        calls.append("running")
    assert calls == ["start1", "start2", "running", "stop2", "stop1"]


async def test_a_failing_stop_hook_makes_shutdown_unclean_but_still_stops(app_dir):
    app = App(app_dir)

    async def bad():
        raise RuntimeError("stuck")

    app.on_stop(bad)
    async with app:
        pass
    assert app.state is AppState.STOPPED and not app.clean


def test_node_is_unavailable_before_start(app_dir):
    with pytest.raises(Error, match="not running"):
        App(app_dir).node  # noqa: B018
