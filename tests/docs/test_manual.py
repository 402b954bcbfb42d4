"""The manual (``docs/``) is tested: its examples run, its links resolve, it builds.

What the pages may contain, and what each test does with it:

* A fenced ``python`` block is a program: each runs as its own test
  (``test_python_block[guide/processes.md:42]``), in a fresh interpreter (the venv's),
  with a fresh temporary folder as the working directory and the venv's ``bin`` first on
  ``PATH`` (so ``beamish`` is the venv's), under a timeout. The block
  checks its own results (``assert``, or ``print`` compared with an output block): a
  broken example fails its test.
* ``<!-- file: APP/PATH -->`` on the line before a fenced block makes the block a file
  of an example app instead (``APP/PATH`` under the page's temporary folder; ``python``
  blocks marked so are not run on their own). Every file block of a page is written
  before any of that page's programs or commands run, so a program may load the app
  (``App("shop")``).
* ``<!-- output -->`` before a fenced block after a ``python`` block: that program's
  stdout must be exactly this text.
* A ``console`` block whose lines start with ``$ beamish run APP ...`` runs those
  commands (the venv's ``beamish``, ``APP`` being an app of the page) and compares: the
  lines after a command are its stdout (a line of JSON compares as data: a Lua table's
  keys come out in no fixed order), except lines starting with ``error: ``, which must
  appear in its stderr (``...`` in them stands for any text, such as a temporary path)
  and then the command must fail.
* ``<!-- no-run -->`` before a fenced ``python``/``lua``/``yaml``/``console`` block says it
  is deliberately not run (a fragment, or a shape only). Every other ``lua`` and ``yaml``
  block must be a file of an app, so no example goes untested by accident; the number of
  no-run blocks is capped (:data:`MAX_NO_RUN`).

Also here: every relative link in ``README.md`` and ``docs/`` resolves to a file of the
repository (nothing points outside it), and ``mkdocs build --strict`` passes (skipped,
saying why, when mkdocs is not installed: ``pip install -e '.[docs]'``).
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
PYTHON = sys.executable
BEAMISH = str(Path(sys.executable).with_name("beamish"))
#: Seconds one program or command may take (some start an embedded Temporal server).
TIMEOUT = 180
#: Blocks marked ``<!-- no-run -->`` in the whole manual, at most.
MAX_NO_RUN = 5

_FENCE = re.compile(r"^(\s*)```([\w+-]*)\s*$")
_MARK = re.compile(r"^\s*<!--\s*(no-run|output|file:\s*(\S+))\s*-->\s*$")


@dataclass
class Block:
    page: Path
    line: int  # 1-based line of the opening fence
    lang: str
    text: str
    mark: str | None = None  # "no-run", "output" or "file"
    file: str | None = None  # APP/PATH for a file block
    output: Block | None = None  # the output block following a python block

    @property
    def where(self) -> str:
        return f"{self.page.relative_to(DOCS)}:{self.line}"


@dataclass
class Page:
    path: Path
    blocks: list[Block] = field(default_factory=list)

    @property
    def files(self) -> list[Block]:
        return [b for b in self.blocks if b.mark == "file"]


def _parse(path: Path) -> Page:
    page = Page(path)
    lines = path.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if not m or not m.group(2):
            i += 1
            continue
        indent, lang = m.group(1), m.group(2)
        j = i + 1
        while j < len(lines) and lines[j].strip() != "```":
            j += 1
        body = [ln[len(indent) :] if ln.startswith(indent) else ln for ln in lines[i + 1 : j]]
        k = i - 1
        while k >= 0 and not lines[k].strip():
            k -= 1
        mark = _MARK.match(lines[k]) if k >= 0 else None
        block = Block(path, i + 1, lang, "\n".join(body) + "\n")
        if mark:
            block.mark = "file" if mark.group(2) else mark.group(1)
            block.file = mark.group(2)
        if block.mark == "output":
            prev = next((b for b in reversed(page.blocks) if b.lang == "python"), None)
            assert prev is not None and prev.output is None, (
                f"{block.where}: an output block must follow a python block"
            )
            prev.output = block
        page.blocks.append(block)
        i = j + 1
    return page


def _pages() -> list[Page]:
    return [_parse(p) for p in sorted(DOCS.rglob("*.md"))]


PAGES = _pages()
PYTHON_BLOCKS = [
    b for p in PAGES for b in p.blocks if b.lang == "python" and b.mark is None
]
CONSOLE_BLOCKS = [
    b
    for p in PAGES
    for b in p.blocks
    if b.lang == "console" and b.mark != "no-run" and b.text.lstrip().startswith("$ beamish")
]


def _page_of(block: Block) -> Page:
    return next(p for p in PAGES if p.path == block.page)


def _write_apps(page: Page, into: Path) -> None:
    for b in page.files:
        assert b.file is not None
        target = (into / b.file).resolve()
        assert target.is_relative_to(into.resolve()), f"{b.where}: file outside the app"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(b.text, encoding="utf-8")


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BEAMISH_")}
    env["PYTHONUNBUFFERED"] = "1"
    env.pop("PYTHONPATH", None)
    # examples run `beamish` and `python` as a reader would, from the venv
    env["PATH"] = os.pathsep.join([str(Path(PYTHON).parent), env.get("PATH", "")])
    return env


# -- the examples ----------------------------------------------------------------------


def _run(argv: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run one example command in ``cwd``, as a user would, with no stdin."""
    return subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=TIMEOUT,
                          env=_env(), stdin=subprocess.DEVNULL)


