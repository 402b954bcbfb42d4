"""Lua entries: load-time errors name the YAML file, the entry and the Lua line."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from beamish import load_directory
from beamish.actors import LoadError
from beamish.luabridge import LUA_VERSION, LuaEntrySpec, check_entry, spec_from_entry


def write_app(tmp_path: Path, yaml_text: str, **files: str) -> Path:
    (tmp_path / "app.yaml").write_text(textwrap.dedent(yaml_text))
    for name, text in files.items():
        (tmp_path / name.replace("__", "/")).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name.replace("__", "/")).write_text(textwrap.dedent(text))
    return tmp_path


def check_app(directory: Path) -> dict[str, LuaEntrySpec]:
    registry = load_directory(directory)
    specs = {e.id: spec_from_entry(e) for e in registry if e.kind.endswith(".lua")}
    for spec in specs.values():
        check_entry(spec, specs.get, owner=registry)
    return specs


APP = """
namespace: app
entries:
  - name: worker
    kind: process.lua
    source: file://worker.lua
    method: main
    imports:
      util: app.lib:util
  - name: double
    kind: function.lua
    source: file://double.lua
    method: handler
    modules: [errors]
"""
LIB = """
namespace: app.lib
entries:
  - name: util
    kind: library.lua
    source: file://util.lua
"""


def test_a_valid_app_loads(tmp_path):
    write_app(tmp_path, APP, **{
        "worker.lua": "local util = require('util')\nreturn {main = function() return util.x end}",
        "double.lua": "return {handler = function(n) return n * 2 end}",
        "lib__app.yaml": LIB,
        "lib__util.lua": "return {x = 1}",
    })
    specs = check_app(tmp_path)
    assert specs["app:worker"].method == "main"
    assert specs["app:worker"].imports == {"util": "app.lib:util"}
    assert specs["app:double"].chunkname == "double.lua"
    assert specs["app.lib:util"].method is None


def test_syntax_errors_name_file_entry_and_line(tmp_path):
    write_app(tmp_path, APP, **{
        "worker.lua": "return {main = function()\n  local x = = 1\nend}",
        "double.lua": "return {handler = function(n) return n end}",
        "lib__app.yaml": LIB, "lib__util.lua": "return {}",
    })
    with pytest.raises(LoadError) as info:
        check_app(tmp_path)
    msg = info.value.message
    assert "entry 'app:worker'" in msg
    assert str(tmp_path / "app.yaml") in msg
    assert "Lua syntax error in worker.lua line 2" in msg


def test_lua_5_5_loop_variables_are_read_only_and_reported_at_load(tmp_path):
    assert LUA_VERSION == (5, 5)
    write_app(tmp_path, APP, **{
        "worker.lua": "return {main = function()\n for i = 1, 3 do\n  i = i + 1\n end\nend}",
        "double.lua": "return {handler = function(n) return n end}",
        "lib__app.yaml": LIB, "lib__util.lua": "return {}",
    })
    with pytest.raises(LoadError,
                       match=r"worker.lua line 3: attempt to assign to const variable 'i'"):
        check_app(tmp_path)


def test_unknown_method_is_reported_at_load_with_the_exports(tmp_path):
    write_app(tmp_path, APP, **{
        "worker.lua": "return {main = function() end}",
        "double.lua": "return {run = function(n) return n end, helper = function() end}",
        "lib__app.yaml": LIB, "lib__util.lua": "return {}",
    })
    with pytest.raises(LoadError) as info:
        check_app(tmp_path)
    msg = info.value.message
    assert "entry 'app:double'" in msg and str(tmp_path / "app.yaml") in msg
    assert "method 'handler' is not exported by double.lua (exported functions: helper, run)" in msg


def test_top_level_errors_are_reported_at_load_with_the_line(tmp_path):
    write_app(tmp_path, APP, **{
        "worker.lua": "local t = nil\nlocal y = t.field\nreturn {main = function() end}",
        "double.lua": "return {handler = function(n) return n end}",
        "lib__app.yaml": LIB, "lib__util.lua": "return {}",
    })
    with pytest.raises(LoadError,
                       match=r"app:worker.*failed while loading: worker.lua:2: attempt to index"):
        check_app(tmp_path)


def test_imports_must_exist_and_be_lua_entries(tmp_path):
    write_app(tmp_path, """
        namespace: app
        entries:
          - name: a
            kind: process.lua
            source: file://a.lua
            imports: {x: missing}
    """, **{"a.lua": "return {main = function() end}"})
    with pytest.raises(LoadError,
                       match="import 'x' refers to 'app:missing', which is not a Lua entry"):
        check_app(tmp_path)

    write_app(tmp_path, """
        namespace: app
        entries:
          - name: a
            kind: process.lua
            source: file://a.lua
            imports: {x: b}
          - name: b
            kind: process.host
    """, **{"a.lua": "return {main = function() end}"})
    with pytest.raises(LoadError,
                       match="import 'x' refers to 'app:b', which is not a Lua entry"):
        check_app(tmp_path)

    # As in Wippy, any Lua entry may be imported (here a function.lua): it loads.
    write_app(tmp_path, """
        namespace: app
        entries:
          - name: a
            kind: process.lua
            source: file://a.lua
            imports: {x: b}
          - name: b
            kind: function.lua
            source: file://a.lua
            method: main
    """, **{"a.lua": "return {main = function() end}"})
    assert set(check_app(tmp_path)) == {"app:a", "app:b"}


def test_syntax_errors_in_imported_libraries_name_the_library(tmp_path):
    write_app(tmp_path, APP, **{
        "worker.lua": "return {main = function() end}",
        "double.lua": "return {handler = function(n) return n end}",
        "lib__app.yaml": LIB, "lib__util.lua": "return {\n\n  x = ,\n}",
    })
    with pytest.raises(LoadError, match=r"entry 'app\.lib:util'.*util\.lua line 3"):
        check_app(tmp_path)


def test_unknown_modules_are_reported(tmp_path):
    write_app(tmp_path, """
        namespace: app
        entries:
          - name: a
            kind: function.lua
            source: file://a.lua
            method: main
            modules: [nosuchmodule]
    """, **{"a.lua": "return {main = function() end}"})
    with pytest.raises(LoadError, match="unknown module 'nosuchmodule' in 'modules'"):
        check_app(tmp_path)


def test_require_outside_the_allow_list_fails_at_load(tmp_path):
    write_app(tmp_path, """
        namespace: app
        entries:
          - name: a
            kind: function.lua
            source: file://a.lua
            method: main
    """, **{"a.lua": "local secret = require('io')\nreturn {main = function() end}"})
    with pytest.raises(LoadError, match="module 'io' is not allowed for entry 'app:a'"):
        check_app(tmp_path)


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ("method: main", "missing 'source'"),
        ("source: file://nope.lua\n    method: main", "'source' file not found"),
        ("source: file://a.lua", "missing 'method'"),
        ("source: file://a.lua\n    method: main\n    modules: json", "'modules' must be a list"),
        ("source: file://a.lua\n    method: main\n    imports: [x]", "'imports' must map aliases"),
    ],
)
def test_malformed_fields_are_reported(tmp_path, fields, problem):
    write_app(tmp_path, f"""
