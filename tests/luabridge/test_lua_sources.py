"""The host's own Lua ships as ``lua/*.lua`` package data (``_lua_sources``).

Every host chunk the code loads must be a file the installed package has (and that
``pyproject.toml`` ships); a host file that does not compile must name itself and its
real line; the bytecode the sandboxes load stays stripped of host positions.
"""

from __future__ import annotations

import fnmatch
import tomllib
from importlib import resources
from pathlib import Path

import pytest
from lupa import lua55

from beamish.actors import Error, ErrorKind
from beamish.durable._lua import WORKFLOW_LUA, new_workflow_sandbox
from beamish.luabridge import HostLua, LuaSyntaxError, Sandbox, _runtime
from beamish.luabridge._lib_process import PROCESS_LUA
from beamish.luabridge._lua_patterns import PATTERNS, PATTERNS_LUA
from beamish.luabridge._lua_sources import LUA_FOLDER, shipped_lua_files
from beamish.luabridge._modules import REQUIRE_MODULES
from beamish.luabridge._runtime import host_bytecode

PACKAGES = ("beamish.luabridge", "beamish.durable")
PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"


def _loaded_host_files(monkeypatch: pytest.MonkeyPatch) -> set[HostLua]:
    """Every host file compiled while a sandbox is built and all its modules are used."""
    seen: set[HostLua] = set()
    real = _runtime.host_bytecode

    def recording(source, name=None):
        if isinstance(source, HostLua):
            seen.add(source)
        else:  # a text snippet must not pretend to be a file
            assert not (name or "").startswith("@"), name
        return real(source, name)

    monkeypatch.setattr(_runtime, "host_bytecode", recording)
    sb = new_workflow_sandbox("sources")  # the standard modules, workflow's and send's
    for name in (*REQUIRE_MODULES, "workflow"):
        sb.module(name)  # builds the lazy ones
    return seen


def test_every_host_chunk_loaded_is_a_shipped_package_resource(monkeypatch):
    loaded = _loaded_host_files(monkeypatch)
    assert {(h.package, h.filename) for h in loaded} >= {
        ("beamish.luabridge", f)
        for f in (
            "prelude.lua",
            "patterns.lua",
            "core.lua",
            "errors.lua",
            "process.lua",
            "funcs.lua",
            "time.lua",
            "misc.lua",
        )
    } | {("beamish.durable", "workflow.lua"), ("beamish.durable", "send.lua")}
    for h in loaded:
        res = resources.files(h.package).joinpath(LUA_FOLDER, h.filename)
        assert res.is_file(), h.path
        assert res.read_text(encoding="utf-8") == h.text()
    # and nothing is shipped that no code loads
    shipped = {(pkg, f) for pkg in PACKAGES for f in shipped_lua_files(pkg)}
    assert shipped == {(h.package, h.filename) for h in loaded}


def test_pyproject_ships_every_lua_file_as_package_data():
    config = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["tool"]["setuptools"]
    package_data = config["package-data"]
    for pkg in PACKAGES:
        assert pkg in config["packages"]
        files = shipped_lua_files(pkg)
        assert files, pkg
        for f in files:
            rel = f"{LUA_FOLDER}/{f}"
            assert any(fnmatch.fnmatch(rel, g) for g in package_data.get(pkg, ())), (pkg, rel)


@pytest.mark.parametrize("pkg", PACKAGES)
def test_each_file_says_what_it_is_and_who_installs_it(pkg):
    for f in shipped_lua_files(pkg):
        text = HostLua(pkg, f).text()
        header = text.split("\n\n", 1)[0]
        assert header.startswith("-- "), f
        assert all(line.startswith("--") for line in header.splitlines()), f
        assert "beamish." in header, f  # the Python module that installs it


def test_chunk_names_are_package_relative_paths():
    assert PROCESS_LUA.path == "beamish/luabridge/lua/process.lua"
    assert PROCESS_LUA.chunkname == "@beamish/luabridge/lua/process.lua"
    assert WORKFLOW_LUA.chunkname == "@beamish/durable/lua/workflow.lua"


def test_text_is_read_once_and_bytecode_compiled_once():
    assert PROCESS_LUA.text() is HostLua("beamish.luabridge", "process.lua").text()
    assert host_bytecode(PROCESS_LUA) is host_bytecode(PROCESS_LUA)
    assert PATTERNS_LUA is PATTERNS.text()  # the name the matcher's tests use


def _all_host_files() -> list[HostLua]:
    return [HostLua(pkg, f) for pkg in PACKAGES for f in shipped_lua_files(pkg)]


@pytest.mark.parametrize("src", _all_host_files(), ids=lambda h: h.filename)
def test_a_broken_host_file_reports_its_file_and_real_line(src):
    # A copy with one bad statement inserted before a top-level statement two thirds in;
    # the shipped file is untouched. Compiled by the very function sandboxes use.
    lines = src.text().split("\n")
    at = next(
        i
        for i in range(len(lines) * 2 // 3, len(lines))
        if lines[i].startswith(("local ", "function ", "return "))
    )
    broken = "\n".join([*lines[:at], "local = 1", *lines[at:]])
    with pytest.raises(LuaSyntaxError) as info:
        host_bytecode(broken, src.chunkname)
    err = info.value
    assert (err.chunk, err.line) == (src.path, at + 1)
    assert err.kind is ErrorKind.INTERNAL and err.retryable is False
    assert str(err).startswith(f"host Lua {src.path} line {at + 1} does not compile: ")
    assert err.lua_message.startswith(f"{src.path}:{at + 1}: ")
    assert "reinstall" in str(err)


def test_eval_privileged_reports_a_broken_host_text_the_same_way():
    sb = Sandbox()
    with pytest.raises(LuaSyntaxError, match=r"^host Lua beamish/luabridge/lua/x\.lua line 2 "):
        sb.eval_privileged("local a = 1\nlocal = 2\n", name="@beamish/luabridge/lua/x.lua")


def test_host_bytecode_is_stripped_of_host_positions():
    # Errors raised by host code on a script's behalf must carry no host file or line.
    bc = host_bytecode(PROCESS_LUA)
    assert PROCESS_LUA.path.encode() not in bc
    rt = lua55.LuaRuntime()
    probe = rt.eval(
        "function(f) local i = debug.getinfo(f, 'Sl') return i.source, i.currentline end"
    )
    chunk = rt.execute("return load(...)", bc)
    assert tuple(probe(chunk)) == ("=?", -1)


def test_a_missing_host_file_is_an_internal_error_naming_it():
    with pytest.raises(
        Error,
        match=r"host Lua file beamish/luabridge/lua/nope\.lua cannot be "
        r"read .*reinstall it",
    ) as info:
        HostLua("beamish.luabridge", "nope.lua").text()
    assert info.value.kind is ErrorKind.INTERNAL
    assert info.value.details == {"path": "beamish/luabridge/lua/nope.lua"}


@pytest.mark.parametrize("name", ["process", "lua/process.lua", "../x.lua", "a\\b.lua"])
def test_a_host_file_is_a_plain_lua_file_name(name):
    with pytest.raises(
        ValueError, match=r"^host Lua file name .* must be a plain '<name>\.lua' in the lua/"
    ):
        HostLua("beamish.luabridge", name)
