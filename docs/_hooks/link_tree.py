"""MkDocs hooks: let griffe (mkdocstrings' loader) see beamish as it installs, and show
the docstrings' reST roles as plain code.

beamish's subpackages live beside ``beamish/`` (``[tool.setuptools.package-dir]`` maps
``beamish.actors`` to ``actors/`` ...). Python imports them through the editable
install's finder, but griffe reads packages from folders and finds ``beamish/`` alone,
so ``::: beamish.actors`` would fail. Before each build this hook fills a temporary
folder with links giving the installed layout (``beamish/__init__.py``,
``beamish/actors/_node.py`` ... each a link to its source file), built from
``pyproject.toml``'s ``packages`` and ``package-dir``, and puts that folder first in the
python handler's ``paths``. The folder is removed when the build ends. (The same layout
is what ``tests/test_architecture.py --link-tree DIR`` builds for the import linter.)

The docstrings are written for ``pydoc`` and Sphinx-style readers: ``:class:`Node```
renders in Markdown as the text ``:class:`` before the code ``Node``. ``on_page_content``
drops the role (and a leading ``~``), leaving the code.
"""

from __future__ import annotations

import re
import shutil
import tempfile
import tomllib
from pathlib import Path
from typing import Any

from mkdocs.plugins import event_priority

ROOT = Path(__file__).resolve().parents[2]
_trees: list[Path] = []


def _package_folder(package: str, package_dir: dict[str, str]) -> Path:
    """The source folder of ``package`` by setuptools' rule: the longest mapped prefix."""
    parts = package.split(".")
    for i in range(len(parts), -1, -1):
        prefix = ".".join(parts[:i])
        if prefix in package_dir:
            return Path(package_dir[prefix], *parts[i:])
    return Path(*parts)


def link_tree(root: Path, into: Path) -> Path:
    """Fill ``into`` with links to every module of every package, at its import path."""
    config = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    setuptools = config["tool"]["setuptools"]
    package_dir: dict[str, str] = setuptools.get("package-dir", {})
    for package in sorted(setuptools["packages"]):
        source = root / _package_folder(package, package_dir)
        target = into.joinpath(*package.split("."))
        target.mkdir(parents=True, exist_ok=True)
        for module in sorted(source.glob("*.py")):
            (target / module.name).symlink_to(module)
    return into


@event_priority(100)  # before mkdocstrings creates its handler (it reads ``paths`` then)
def on_config(config: Any) -> Any:
    """Build a fresh tree and make it the first place mkdocstrings looks for beamish."""
    _cleanup()
    tree = link_tree(ROOT, Path(tempfile.mkdtemp(prefix="beamish-docs-")))
    _trees.append(tree)
    plugin = config.plugins["mkdocstrings"]
    python = plugin.config.handlers.setdefault("python", {})
    python["paths"] = [str(tree), *[p for p in python.get("paths", []) if "beamish-docs-" not in p]]
    return config


_ROLE = re.compile(r":(?:class|func|meth|attr|data|mod|exc|obj|const):(<code>)~?")


def on_page_content(html: str, **kwargs: Any) -> str:
    """``:class:<code>Node</code>`` -> ``<code>Node</code>`` in the rendered reference."""
    return _ROLE.sub(r"\1", html)


def _cleanup() -> None:
    while _trees:
        shutil.rmtree(_trees.pop(), ignore_errors=True)


def on_shutdown() -> None:
    _cleanup()