@pytest.mark.parametrize("block", PYTHON_BLOCKS, ids=[b.where for b in PYTHON_BLOCKS])
def test_python_block(block: Block, tmp_path: Path) -> None:
    _write_apps(_page_of(block), tmp_path)
    script = tmp_path / "_snippet.py"
    script.write_text(block.text, encoding="utf-8")
    proc = _run([PYTHON, str(script)], tmp_path)
    assert proc.returncode == 0, (
        f"{block.where}: the example failed (exit {proc.returncode})\n"
        f"--- stdout\n{proc.stdout}--- stderr\n{proc.stderr}"
    )
    if block.output is not None:
        assert proc.stdout == block.output.text, (
            f"{block.where}: printed\n{proc.stdout}\nbut the page shows "
            f"({block.output.where})\n{block.output.text}"
        )


def _commands(block: Block) -> list[tuple[list[str], list[str]]]:
    """The ``$ beamish ...`` commands of a console block, each with the lines after it."""
    out: list[tuple[list[str], list[str]]] = []
    for line in block.text.splitlines():
        if line.startswith("$ "):
            out.append((shlex.split(line[2:]), []))
        elif out:
            out[-1][1].append(line)
        elif line.strip():
            raise AssertionError(f"{block.where}: text before the first '$ ' command")
    return out


def _value(line: str) -> object:
    """A printed line as a value: JSON compares as data (a Lua table's keys come out in
    no fixed order), anything else as text."""
    try:
        return ("json", json.loads(line))
    except ValueError:
        return ("text", line)


@pytest.mark.parametrize("block", CONSOLE_BLOCKS, ids=[b.where for b in CONSOLE_BLOCKS])
def test_console_block(block: Block, tmp_path: Path) -> None:
    page = _page_of(block)
    _write_apps(page, tmp_path)
    apps = {b.file.split("/")[0] for b in page.files if b.file}
    for argv, shown in _commands(block):
        assert argv[:2] == ["beamish", "run"], f"{block.where}: only 'beamish run' is run"
        app = argv[2]
        assert app in apps, f"{block.where}: no app {app!r} on this page (file: blocks)"
        proc = _run([BEAMISH, *argv[1:]], tmp_path)
        errors = [ln for ln in shown if ln.startswith("error: ")]
        stdout = [ln for ln in shown if not ln.startswith("error: ")]
        report = f"--- stdout\n{proc.stdout}--- stderr\n{proc.stderr}"
        if errors:
            assert proc.returncode != 0, f"{block.where}: {argv} should fail\n{report}"
            for ln in errors:  # "..." in a shown error line stands for any text
                pattern = ".*".join(re.escape(part) for part in ln.split("..."))
                assert re.search(pattern, proc.stderr), (
                    f"{block.where}: {ln!r} not in stderr\n{report}"
                )
        else:
            assert proc.returncode == 0, f"{block.where}: {argv} failed\n{report}"
        assert [_value(ln) for ln in proc.stdout.splitlines()] == [_value(ln) for ln in stdout], (
            f"{block.where}: {shlex.join(argv)} printed something else\n{report}"
        )