namespace: app
entries:
  - name: f
    kind: function.lua
    {fields}
""", **{"a.lua": "return {main = function() end}"})
    registry = load_directory(tmp_path)
    with pytest.raises(LoadError, match=problem):
        spec_from_entry(registry.get("app:f"))


def test_inline_source_is_accepted(tmp_path):
    write_app(tmp_path, """
        namespace: app
        entries:
          - name: inline
            kind: function.lua
            method: main
            source: |
              return {main = function() return 1 end}
    """)
    specs = check_app(tmp_path)
    assert specs["app:inline"].chunkname == "app:inline.lua"


def test_top_level_that_needs_the_system_defers_the_method_check(tmp_path):
    from beamish.luabridge import Sandbox, install_modules

    sb = Sandbox()
    install_modules(sb)
    sb.install_module("fx", sb.eval_privileged(
        "local CMD = ... return {go = function() return coroutine.yield(CMD, 'go') end}",
        sb.CMD), is_global=True)
    spec = LuaEntrySpec(id="app:x", kind="function.lua", source="fx.go() return {}",
                        chunkname="x.lua", method="main")
    from beamish.luabridge import _entries

    _entries._scratch_default[:] = [sb]
    try:
        check_entry(spec, lambda _id: None, known_modules=frozenset())
    finally:
        _entries._scratch_default.clear()
