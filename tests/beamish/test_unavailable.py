"""Entries beamish cannot run: reported once at boot, left out, and failing with their
reason when used; strict mode keeps the fail-fast load."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import trio
from hypothesis import given
from hypothesis import strategies as st

from beamish import App, Error, ErrorKind, LoadError
from beamish._availability import close_kind
from beamish._kinds import default_handlers

APP = """
namespace: app
entries:
  - { name: gateway, kind: http.service, addr: ":8085", lifecycle: { auto_start: true } }
  - { name: terminal, kind: terminal.host }
  - { name: processes, kind: process.host }
  - { name: add, kind: function.lua, source: file://add.lua, method: add }
  - { name: worker, kind: process.lua, source: file://worker.lua, method: main }
  - name: caller
    kind: process.lua
    source: file://caller.lua
    method: main
    modules: [funcs]
  - { name: web, kind: function.lua, source: file://add.lua, method: add, modules: [http] }
  - name: needs_lib
    kind: function.lua
    source: file://add.lua
    method: add
    imports: { lib: app:nolib }
  - { name: broken, kind: function.lua, source: file://broken.lua, method: run }
  - { name: broken_proc, kind: process.lua, source: file://broken.lua, method: main }
  - { name: svc, kind: process.service, process: app:broken_proc, host: app:processes }
  - { name: tui, kind: process.lua, source: file://worker.lua, method: main, host: app:terminal }
  - { name: web_lib, kind: library.lua, source: file://lib.lua, modules: [sql] }
  - name: uses_web_lib
    kind: function.lua
    source: file://add.lua
    method: add
    imports: { l: app:web_lib }
  - name: uses_chain
    kind: function.lua
    source: file://add.lua
    method: add
    imports: { f: app:uses_web_lib }
"""

LUA = {
    "add.lua": "return { add = function(a, b) return a + b end }\n",
    "worker.lua": "return { main = function(n) return n * 2 end }\n",
    "broken.lua": "local function run( return 1 end\nreturn { run = run }\n",
    "lib.lua": "return { x = 1 }\n",
    "caller.lua": textwrap.dedent(
        """
        local funcs = require("funcs")
        return { main = function(id)
          local v, err = funcs.call(id, 1, 2)
          if err then
            return { not_found = err:kind() == errors.NOT_FOUND, message = err:message() }
          end
          return { value = v }
        end }
        """
    ),
}

BAD = {
    "app:gateway": "kind 'http.service' is not supported by beamish",
    "app:terminal": "kind 'terminal.host' is not supported by beamish",
    "app:web": "unknown module 'http' in 'modules'",
    "app:needs_lib": "import 'lib' refers to 'app:nolib'",
    "app:broken": "broken.lua",
    "app:broken_proc": "broken.lua",
    "app:svc": "depends on 'app:broken_proc', which is unavailable",
    "app:tui": "depends on 'app:terminal', which is unavailable: kind 'terminal.host'",
    "app:web_lib": "unknown module 'sql' in 'modules'",
    "app:uses_web_lib": "depends on 'app:web_lib', which is unavailable: unknown module 'sql'",
    "app:uses_chain": "depends on 'app:uses_web_lib' -> 'app:web_lib', which is unavailable",
}
GOOD = {"app:processes", "app:add", "app:worker", "app:caller"}


def make_app(root: Path, yaml_text: str = APP, files: dict[str, str] | None = None) -> Path:
    (root / "app.yaml").write_text(yaml_text)
    for name, text in (LUA if files is None else files).items():
        (root / name).write_text(text)
    return root


def beamish(*args: object, **kw: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "beamish._cli", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        **kw,
    )


def run(fn):
    return trio.run(fn)


# -- boot ------------------------------------------------------------------------------


def test_boot_reports_each_unavailable_entry_once_with_file_reason_and_advice(tmp_path, caplog):
    make_app(tmp_path)
    with caplog.at_level(logging.WARNING, logger="beamish"):
        app = App(tmp_path, strict=False)
    lines = [r.getMessage() for r in caplog.records if r.name == "beamish"]
    assert set(app.unavailable) == set(BAD)
    for entry_id, reason in BAD.items():
        mine = [line for line in lines if line.startswith(f"entry {entry_id!r} (app.yaml)")]
        assert len(mine) == 1, (entry_id, lines)
        assert "is unavailable: " in mine[0] and reason in mine[0]
        assert "(use --strict to fail instead)" in mine[0]
    assert all(r.levelno == logging.WARNING for r in caplog.records if r.name == "beamish")
    assert len(lines) == len(BAD)
    gateway = next(line for line in lines if "'app:gateway'" in line)
    assert "remove it or run without it" in gateway
    assert {e.id for e in app.registry} == GOOD
    assert len(app.loaded) == len(GOOD) + len(BAD)


def test_the_good_entries_run(tmp_path):
    make_app(tmp_path)

    async def main():
        async with App(tmp_path, strict=False) as app:
            assert await app.node.call("app:add", 2, 3) == 5
            assert await app.node.exec("app:worker", 21, host="app:processes") == 42
            assert await app.run_entry("app:caller", ["app:add"]) == {"value": 3}

    run(main)


# -- using an unavailable entry ----------------------------------------------------------


@pytest.mark.parametrize("entry_id", ["app:web", "app:needs_lib", "app:broken", "app:uses_chain"])
def test_calling_an_unavailable_function_fails_with_its_reason(tmp_path, entry_id):
    make_app(tmp_path)

    async def main():
        async with App(tmp_path, strict=False) as app:
            with pytest.raises(Error) as info:
                await app.node.call(entry_id, 1, 2)
            assert info.value.kind is ErrorKind.NOT_FOUND
            assert f"entry {entry_id!r} (app.yaml) is unavailable" in info.value.message
            assert BAD[entry_id] in info.value.message
            with pytest.raises(Error, match="is unavailable") as info:
                await app.run_entry(entry_id, [1, 2])
            assert info.value.kind is ErrorKind.NOT_FOUND

    run(main)


def test_lua_funcs_call_of_an_unavailable_entry_returns_nil_err_with_the_reason(tmp_path):
    make_app(tmp_path)

    async def main():
        async with App(tmp_path, strict=False) as app:
            got = await app.run_entry("app:caller", ["app:web"])
            assert got["not_found"] is True
            assert "entry 'app:web' (app.yaml) is unavailable" in got["message"]
            assert "unknown module 'http'" in got["message"]
            missing = await app.run_entry("app:caller", ["app:never_declared"])
            assert missing["not_found"] is True
            assert "is unavailable" not in missing["message"]

    run(main)


@pytest.mark.parametrize("entry_id", ["app:broken_proc", "app:tui"])
def test_spawning_an_unavailable_process_fails_with_its_reason(tmp_path, entry_id):
    make_app(tmp_path)

    async def main():
        async with App(tmp_path, strict=False) as app:
            with pytest.raises(Error) as info:
                app.node.spawn(entry_id, host="app:processes")
            assert info.value.kind is ErrorKind.NOT_FOUND
            assert BAD[entry_id] in info.value.message
            assert app.node.hosts.get("app:terminal") is None

    run(main)


def test_unavailable_services_do_not_start_and_the_rest_does(tmp_path):
    make_app(tmp_path)

    async def main():
        async with App(tmp_path, strict=False) as app:
            assert "app:svc" not in app.registry
            with pytest.raises(Error, match="is unavailable: depends on 'app:broken_proc'"):
                app.registry.get("app:svc")

    run(main)


def test_cli_exec_of_an_unavailable_entry_exits_1_with_the_reason(tmp_path):
    make_app(tmp_path)
    out = beamish("run", tmp_path, "-x", "app:web", "1", "2")
    assert out.returncode == 1
    assert out.stdout == ""
    last = out.stderr.strip().splitlines()[-1]
    assert last.startswith("error: NotFound: entry 'app:web' (app.yaml) is unavailable")
    assert "unknown module 'http'" in last
    assert out.stderr.count("entry 'app:web' (app.yaml) is unavailable") == 2  # boot + use
    ok = beamish("run", tmp_path, "-x", "app:add", "1", "2")
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.strip() == "3"
    assert "WARNING" in ok.stderr and "'app:gateway'" in ok.stderr


# -- strict ----------------------------------------------------------------------------


def test_strict_fails_the_load_on_the_first_bad_entry_naming_file_and_entry(tmp_path):
    make_app(tmp_path)
    with pytest.raises(
        LoadError,
        match=r"^entry 'app:gateway' \(.*app\.yaml\): unknown kind "
        r"'http\.service'; known kinds: ",
    ):
        App(tmp_path, strict=True)
    with pytest.raises(LoadError, match="entry 'app:gateway'"):
        App(tmp_path)  # strict is the Python default


def test_strict_from_the_cli_the_environment_and_the_app_settings(tmp_path):
    make_app(tmp_path)
    out = beamish("run", tmp_path, "--strict", "-x", "app:add", "1", "2")
    assert out.returncode == 2
    assert "entry 'app:gateway'" in out.stderr and "app.yaml" in out.stderr
    assert out.stdout == ""
    env = {**os.environ, "BEAMISH_STRICT": "1"}
    out = beamish("run", tmp_path, "-x", "app:add", "1", "2", env=env)
    assert out.returncode == 2 and "unknown kind 'http.service'" in out.stderr
    (tmp_path / "beamish.yaml").write_text("strict: true\n")
    out = beamish("run", tmp_path, "-x", "app:add", "1", "2")
    assert out.returncode == 2 and "unknown kind 'http.service'" in out.stderr


def test_bad_app_settings_are_a_load_error(tmp_path, monkeypatch):
    make_app(tmp_path)
    (tmp_path / "beamish.yaml").write_text("strikt: true\n")
    with pytest.raises(LoadError, match=r"beamish\.yaml: unknown app setting\(s\) strikt"):
        App(tmp_path, strict=False)
    (tmp_path / "beamish.yaml").write_text("strict: maybe\n")
    with pytest.raises(LoadError, match="'strict' must be true or false"):
        App(tmp_path, strict=False)
    (tmp_path / "beamish.yaml").unlink()
    monkeypatch.setenv("BEAMISH_STRICT", "perhaps")
    with pytest.raises(LoadError, match="BEAMISH_STRICT='perhaps' is not understood"):
        App(tmp_path, strict=False)
    monkeypatch.setenv("BEAMISH_STRICT", "0")
    assert App(tmp_path, strict=False).unavailable


# -- typos -----------------------------------------------------------------------------

TYPOS = """
namespace: app
entries:
  - { name: processes, kind: process.host }
  - { name: worker, kind: proces.lua, source: file://worker.lua, method: main }
  - { name: add, kind: function.lua, source: file://add.lua, method: add, modules: [jsno] }
  - { name: svc, kind: process.service, process: app:wroker_x, host: app:processes }
  - { name: wroker, kind: process.lua, source: file://worker.lua, method: main }
"""


def test_typos_get_a_did_you_mean_hint_at_boot(tmp_path, caplog):
    make_app(tmp_path, TYPOS)
    with caplog.at_level(logging.WARNING, logger="beamish"):
        app = App(tmp_path, strict=False)
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert (
        "entry 'app:worker' (app.yaml) is unavailable: kind 'proces.lua' is not supported "
        "by beamish; did you mean 'process.lua'?; fix the misspelling" in text
    )
    assert "unknown module 'jsno' in 'modules'; did you mean 'json'?" in text
    assert "entry 'app:svc' (app.yaml) is unavailable: 'process' 'app:wroker_x' not found" in text
    assert "did you mean 'app:wroker'?" in text
    assert set(app.unavailable) == {"app:worker", "app:add", "app:svc"}


def test_typos_fail_in_strict_mode_with_the_hint(tmp_path):
    make_app(tmp_path, TYPOS)
    with pytest.raises(
        LoadError,
        match=r"entry 'app:worker' .*unknown kind 'proces\.lua'; "
        r"did you mean 'process\.lua'\?",
    ):
        App(tmp_path, strict=True)


KNOWN = sorted(default_handlers())


@given(st.sampled_from(KNOWN), st.integers(min_value=0), st.sampled_from("xz_"))
def test_a_kind_one_edit_from_a_known_one_gets_that_hint(kind, at, letter):
    i = at % (len(kind) + 1)
    typo = kind[:i] + letter + kind[i:]  # one insertion
    guess = close_kind(typo, KNOWN)
    assert guess is not None
    assert guess == kind or abs(len(guess) - len(typo)) <= 1


@pytest.mark.parametrize(
    "foreign", ["http.service", "function.wasm", "process.wasm", "exec.docker", "function.wat"]
)
def test_foreign_kinds_get_no_hint(foreign):
    assert close_kind(foreign, KNOWN) is None
