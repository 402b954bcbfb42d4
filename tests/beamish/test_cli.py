"""The ``beamish`` command, run as a user runs it: a subprocess."""

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from beamish._cli import parse_arg, to_json
from beamish.actors import Error, ErrorKind, Pid

ROOT = Path(__file__).resolve().parents[2]
HELLO = ROOT / "examples" / "hello"


def beamish(*args, **kw):
    return subprocess.run(
        [sys.executable, "-m", "beamish._cli", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=60,
        **kw,
    )


def test_exec_prints_the_result_as_json():
    out = beamish("run", HELLO, "-x", "hello:greeter", "ann")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == "hello ann, 2 + 3 = 5"
    out = beamish("run", HELLO, "-x", "hello:add", "2", "40")
    assert json.loads(out.stdout) == 42


def test_exec_error_goes_to_stderr_with_exit_1():
    out = beamish("run", HELLO, "-x", "hello:add", "1")  # missing argument
    assert out.returncode == 1
    assert out.stdout == ""
    assert out.stderr.startswith("error: Internal: TypeError")


def test_unknown_entry_is_exit_1_naming_it():
    out = beamish("run", HELLO, "-x", "hello:nope")
    assert out.returncode == 1
    assert "unknown entry 'hello:nope'" in out.stderr


def test_load_error_is_exit_2_before_anything_starts(tmp_path):
    (tmp_path / "app.yaml").write_text("namespace: a\nentries: [{name: x, kind: nope}]\n")
    out = beamish("run", tmp_path, "-x", "a:x")
    assert out.returncode == 2
    assert "unknown kind 'nope'" in out.stderr and "app.yaml" in out.stderr


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_run_until_signal_then_shut_down_cleanly(signum):
    proc = subprocess.Popen(
        [sys.executable, "-m", "beamish._cli", "run", str(HELLO)],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert "running" in proc.stderr.readline()
        proc.send_signal(signum)
        rc = proc.wait(timeout=30)
        err = proc.stderr.read()
    finally:
        proc.kill()
        proc.wait()
    assert rc == 0
    assert "stopped (clean)" in err


@pytest.mark.parametrize(
    ("text", "value"),
    [("3", 3), ('"x"', "x"), ("ann", "ann"), ('{"a": [1]}', {"a": [1]}), ("true", True)],
)
def test_args_are_json_where_they_parse(text, value):
    assert parse_arg(text) == value


def test_results_with_pids_and_errors_become_json():
    doc = json.loads(to_json({"pid": Pid("h", "0x1"), "err": Error("x", kind=ErrorKind.INVALID)}))
    assert doc == {
        "pid": "{h|0x1}",
        "err": {"kind": "Invalid", "message": "x", "retryable": None, "details": None},
    }
