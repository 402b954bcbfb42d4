"""What a Lua script can learn about the host: sources and error stacks.

A script is untrusted code. It must not be loaded from outside the app (the shell
confines ``source: file://`` paths, see ``tests/beamish/test_source_roots.py``), and the
errors it receives must not carry host file paths: a Python function that raises hands
Lua an error whose ``err:stack()`` names the function, not the Python traceback.
"""

import re
import textwrap
from pathlib import Path

import pytest

from beamish import App, Error, ErrorKind

# An absolute POSIX path with at least two parts (/work/..., /usr/lib/...), or a
# Windows drive path; what a Python traceback line is made of.
ABSOLUTE = re.compile(r"(?<![\w.])(/[\w.\-]+){2,}|[A-Za-z]:\\")

APP = """
namespace: t
entries:
  - {name: procs, kind: process.host}
  - {name: boom, kind: function.py, handler: 'pycode:boom'}
  - {name: crash, kind: process.py, handler: 'pycode:crash'}
  - {name: relay, kind: function.py, handler: 'pycode:relay'}
  - name: main
    kind: process.lua
    source: file://lua/main.lua
    modules: [funcs]
  - name: via_future
    kind: process.lua
    source: file://lua/main.lua
    method: via_future
    modules: [funcs]
  - name: via_relay
    kind: process.lua
    source: file://lua/main.lua
    method: via_relay
    modules: [funcs]
  - name: via_exec
    kind: process.lua
    source: file://lua/main.lua
    method: via_exec
    modules: [funcs]
"""

PYCODE = """
def boom(x):
    helper = {"a": 1}
    return helper[x]  # KeyError, raised deep in host code


async def crash(ctx):
    raise RuntimeError("crashed")


async def relay():
    from beamish import current_context

    return await current_context().exec("t:crash", host="t:procs")
"""

MAIN_LUA = """
local funcs = require("funcs")

local function report(err)
  return {kind = err:kind(), message = err:message(), stack = err:stack() or "",
          text = tostring(err)}
end

local function main()
  local value, err = funcs.call("t:boom", "missing")
  if value ~= nil then return {unexpected = value} end
  return report(err)
end

local function via_future()
  local f = funcs.async("t:boom", "missing")
  local payload = f:response():receive()
  local err = f:error()
  return report(err)
end

local function via_relay()
  local value, err = funcs.call("t:relay")
  if value ~= nil then return {unexpected = value} end
  return report(err)
end

local function via_exec()
  local value, err = process.exec("t:crash", "t:procs")
  if err == nil then return {unexpected = value} end
  return report(err)
end

return {main = main, via_future = via_future, via_relay = via_relay, via_exec = via_exec}
"""


@pytest.fixture
def app_dir(tmp_path: Path) -> Path:
    (tmp_path / "lua").mkdir()
    (tmp_path / "app.yaml").write_text(textwrap.dedent(APP))
    (tmp_path / "pycode.py").write_text(textwrap.dedent(PYCODE))
    (tmp_path / "lua" / "main.lua").write_text(textwrap.dedent(MAIN_LUA))
    return tmp_path


def assert_no_host_paths(text: str, app_dir: Path) -> None:
    assert not ABSOLUTE.search(text), text
    for part in (str(app_dir), str(Path(__file__).resolve().parents[2]), "site-packages"):
        assert part not in text, text


async def test_a_python_function_error_shows_lua_its_id_but_no_host_traceback(app_dir):
    async with App(app_dir, shutdown_timeout=2) as app:
        seen = await app.run_entry("t:main")
    assert seen["kind"] == ErrorKind.INTERNAL.value
    assert seen["message"] == "KeyError: 'missing'"
    assert seen["stack"] == "[python]: in function 't:boom'"
    for text in seen.values():
        assert_no_host_paths(text, app_dir)


async def test_the_same_holds_for_a_future(app_dir):
    async with App(app_dir, shutdown_timeout=2) as app:
        seen = await app.run_entry("t:via_future")
    assert seen["message"] == "KeyError: 'missing'"
    assert seen["stack"] == "[python]: in function 't:boom'"
    assert_no_host_paths(seen["stack"], app_dir)


async def test_a_crash_a_python_function_relays_keeps_its_traceback_from_lua(app_dir):
    # The ProcessExit carries the child's host traceback; it must stay host-only.
    async with App(app_dir, shutdown_timeout=2) as app:
        seen = await app.run_entry("t:via_relay")
    assert "RuntimeError: crashed" in seen["message"]
    assert seen["stack"] == "[python]: in function 't:relay'"
    assert_no_host_paths(seen["stack"], app_dir)


async def test_the_python_side_keeps_the_full_traceback(app_dir):
    async with App(app_dir, shutdown_timeout=2) as app:
        with pytest.raises(Error) as info:
            await app.run_entry("t:boom", ["missing"])
    err = info.value
    assert err.has_host_stack
    assert "pycode.py" in err.stack and "return helper[x]" in err.stack
    assert err.script_stack is None
    assert err.for_script("x").stack == "x"


async def test_a_crashed_python_process_seen_from_lua_has_no_host_traceback(app_dir):
    async with App(app_dir, shutdown_timeout=2) as app:
        seen = await app.run_entry("t:via_exec")
    assert "RuntimeError: crashed" in seen["message"]
    assert_no_host_paths(seen["stack"], app_dir)


async def test_a_lua_error_stack_names_app_files_relative_to_the_app(tmp_path):
    (tmp_path / "app.yaml").write_text(
        "namespace: t\nentries:\n"
        "  - {name: procs, kind: process.host}\n"
        "  - {name: fail, kind: process.lua, source: file://lua/fail.lua}\n"
        "  - {name: main, kind: process.lua, source: file://lua/fail.lua, method: catch}\n"
    )
    (tmp_path / "lua").mkdir()
    (tmp_path / "lua" / "fail.lua").write_text(
        "local function main() error('nope') end\n"
        "local function catch()\n"
        "  local ok, err = pcall(main)\n"
        "  return {msg = tostring(err)}\n"
        "end\n"
        "return {main = main, catch = catch}\n"
    )
    async with App(tmp_path, shutdown_timeout=2) as app:
        seen = await app.run_entry("t:main")
        with pytest.raises(Error) as info:
            await app.run_entry("t:fail")
    assert seen["msg"].startswith("lua/fail.lua:1: nope")
    stack = info.value.stack
    assert "lua/fail.lua:1:" in stack
    assert_no_host_paths(stack, tmp_path)


async def test_a_source_under_an_extra_root_is_named_by_that_root_only(tmp_path):
    app_dir, shared = tmp_path / "app", tmp_path / "deep" / "shared"
    app_dir.mkdir()
    shared.mkdir(parents=True)
    (shared / "lib.lua").write_text(
        "return {main = function() local ok, err = pcall(error, 'x', 1) error('from shared') end}\n"
    )
    (app_dir / "app.yaml").write_text(
        "namespace: t\nentries:\n"
        "  - {name: procs, kind: process.host}\n"
        f"  - {{name: m, kind: process.lua, source: 'file://{shared / 'lib.lua'}'}}\n"
    )
    async with App(app_dir, source_roots=[shared], shutdown_timeout=2) as app:
        with pytest.raises(Error) as info:
            await app.run_entry("t:m")
    assert "shared/lib.lua:1: from shared" in info.value.message
    assert_no_host_paths(info.value.message + (info.value.stack or ""), tmp_path)
    assert "deep" not in info.value.message
