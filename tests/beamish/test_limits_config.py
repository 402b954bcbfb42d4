"""``limits:`` of a ``process.host`` entry: parsed at load time (sizes, durations,
counts), rejected with a clear ``LoadError`` when wrong, installed on the host and
enforced on its processes."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest
import trio

from beamish import App, LoadError
from beamish._kinds import parse_limits, parse_size
from beamish.actors import DEFAULT_LIMITS, Limits

KiB, MiB, GiB = 1024, 1024**2, 1024**3


@pytest.mark.parametrize(
    ("text", "size"),
    [
        (4096, 4096),
        ("64MiB", 64 * MiB),
        ("512MB", 512 * 10**6),
        ("1GiB", GiB),
        ("16KiB", 16 * KiB),
        ("16kib", 16 * KiB),
        ("100B", 100),
        ("2 KB", 2000),
        ("1.5GiB", GiB + GiB // 2),
        ("123", 123),
    ],
)
def test_sizes_are_bytes_or_a_number_with_a_unit(text, size):
    assert parse_size(text) == size


@pytest.mark.parametrize("bad", [True, 1.5, "1.5", "64 parsecs", "MiB", "-1MiB", "", None, [1]])
def test_bad_sizes_say_what_a_size_is(bad):
    with pytest.raises(ValueError, match=r"size|bytes"):
        parse_size(bad)


def test_parse_limits_keeps_the_defaults_of_unset_keys():
    limits = parse_limits({"mailbox_bytes": "1MiB", "step_timeout": "250ms", "children": 3,
                           "memory": 256 * MiB})
    assert limits == DEFAULT_LIMITS.with_(mailbox_bytes=MiB, step_timeout=0.25, children=3,
                                          memory=256 * MiB)
    assert parse_limits(None) == DEFAULT_LIMITS
    assert parse_limits({"step_timeout": 2}) == DEFAULT_LIMITS.with_(step_timeout=2.0)


def write_app(tmp_path, limits_yaml: str, extra: str = "") -> None:
    (tmp_path / "app.yaml").write_text(textwrap.dedent(f"""
        namespace: q
        entries:
          - name: workers
            kind: process.host
            limits: {limits_yaml}
        """) + extra)  # extra: more entries, indented like the first


@pytest.mark.parametrize(
    ("limits_yaml", "problem"),
    [
        ("{mailbox_msgs: 10}", "unknown key 'mailbox_msgs' in 'limits' (value 10)"),
        ("{children: 0}", "limits.children = 0 is invalid (must be greater than zero)"),
        ("{timers: -5}", "limits.timers = -5 is invalid (must be greater than zero)"),
        ("{spawn_messages: '10'}", "limits.spawn_messages = '10' is invalid (a count is a whole"),
        ("{mailbox_messages: yes}", "limits.mailbox_messages = True is invalid"),
        ("{mailbox_messages: 1.5}", "limits.mailbox_messages = 1.5 is invalid"),
        ("{mailbox_bytes: 64 parsecs}", "limits.mailbox_bytes = '64 parsecs' is invalid"),
        ("{memory: 0MiB}", "limits.memory = '0MiB' is invalid (must be greater than zero)"),
        ("{step_timeout: 0s}", "limits.step_timeout = '0s' is invalid"),
        ("{step_timeout: 5 minutes}", "limits.step_timeout = '5 minutes' is invalid"),
        ("{step_timeout: infinity}", "limits.step_timeout = 'infinity' is invalid"),
        ("[children, 3]", "'limits' must be a mapping of limit settings"),
    ],
)
def test_a_bad_limits_entry_is_a_load_error_naming_entry_key_value_and_valid_keys(
    tmp_path, limits_yaml, problem
):
    write_app(tmp_path, limits_yaml)
    with pytest.raises(LoadError) as info:
        App(tmp_path)
    message = info.value.message
    assert message.startswith("entry 'q:workers' (")
    assert "app.yaml" in message
    assert problem in message
    assert "valid keys: " + ", ".join(Limits.settings()) in message


LUA = """
local function refused(i, err) return {i = i, kind = err:kind(), message = tostring(err)} end
return {
  send_flood = function()
    local me = process.pid()
    for i = 1, 1e6 do
      local ok, err = process.send(me, "t", "0123456789")
      if not ok then return refused(i, err) end
    end
  end,
  spawn_flood = function()
    for i = 1, 1e6 do
      local pid, err = process.spawn("q:idle", nil)
      if not pid then return refused(i, err) end
    end
  end,
  timer_flood = function()
    local time = require("time")
    local keep = {}
    for i = 1, 1e6 do
      local t, err = time.timer("1h")
      if not t then return refused(i, err) end
      keep[i] = t
    end
  end,
  builder_flood = function()
    local b = process.with_options({})
    for i = 1, 1e6 do
      local ok, nb = pcall(b.with_message, b, "t", i)
      if not ok then return refused(i, nb) end
      b = nb
    end
  end,
  idle = function() process.events():receive() end,  -- ends at the shutdown CANCEL
}
"""

ENTRIES = """
  - {name: send_flood, kind: process.lua, source: file://q.lua, method: send_flood}
  - {name: spawn_flood, kind: process.lua, source: file://q.lua, method: spawn_flood}
  - {name: timer_flood, kind: process.lua, source: file://q.lua, method: timer_flood,
     modules: [time]}
  - {name: builder_flood, kind: process.lua, source: file://q.lua, method: builder_flood}
  - {name: idle, kind: process.lua, source: file://q.lua, method: idle}
"""

SMALL = ("{mailbox_messages: 50, mailbox_bytes: 200B, children: 7, timers: 9,"
         " spawn_messages: 4, step_timeout: 5s}")


@pytest.fixture
def small_app(tmp_path):
    write_app(tmp_path, SMALL, ENTRIES)
    (tmp_path / "q.lua").write_text(LUA)
    return tmp_path


async def test_limits_from_yaml_are_installed_on_the_host_only(small_app):
    async with App(small_app, shutdown_timeout=0.1) as app:
        host = app.node.host("q:workers")
        assert host.limits == DEFAULT_LIMITS.with_(
            mailbox_messages=50, mailbox_bytes=200, children=7, timers=9, spawn_messages=4,
            step_timeout=5.0)
        assert app.node.host("node:local").limits is DEFAULT_LIMITS


@pytest.mark.parametrize(
    ("entry", "stopped_at", "setting", "value"),
    [
        ("q:send_flood", 21, "mailbox_bytes", 200),  # 10 bytes each: 20 fit
        ("q:spawn_flood", 8, "children", 7),
        ("q:timer_flood", 10, "timers", 9),
        ("q:builder_flood", 5, "spawn_messages", 4),
    ],
)
async def test_limits_from_yaml_are_enforced(small_app, entry, stopped_at, setting, value):
    async with App(small_app, shutdown_timeout=0.1) as app:
        with trio.fail_after(60):
            result = await app.run_entry(entry)
    assert result["i"] == stopped_at, result
    assert f"limits.{setting} of host 'q:workers' is {value}" in result["message"]


def test_limits_from_yaml_through_the_command_line(small_app):
    out = subprocess.run(
        [sys.executable, "-m", "beamish._cli", "run", str(small_app), "-x", "q:spawn_flood"],
        capture_output=True, text=True, timeout=120,
    )
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["i"] == 8 and result["kind"] == "RateLimited"
    assert "limits.children of host 'q:workers' is 7" in result["message"]
