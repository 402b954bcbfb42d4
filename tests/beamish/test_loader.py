"""The YAML loader and kind validation: bad input is a clear error naming file and entry."""

import textwrap
from pathlib import Path

import pytest

from beamish import App, LoadError, load_directory


def write(tmp: Path, name: str, text: str) -> Path:
    path = tmp / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


def test_entries_get_ids_meta_data_and_their_file(tmp_path):
    write(
        tmp_path,
        "sub/app.yaml",
        """
        namespace: app.math
        entries:
          - name: add
            kind: function.py
            meta: {title: Add}
            handler: m:add
        """,
    )
    reg = load_directory(tmp_path)
    e = reg.get("app.math:add")
    assert (e.kind, e.meta, e.data) == ("function.py", {"title": "Add"}, {"handler": "m:add"})
    assert e.file == (tmp_path / "sub/app.yaml").resolve()
    assert e.ref("other") == "app.math:other" and e.ref("x:y") == "x:y"


def test_files_without_namespace_and_entries_are_ignored(tmp_path):
    write(tmp_path, "config.yaml", "log_level: debug\n")
    write(tmp_path, "a.yml", "namespace: a\nentries:\n  - {name: h, kind: process.host}\n")
    write(tmp_path, ".hidden/b.yaml", "namespace: b\nentries: [{name: h, kind: process.host}]\n")
    assert [e.id for e in load_directory(tmp_path)] == ["a:h"]


def test_malformed_yaml_names_file_and_line(tmp_path):
    write(tmp_path, "bad.yaml", "namespace: a\nentries:\n  - name: x\n    kind: [unclosed\n")
    with pytest.raises(LoadError, match=r"bad\.yaml:\d+:\d+: malformed YAML"):
        load_directory(tmp_path)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("namespace: 'bad ns'\nentries: []\n", "'namespace' must be a dotted name"),
        ("namespace: a\nentries: {x: 1}\n", "'entries' must be a list"),
        ("entries: []\n", "'namespace' must be"),
        ("namespace: a\nentries: [42]\n", "entry #1 must be a mapping"),
        ("namespace: a\nentries: [{kind: process.host}]\n", "'name' must be a word"),
        ("namespace: a\nentries: [{name: 'a:b', kind: process.host}]\n", "'name' must be a word"),
        ("namespace: a\nentries: [{name: x}]\n", r"entry #1 \('x'\): missing 'kind'"),
        ("namespace: a\nentries: [{name: x, kind: k, meta: 3}]\n", "'meta' must be a mapping"),
    ],
)
def test_shape_errors_name_the_file(tmp_path, text, message):
    write(tmp_path, "app.yaml", text)
    with pytest.raises(LoadError, match=message) as info:
        load_directory(tmp_path)
    assert "app.yaml" in str(info.value)


def test_duplicate_ids_name_both_files(tmp_path):
    write(tmp_path, "one.yaml", "namespace: a\nentries: [{name: h, kind: process.host}]\n")
    write(tmp_path, "two.yaml", "namespace: a\nentries: [{name: h, kind: process.host}]\n")
    with pytest.raises(LoadError, match=r"duplicate entry ID 'a:h'.*one\.yaml.*two\.yaml"):
        load_directory(tmp_path)


def test_empty_or_missing_directory(tmp_path):
    with pytest.raises(LoadError, match="no entries found"):
        load_directory(tmp_path)
    with pytest.raises(LoadError, match="app directory not found"):
        load_directory(tmp_path / "nope")


