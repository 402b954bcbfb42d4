"""Sources are confined to the app: a ``file://`` path (after following symlinks) must lie
in the app directory or in a folder allowed explicitly (``--source-root``/``source_roots``).
"""

import subprocess
import sys
from pathlib import Path

import pytest

from beamish import App, Entry, LoadError, load_directory

HOST = "  - {name: procs, kind: process.host}\n"
OK_LUA = "return {main = function() return 'inside' end}\n"
OUT_LUA = "return {main = function() return 'outside' end}\n"


def beamish(*args):
    return subprocess.run(
        [sys.executable, "-m", "beamish._cli", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture
def layout(tmp_path: Path) -> tuple[Path, Path]:
    """``app/`` with ``in.lua``, and a sibling ``outside/`` with ``x.lua``."""
    app, outside = tmp_path / "app", tmp_path / "outside"
    app.mkdir()
    outside.mkdir()
    (app / "in.lua").write_text(OK_LUA)
    (outside / "x.lua").write_text(OUT_LUA)
    return app, outside


def write_app(app: Path, source: str, yaml_name: str = "app.yaml") -> Path:
    path = app / yaml_name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        f"namespace: a\nentries:\n{HOST}  - {{name: m, kind: process.lua, source: '{source}'}}\n"
    )
    return path


def escapes(app: Path, outside: Path) -> dict[str, str]:
    """Each way out of the app, as the ``source:`` value that attempts it."""
    (app / "link_out.lua").symlink_to(outside / "x.lua")
    (app / "vendor").symlink_to(outside, target_is_directory=True)
    return {
        "dotdot": "file://../outside/x.lua",
        "absolute": f"file://{outside / 'x.lua'}",
        "file_symlink_out": "file://link_out.lua",
        "dir_symlink_out": "file://vendor/x.lua",
        "etc_passwd": "file:///etc/passwd",
        "missing_outside": "file://../outside/nope.lua",
    }


@pytest.mark.parametrize(
    "how",
    [
        "dotdot",
        "absolute",
        "file_symlink_out",
        "dir_symlink_out",
        "etc_passwd",
        "missing_outside",
    ],
)
def test_every_way_out_of_the_app_is_a_load_error(layout, how):
    app, outside = layout
    source = escapes(app, outside)[how]
    yaml = write_app(app, source)
    with pytest.raises(LoadError) as info:
        App(app)
    message = str(info.value)
    assert str(yaml) in message  # the YAML file
    assert "entry 'a:m'" in message  # the entry
    assert source in message  # the offending path as written
    assert "outside the app directory" in message
    assert "--source-root" in message and "source_roots" in message  # how to allow it


def test_a_symlink_loop_is_a_load_error(layout):
    app, _ = layout
    (app / "a.lua").symlink_to(app / "b.lua")
    (app / "b.lua").symlink_to(app / "a.lua")
    write_app(app, "file://a.lua")
    with pytest.raises(LoadError, match=r"entry 'a:m'.*'source: file://a.lua' cannot be resolved"):
        App(app)


def test_symlinks_and_dotdot_that_stay_inside_the_app_are_fine(layout):
    app, _ = layout
    (app / "link_in.lua").symlink_to(app / "in.lua")
    (app / "sub").mkdir()
    (app / "sub" / "sub.yaml").write_text(
        "namespace: b\nentries:\n"
        "  - {name: up, kind: process.lua, source: 'file://../in.lua'}\n"
        "  - {name: link, kind: process.lua, source: 'file://../link_in.lua'}\n"
    )
    write_app(app, "file://link_in.lua")
    reg = App(app).registry
    assert reg.get("a:m").source_path() == (app / "in.lua").resolve()
    assert reg.get("b:up").source_path() == (app / "in.lua").resolve()
    assert reg.get("b:link").source_path() == (app / "in.lua").resolve()


async def test_an_allowed_source_root_can_be_read_including_through_a_symlink(layout):
    app, outside = layout
    (app / "link_out.lua").symlink_to(outside / "x.lua")
    write_app(app, "file://link_out.lua")
    (app / "more.yaml").write_text(
        f"namespace: b\nentries:\n  - {{name: m, kind: process.lua, source: "
        f"'file://{outside / 'x.lua'}'}}\n"
    )
    async with App(app, source_roots=[outside], shutdown_timeout=2) as running:
        assert running.source_roots == (outside.resolve(),)
        assert await running.run_entry("a:m") == "outside"
        assert await running.run_entry("b:m") == "outside"


def test_an_allowed_root_does_not_open_its_neighbours(layout, tmp_path):
    app, outside = layout
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "y.lua").write_text(OUT_LUA)
    write_app(app, "file://../other/y.lua")
    with pytest.raises(LoadError, match=r"allowed source roots .*outside"):
        App(app, source_roots=[outside])


