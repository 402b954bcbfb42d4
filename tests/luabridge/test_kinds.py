"""The *.lua entry kinds inside an app: load-time errors, install, run."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import trio

from beamish import App
from beamish._kinds import default_handlers
from beamish.actors import LoadError
from beamish.luabridge import KIND_HANDLERS


def write(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (tmp_path / name).write_text(textwrap.dedent(text))
    return tmp_path


APP = """
namespace: demo
entries:
  - name: workers
    kind: process.host
  - name: greet
    kind: library.lua
    source: file://greet.lua
  - name: hello
    kind: function.lua
    source: file://hello.lua
    method: run
    imports: {greet: greet}
  - name: counter
    kind: process.lua
    source: file://counter.lua
    method: main
    modules: [funcs]
"""


def test_the_shell_collects_the_lua_kinds():
    kinds = {h.kind for h in KIND_HANDLERS}
    assert kinds == {"pg.scope", "library.lua", "function.lua", "process.lua"}
    handlers = default_handlers()
    assert all(handlers[k] is not None for k in kinds)
    assert [h.order for h in KIND_HANDLERS] == sorted(h.order for h in KIND_HANDLERS)


def test_lua_entries_install_and_run(tmp_path):
    write(tmp_path, {
        "app.yaml": APP,
        "greet.lua": "return {greet = function(n) return 'hello ' .. n end}",
        "hello.lua": "local g = require('greet') return {run = function(n) return g.greet(n) end}",
        "counter.lua": """
            local funcs = require("funcs")
            return {main = function(n)
              local parts = {}
              for i = 1, n do parts[i] = funcs.call("demo:hello", tostring(i)) end
              return {pid = process.pid(), parts = parts}
            end}""",
    })

    async def main() -> None:
        async with App(tmp_path) as app:
            assert await app.run_entry("demo:hello", ["lua"]) == "hello lua"
            out = await app.run_entry("demo:counter", [2])
            assert out["parts"] == ["hello 1", "hello 2"]
            assert out["pid"].startswith("{demo:workers|")

    trio.run(main)


def test_lua_load_errors_stop_the_app_before_it_starts(tmp_path):
    write(tmp_path, {
        "app.yaml": APP,
        "greet.lua": "return {greet = function(n) return 'hello ' .. n end}",
        "hello.lua": "return {run = function(n)\n  return n +\nend}",
        "counter.lua": "return {main = function() end}",
    })
    with pytest.raises(LoadError) as info:
        App(tmp_path)
    msg = info.value.message
    assert "entry 'demo:hello'" in msg and "app.yaml" in msg
    assert "hello.lua line 3" in msg


def test_unknown_method_stops_the_app(tmp_path):
    write(tmp_path, {
        "app.yaml": APP,
        "greet.lua": "return {}",
        "hello.lua": "return {run = function() end}",
        "counter.lua": "return {start = function() end}",
    })
    with pytest.raises(LoadError, match=r"entry 'demo:counter'.*method 'main' is not exported"):
        App(tmp_path)