def test_unknown_kind_names_the_entry_and_lists_known_kinds(tmp_path):
    write(tmp_path, "app.yaml", "namespace: a\nentries: [{name: x, kind: process.rust}]\n")
    with pytest.raises(
        LoadError, match=r"entry 'a:x' \(.*app\.yaml\): unknown kind 'process\.rust'"
    ):
        App(tmp_path)


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("{name: f, kind: function.py}", "'handler' must be 'package.module:callable'"),
        (
            "{name: f, kind: function.py, handler: 'nosuchmod:f'}",
            "cannot import module 'nosuchmod'",
        ),
        ("{name: f, kind: function.py, handler: 'lcode:missing'}", "has no attribute 'missing'"),
        ("{name: p, kind: process.py, handler: 'lcode:sync_body'}", "must be 'async def body"),
        ("{name: h, kind: process.host, host: 3}", "'host' must be a mapping"),
    ],
)
def test_python_kinds_are_validated_before_anything_starts(tmp_path, entry, message):
    write(tmp_path, "lcode.py", "def sync_body(ctx):\n    return 1\n")
    write(tmp_path, "app.yaml", f"namespace: a\nentries:\n  - {entry}\n")
    with pytest.raises(LoadError, match=message):
        App(tmp_path)


def test_an_unknown_key_is_a_warning_naming_the_closest_known_one(tmp_path, caplog):
    import logging

    from beamish import App

    (tmp_path / "mod.py").write_text("def add(a, b):\n    return a + b\n")
    (tmp_path / "app.yaml").write_text(
        "namespace: app\n"
        "entries:\n"
        '  - { name: add, kind: function.py, handler: "mod:add", handlr: "mod:add" }\n'
    )
    with caplog.at_level(logging.WARNING, logger="beamish"):
        app = App(tmp_path)
    assert "app:add" in app.registry  # still loads, as Wippy ignores unknown keys
    (warning,) = [r for r in caplog.records if "unknown key" in r.getMessage()]
    text = warning.getMessage()
    assert "'handlr'" in text and "did you mean 'handler'?" in text
    assert "app.yaml" in text


@pytest.mark.parametrize(
    ("entry", "typo", "hint"),
    [
        ("{name: f, kind: function.lua, source: file://f.lua, method: main, modulse: [json]}",
         "modulse", "modules"),
        ("{name: p, kind: process.lua, source: file://f.lua, mehtod: main}", "mehtod", "method"),
        ("{name: l, kind: library.lua, source: file://f.lua, import: {}}", "import", "imports"),
        ("{name: h, kind: process.host, limts: {}}", "limts", "limits"),
        ("{name: c, kind: temporal.client, adress: embedded}", "adress", "address"),
        ("{name: w, kind: temporal.worker, client: app:c, task_queue: q, worker_opts: {}}",
         "worker_opts", "worker_options"),
    ],
)
def test_unknown_keys_are_reported_for_every_kind_that_lists_its_fields(
    tmp_path, caplog, entry, typo, hint
):
    import logging

    from beamish import App

    (tmp_path / "f.lua").write_text("return {main = function() return 1 end}\n")
    extra = "  - {name: c, kind: temporal.client}\n" if "temporal.worker" in entry else ""
    (tmp_path / "app.yaml").write_text(f"namespace: app\nentries:\n  - {entry}\n{extra}")
    with caplog.at_level(logging.WARNING, logger="beamish"):
        App(tmp_path)
    (warning,) = [r.getMessage() for r in caplog.records if "unknown key" in r.getMessage()]
    assert f"unknown key {typo!r}" in warning and f"did you mean {hint!r}?" in warning


def test_the_keys_wippy_apps_use_are_not_reported(tmp_path, caplog):
    import logging

    from beamish import App

    (tmp_path / "f.lua").write_text("return {main = function() return 1 end}\n")
    (tmp_path / "app.yaml").write_text(
        "namespace: app\nentries:\n"
        "  - {name: f, kind: function.lua, source: file://f.lua, method: main, modules: [],"
        " imports: {}, pool: {size: 2}, security: {actor: {id: x}}}\n"
        "  - {name: p, kind: process.lua, source: file://f.lua, method: main, host: app:h}\n"
        "  - {name: h, kind: process.host, host: {workers: 2}, lifecycle: {auto_start: true}}\n"
    )
    with caplog.at_level(logging.WARNING, logger="beamish"):
        App(tmp_path)
    assert not [r for r in caplog.records if "unknown key" in r.getMessage()]
