"""Nothing a script does may abort or kill the host process.

Run through ``beamish run APP -x`` in a child process, as an attacker would: a signal
death (SIGABRT from a Lua panic, SIGKILL from the kernel's OOM killer) shows up as a
negative return code, a clean refusal as exit 1 with the reason on stderr.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

APP = """\
namespace: app
entries:
  - name: processes
    kind: process.host
  - name: bomb
    kind: process.lua
    source: file://bomb.lua
    method: main
    modules: [time]
"""


def run_app(tmp_path: Path, lua_source: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "app.yaml").write_text(APP)
    (tmp_path / "bomb.lua").write_text(textwrap.dedent(lua_source))
    return subprocess.run(
        [sys.executable, "-m", "beamish._cli", "run", str(tmp_path), "-x", "app:bomb"],
        capture_output=True, text=True, timeout=300,
    )


def test_a_huge_string_sent_to_oneself_fails_the_send(tmp_path):
    out = run_app(tmp_path, """
        local time = require("time")
        return {main = function()
          local s = string.rep("x", 300 * 1024 * 1024)
          process.send(process.pid(), "big", s)
          return #process.inbox():receive():payload():data()
        end}""")
    assert out.returncode == 1, out.stderr
    assert "max_payload" in out.stderr
    assert out.stdout == ""


def test_a_full_heap_then_a_receive_does_not_abort(tmp_path):
    out = run_app(tmp_path, """
        local time = require("time")
        return {main = function()
          local msg = string.rep("p", 1024 * 1024)
          process.send(process.pid(), "later", msg)
          local keep = {}
          -- fill the heap to the brim in pieces the script catches
          for _, size in ipairs({2^24, 2^20, 2^16, 2^12, 2^8, 16}) do
            while pcall(function() keep[#keep + 1] = string.rep("f", size) .. #keep end) do end
          end
          -- now make the host push a message (and call into Python) with no room left
          local got = process.inbox():receive()
          return #got:payload():data()
        end}""")
    assert out.returncode in (0, 1), (out.returncode, out.stderr[-2000:])
    if out.returncode == 1:
        assert "memory" in out.stderr


@pytest.mark.parametrize("source", [
    # an error object whose message is huge
    'return {main = function() error(string.rep("e", 64 * 2^20)) end}',
    # a table of many strings returned as the result
    'return {main = function() local t = {} for i = 1, 40 do t[i] = string.rep("r", 2^20) end '
    'return t end}',
])
def test_big_results_and_errors_are_refused_cleanly(tmp_path, source):
    out = run_app(tmp_path, source)
    assert out.returncode in (0, 1), (out.returncode, out.stderr[-2000:])
