"""The ``beamish`` command, run as a user runs it: a subprocess."""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from beamish._cli import main, parse_arg, to_json
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
    out = beamish("run", tmp_path, "--strict", "-x", "a:x")
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


# -- -x prints strict JSON or nothing -----------------------------------------------------

ODD_APP = """
namespace: j
entries:
  - {name: procs, kind: process.host}
  - {name: nan, kind: function.py, handler: 'jcode:nan'}
  - {name: deep_inf, kind: function.py, handler: 'jcode:deep_inf'}
  - {name: tuple_key, kind: function.py, handler: 'jcode:tuple_key'}
  - {name: clash, kind: function.py, handler: 'jcode:clash'}
  - {name: obj, kind: function.py, handler: 'jcode:obj'}
  - {name: binary, kind: function.py, handler: 'jcode:binary'}
  - {name: int_keys, kind: function.py, handler: 'jcode:int_keys'}
  - {name: crash, kind: function.py, handler: 'jcode:crash'}
  - {name: lua_nan, kind: function.lua, source: file://j.lua, method: nan}
  - {name: lua_inf, kind: function.lua, source: file://j.lua, method: inf}
  - {name: lua_bool_key, kind: function.lua, source: file://j.lua, method: bool_key}
  - {name: lua_float_key, kind: function.lua, source: file://j.lua, method: float_key}
  - {name: lua_sparse, kind: function.lua, source: file://j.lua, method: sparse}
"""

ODD_CODE = """
def nan():
    return {"a": float("nan")}

def deep_inf():
    return {"rows": [1, {"v": float("-inf")}]}

def tuple_key():
    return {(1, 2): "pair"}

def clash():
    return {1: "int", "1": "str"}

def obj():
    return {"thing": object()}

def binary():
    return b"\\xff\\xfe"

def int_keys():
    return {1: "a", 20: {"x": (1, 2)}}

def crash():
    raise RuntimeError("line one\\nline two")
"""

ODD_LUA = """
return {
  nan = function() return {a = 0/0} end,
  inf = function() return {1, math.huge} end,
  bool_key = function() return {[true] = "yes"} end,
  float_key = function() return {[1.5] = "x"} end,
  sparse = function() return {[7] = "seven", [100] = "hundred"} end,
}
"""


@pytest.fixture(scope="module")
def odd_app(tmp_path_factory):
    d = tmp_path_factory.mktemp("odd")
    (d / "app.yaml").write_text(ODD_APP)
    (d / "jcode.py").write_text(ODD_CODE)
    (d / "j.lua").write_text(ODD_LUA)
    return d


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        ("j:nan", "result.a is NaN"),
        ("j:deep_inf", "result.rows[1].v is -Infinity"),
        ("j:lua_nan", "result.a is NaN"),
        ("j:lua_inf", "result[1] is Infinity"),
        ("j:tuple_key", "result has a tuple key"),
        ("j:lua_bool_key", "result has a bool key True"),
        ("j:lua_float_key", "result has a float key 1.5"),
        ("j:clash", "two keys that both print as '1'"),
        ("j:obj", "result.thing is a builtins.object"),
        ("j:binary", "result is binary data that is not UTF-8"),
    ],
)
def test_a_result_with_no_json_form_is_exit_1_one_line_and_empty_stdout(
    odd_app, capsys, entry, problem
):
    # In process (the same main() the console script runs): one subprocess per case is slow.
    assert main(["run", str(odd_app), "-x", entry]) == 1
    out = capsys.readouterr()
    assert out.out == ""
    lines = out.err.strip().splitlines()
    assert len(lines) == 1, out.err
    assert lines[0].startswith(f"error: Invalid: entry {entry!r} returned a result that cannot")
    assert problem in lines[0]
    assert "Traceback" not in out.err


def test_the_same_through_the_console_script(odd_app):
    out = beamish("run", odd_app, "-x", "j:lua_nan")
    assert (out.returncode, out.stdout) == (1, "")
    assert out.stderr.count("\n") == 1 and "result.a is NaN" in out.stderr


def test_integer_keys_print_as_strings(odd_app):
    out = beamish("run", odd_app, "-x", "j:int_keys")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == {"1": "a", "20": {"x": [1, 2]}}
    out = beamish("run", odd_app, "-x", "j:lua_sparse")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == {"7": "seven", "100": "hundred"}


def test_an_unexpected_exception_in_the_entry_is_one_line_without_traceback(odd_app):
    out = beamish("run", odd_app, "-x", "j:crash")
    assert out.returncode == 1
    assert out.stdout == ""
    assert out.stderr.strip() == "error: Internal: RuntimeError: line one | line two"


def test_debug_logging_adds_the_traceback_after_the_fact(odd_app):
    out = subprocess.run(
        [sys.executable, "-m", "beamish._cli", "run", str(odd_app), "-x", "j:crash"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "BEAMISH_LOG_LEVEL": "DEBUG"},
    )
    assert out.returncode == 1 and out.stdout == ""
    assert "jcode.py" in out.stderr and "raise RuntimeError" in out.stderr
    assert out.stderr.strip().splitlines()[-1].startswith("error: Internal: RuntimeError")


def test_a_failure_outside_the_entry_is_also_one_line(monkeypatch, capsys, tmp_path):
    import beamish._cli as cli

    class Broken:
        def __init__(self, *args, **kw):
            raise OSError("disk on fire")

    monkeypatch.setattr(cli, "App", Broken)
    assert cli.main(["run", str(tmp_path), "-x", "a:b"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == "error: Internal: OSError: disk on fire\n"


def _cyclic():  # (from an entry a cycle never reaches the printer: the kernel refuses it)
    a = []
    a.append(a)
    return a


@pytest.mark.parametrize(
    "value",
    [
        float("nan"),
        float("inf"),
        {True: 1},
        {1.5: 1},
        {None: 1},
        {(1,): 1},
        object(),
        b"\xff",
        _cyclic(),
    ],
)
def test_to_json_refuses_what_json_cannot_hold(value):
    with pytest.raises(Error) as info:
        to_json(value)
    assert info.value.kind is ErrorKind.INVALID
    assert info.value.message.startswith("result")


def test_to_json_output_is_strict_json():
    text = to_json({"n": 1.5, 2: [True, None], "s": "é", "t": (1,), "set": {3}})
    assert json.loads(text, parse_constant=lambda c: pytest.fail(c)) == {
        "n": 1.5,
        "2": [True, None],
        "s": "é",
        "t": [1],
        "set": [3],
    }


def test_an_unwatched_crash_is_a_json_crash_report_on_stderr(tmp_path):
    (tmp_path / "app.yaml").write_text(
        "namespace: app\n"
        "entries:\n"
        "  - { name: host, kind: process.host }\n"
        '  - { name: main, kind: process.py, handler: "crashy:main" }\n'
    )
    (tmp_path / "crashy.py").write_text(
        "async def worker(ctx):\n"
        "    raise ValueError('bad input')\n\n"
        "async def main(ctx):\n"
        "    ctx.spawn(worker)\n"
        "    await ctx.sleep(0.05)\n"
        "    return 'done'\n"
    )
    out = beamish("run", tmp_path, "-x", "app:main", "--log-format", "json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == "done"  # stdout: the result only
    records = [json.loads(line) for line in out.stderr.splitlines() if line.startswith("{")]
    (crash,) = [r for r in records if r["logger"] == "beamish.crash"]
    assert crash["level"] == "ERROR"
    assert crash["reason"] == "ValueError: bad input"
    assert crash["kind"] == "Internal"
    assert 'crashy.py", line 2, in worker' in crash["message"]
