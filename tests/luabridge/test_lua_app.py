"""The Lua acceptance suite (tests/lua_app) run from pytest, in-process and by the CLI."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import trio

from beamish import App
from beamish.actors import Error

LUA_APP = Path(__file__).resolve().parents[1] / "lua_app"
SUITES = {"process", "channel", "time", "funcs", "misc"}


async def run_runner(directory: Path, *args: object) -> object:
    async with App(directory, shutdown_timeout=2) as app:
        with trio.fail_after(120):
            return await app.run_entry("app:runner", list(args))


def test_every_lua_acceptance_test_passes():
    report = trio.run(run_runner, LUA_APP)
    assert isinstance(report, dict)
    assert report["failed"] == 0, report["failures"]
    assert set(report["suites"]) == SUITES
    assert report["passed"] == report["total"] >= 50


def test_the_runner_filters_by_entry_id():
    report = trio.run(run_runner, LUA_APP, "app.test.channel:")
    assert report["total"] == report["passed"] == 8


def test_the_cli_runs_the_suite_and_prints_the_report():
    out = subprocess.run(
        [sys.executable, "-m", "beamish._cli", "run", str(LUA_APP), "-x", "app:runner"],
        capture_output=True, text=True, timeout=180,
    )
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["failed"] == 0 and report["total"] >= 50


def test_a_failing_lua_test_fails_the_run(tmp_path):
    app = tmp_path / "app"
    shutil.copytree(LUA_APP, app)
    (app / "test" / "broken.yaml").write_text(
        'namespace: app.test.broken\n'
        'entries:\n'
        '  - name: fails\n'
        '    kind: function.lua\n'
        '    meta: {type: test, suite: broken}\n'
        '    method: main\n'
        '    source: |\n'
        '      return {main = function() error("deliberate failure") end}\n'
        '  - name: returns_false\n'
        '    kind: function.lua\n'
        '    meta: {type: test, suite: broken}\n'
        '    method: main\n'
        '    source: |\n'
        '      return {main = function() return false end}\n'
    )
    with pytest.raises(Error) as info:
        trio.run(run_runner, app, "app.test.broken")
    assert "2 of 2 Lua tests failed" in info.value.message
    assert "deliberate failure" in info.value.message
    assert "test returned false" in info.value.message
    out = subprocess.run(
        [sys.executable, "-m", "beamish._cli", "run", str(app), "-x", "app:runner",
         "app.test.broken"],
        capture_output=True, text=True, timeout=180,
    )
    assert out.returncode == 1
    assert "2 of 2 Lua tests failed" in out.stderr


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="a pool of 2 needs 2 cores")
def test_the_suite_passes_with_its_host_as_a_pool_of_two_worker_nodes(tmp_path):
    app = tmp_path / "app"
    shutil.copytree(LUA_APP, app)
    yaml_file = app / "app.yaml"
    text = yaml_file.read_text()
    assert "  - name: processes\n    kind: process.host\n" in text
    yaml_file.write_text(text.replace(
        "  - name: processes\n    kind: process.host\n",
        "  - name: processes\n    kind: process.host\n    host:\n      workers: 2\n"))
    out = subprocess.run(
        [sys.executable, "-m", "beamish._cli", "run", str(app), "-x", "app:runner"],
        capture_output=True, text=True, timeout=300,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    report = json.loads(out.stdout)
    assert report["failed"] == 0 and report["total"] >= 50
    # the tests' processes ran on the two worker nodes
    assert "node main-w1 joined" in out.stderr and "node main-w2 joined" in out.stderr