def test_every_lua_and_yaml_example_is_run_or_marked() -> None:
    loose = [
        b.where
        for p in PAGES
        for b in p.blocks
        if b.lang in {"lua", "yaml"} and b.mark not in {"file", "no-run"}
    ]
    assert not loose, (
        "these lua/yaml blocks are neither a file of an example app (<!-- file: APP/PATH -->)"
        f" nor marked <!-- no-run -->: {loose}"
    )


def test_apps_are_used_and_no_run_blocks_are_few() -> None:
    no_run = [b.where for p in PAGES for b in p.blocks if b.mark == "no-run"]
    assert len(no_run) <= MAX_NO_RUN, f"{len(no_run)} no-run blocks (max {MAX_NO_RUN}): {no_run}"
    for page in PAGES:
        apps = {b.file.split("/")[0] for b in page.files if b.file}
        runners = [b.text for b in page.blocks if b.lang in {"python", "console"} and not b.mark]
        for app in apps:
            assert any(app in text for text in runners), (
                f"{page.path.relative_to(ROOT)}: app {app!r} is written but nothing runs it"
            )


def test_the_manual_has_examples() -> None:
    assert len(PYTHON_BLOCKS) >= 20 and len(CONSOLE_BLOCKS) >= 5


# -- links -----------------------------------------------------------------------------

_LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
_REF_DEF = re.compile(r"^\s*\[[^\]]+\]:\s*(\S+)", re.M)


def _shipped() -> set[Path]:
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split("\n")
    return {(ROOT / f).resolve() for f in listed if f}


def _links(path: Path) -> list[str]:
    text = path.read_text(encoding="utf-8")
    text = re.sub(r"```.*?```", "", text, flags=re.S)  # not inside code blocks
    text = re.sub(r"`[^`\n]*`", "", text)
    return _LINK.findall(text) + _REF_DEF.findall(text)


def test_relative_links_resolve_to_files_of_the_repository() -> None:
    shipped = _shipped()
    bad: list[str] = []
    for md in [ROOT / "README.md", *sorted(DOCS.rglob("*.md"))]:
        for link in _links(md):
            if re.match(r"^[a-z][a-z0-9+.-]*:", link) or link.startswith("#"):
                continue  # an URL (http:, mailto:) or an anchor on the same page
            target = (md.parent / link.split("#")[0]).resolve()
            if not target.is_relative_to(ROOT) or target not in shipped:
                bad.append(f"{md.relative_to(ROOT)}: {link}")
    assert not bad, f"links to files that are not in the repository: {bad}"


def test_nothing_shipped_refers_outside_the_repository() -> None:
    for md in [ROOT / "README.md", ROOT / "mkdocs.yml", *sorted(DOCS.rglob("*"))]:
        if md.is_file():
            assert "../shared/" not in md.read_text(encoding="utf-8"), md


# -- the build -------------------------------------------------------------------------


def test_the_manual_builds_in_strict_mode(tmp_path: Path) -> None:
    if importlib.util.find_spec("mkdocs") is None:
        pytest.skip("mkdocs is not installed: pip install -e '.[docs]' to build the manual")
    mkdocs = Path(sys.executable).with_name("mkdocs")
    proc = subprocess.run(
        [str(mkdocs), "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env={**_env(), "NO_MKDOCS_2_WARNING": "1"},
    )
    assert proc.returncode == 0, f"mkdocs build --strict failed\n{proc.stdout}\n{proc.stderr}"
    assert (tmp_path / "site" / "index.html").is_file()
    assert (tmp_path / "site" / "reference" / "actors" / "index.html").is_file()
