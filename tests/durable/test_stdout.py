"""stdout belongs to the user: Temporal's own log lines go to stderr, through logging.

Runs ``beamish run`` as a user does, against the embedded dev server. A workflow result
between Temporal's payload warning size and its error size makes the Rust core warn
(``TMPRL1103``); that line must reach stderr on the ``beamish.temporal.core`` logger at
the chosen ``--log-level`` and never stdout, which carries exactly the JSON result.
"""

from __future__ import annotations

import json
import logging
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import temporalio.runtime
from hypothesis import given
from hypothesis import strategies as st

from beamish.durable._logs import CORE_LOGGER, core_level, core_runtime

pytestmark = pytest.mark.temporal

#: Over the core's payload warning limit, under its error limit (2 MiB).
BIG = 1_500_000

APP = """
namespace: big
entries:
  - {name: temporal, kind: temporal.client}
  - {name: worker, kind: temporal.worker, client: temporal, task_queue: big}
  - name: wf
    kind: workflow.lua
    source: file://wf.lua
    method: main
    meta: {temporal: {workflow: {worker: worker}}}
"""

WF = """
local function main(n)
  return {size = n, blob = string.rep("x", n)}
end
return {main = main}
"""


def _app(tmp_path: Path) -> Path:
    d = tmp_path / "app"
    d.mkdir()
    (d / "app.yaml").write_text(APP)
    (d / "wf.lua").write_text(WF)
    return d


def _run(*args: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "beamish._cli", "run", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
    )


def _core_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if CORE_LOGGER in line]


def test_exec_prints_only_the_result_while_temporal_warns(tmp_path):
    out = _run(_app(tmp_path), "--log-level", "warning", "-x", "big:wf", BIG)
    assert out.returncode == 0, out.stderr
    assert out.stdout.count("\n") == 1  # one line: the result, nothing else
    result = json.loads(out.stdout)
    assert result["size"] == BIG and result["blob"] == "x" * BIG
    core = _core_lines(out.stderr)
    assert any("TMPRL1103" in line and " WARNING " in line for line in core), out.stderr
    # nothing below the chosen level: the core's INFO lines (worker start/stop) are dropped
    assert not any(" INFO " in line or " DEBUG " in line for line in core), core


def test_a_higher_level_hides_the_core_warning(tmp_path):
    out = _run(_app(tmp_path), "--log-level", "ERROR", "-x", "big:wf", BIG)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["size"] == BIG
    assert "TMPRL1103" not in out.stderr
    assert "TMPRL1103" not in out.stdout


def test_info_level_shows_core_info_lines_on_stderr_only(tmp_path):
    out = _run(_app(tmp_path), "--log-level", "INFO", "-x", "big:wf", 3)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == {"size": 3, "blob": "xxx"}
    assert any(" INFO " in line for line in _core_lines(out.stderr)), out.stderr
    assert "sdk_core" not in out.stdout


def test_a_bad_log_level_is_a_usage_error(tmp_path):
    out = _run(_app(tmp_path), "--log-level", "LOUD", "-x", "big:wf", 3)
    assert out.returncode == 2
    assert out.stdout == ""
    assert "unknown log level 'LOUD'" in out.stderr


TALKER = """
from beamish.actors import Context


async def main(ctx: Context) -> None:
    print("hello from the user's service", flush=True)
    await ctx.select([ctx.events()])
"""

SERVE_APP = (
    APP
    + """
  - {name: procs, kind: process.host}
  - {name: talker, kind: process.py, handler: 'talker:main'}
  - name: talker_service
    kind: process.service
    process: talker
    host: procs
    lifecycle: {auto_start: true, requires: [worker]}
"""
)


def test_serve_keeps_only_the_users_output_on_stdout(tmp_path):
    d = _app(tmp_path)
    (d / "app.yaml").write_text(SERVE_APP)
    (d / "talker.py").write_text(textwrap.dedent(TALKER))
    proc = subprocess.Popen(
        [sys.executable, "-m", "beamish._cli", "run", str(d), "--log-level", "INFO"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None and proc.stderr is not None
        assert proc.stdout.readline() == "hello from the user's service\n"
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == 0, err
    assert out == ""  # nothing after the user's line
    assert any(" INFO " in line for line in _core_lines(err)), err
    # the embedded server's own output went to its log file beside the database
    assert (d / ".beamish" / "temporal.db.log").exists()


@given(st.integers(min_value=0, max_value=100))
def test_core_level_maps_python_levels_to_no_finer_core_filter(level):
    name = core_level(level)
    assert name in ("DEBUG", "INFO", "WARN", "ERROR")
    threshold = {"DEBUG": 10, "INFO": 20, "WARN": 30, "ERROR": 40}[name]
    for record in (logging.DEBUG, logging.INFO, logging.WARNING, logging.ERROR):
        # a core record the Python logger would pass at ``level`` passes the core filter;
        # the core sends nothing below DEBUG's level the logger would drop anyway
        if record >= level:
            assert record >= threshold
        if level <= logging.ERROR and record < level:
            assert record < threshold or record == logging.DEBUG == threshold


def test_one_runtime_is_shared_and_is_the_default():
    rt = core_runtime()
    assert core_runtime() is rt
    assert temporalio.runtime.Runtime.default() is rt