def test_a_source_root_must_be_an_existing_folder(layout, tmp_path):
    app, _ = layout
    write_app(app, "file://in.lua")
    with pytest.raises(LoadError, match=r"source root .* is not a directory"):
        App(app, source_roots=[tmp_path / "nope"])


def test_load_directory_takes_the_same_allowance(layout):
    app, outside = layout
    write_app(app, "file://../outside/x.lua")
    entry = load_directory(app, source_roots=[outside]).get("a:m")
    assert entry.source_path() == (outside / "x.lua").resolve()
    assert entry.roots == (app.resolve(), outside.resolve())
    with pytest.raises(LoadError, match="outside the app directory"):
        load_directory(app).get("a:m").source_path()


def test_an_entry_built_by_hand_is_confined_to_its_own_folder(layout):
    app, _ = layout
    entry = Entry(
        "a", "m", "process.lua", data={"source": "file://../outside/x.lua"}, file=app / "app.yaml"
    )
    with pytest.raises(LoadError, match="outside the app directory"):
        entry.source_path()
    entry.data["source"] = "file://in.lua"
    assert entry.source_path() == (app / "in.lua").resolve()


def test_the_cli_refuses_with_exit_2_and_allows_with_source_root(layout):
    app, outside = layout
    yaml = write_app(app, "file://../outside/x.lua")
    out = beamish("run", app, "--strict", "-x", "a:m")
    assert out.returncode == 2
    assert out.stdout == ""
    assert len(out.stderr.strip().splitlines()) == 1
    assert str(yaml) in out.stderr and "'a:m'" in out.stderr
    assert "../outside/x.lua" in out.stderr and "--source-root" in out.stderr

    out = beamish("run", app, "-x", "a:m", "--source-root", outside)
    assert out.returncode == 0, out.stderr
    assert out.stdout == '"outside"\n'


def test_the_cli_source_root_is_repeatable_and_relative_to_the_cwd(layout, tmp_path):
    # a:m needs outside/, b:m needs other/: the app loads only when both are allowed.
    app, _ = layout
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "y.lua").write_text(OK_LUA)
    write_app(app, "file://../outside/x.lua")
    (app / "more.yaml").write_text(
        "namespace: b\nentries:\n  - {name: m, kind: process.lua, source: 'file://../other/y.lua'}\n"
    )
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "beamish._cli",
            "run",
            "app",
            "--source-root",
            "outside",
            "--source-root",
            "other",
            "-x",
            "b:m",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout == '"inside"\n'


def test_lenient_cli_leaves_an_escaping_entry_out_and_never_reads_the_file(layout):
    app, _outside = layout
    write_app(app, "file://../outside/x.lua")
    out = beamish("run", app, "-x", "a:m")
    assert out.returncode == 1
    assert out.stdout == ""
    last = out.stderr.strip().splitlines()[-1]
    assert last.startswith("error: NotFound: entry 'a:m' (app.yaml) is unavailable")
    assert "--source-root" in last
