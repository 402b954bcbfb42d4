"""The architecture contracts of ``pyproject.toml`` (``[tool.importlinter]``) hold.

The layers (shell above ``durable`` above ``luabridge`` above ``supervision`` above
``actors``), no private imports across packages, no import cycles: checked by the venv's
``lint-imports`` (import-linter), whose report is the failure message.

Why a link tree: grimp, under import-linter, finds a package's modules by walking the
folder of the root package, and beamish's subpackages live beside ``beamish/`` (the
``package-dir`` table maps ``beamish.actors`` to ``actors/`` ...). Linted in place it would
see the shell alone. So the linter runs in a temporary folder holding the package as it
installs: ``beamish/*.py``, ``beamish/actors/*.py`` ... linked to the sources, built from
``[tool.setuptools]`` ``packages`` and ``package-dir``, with ``pyproject.toml`` beside it.
It runs as a subprocess because grimp locates the root package through the import
system, and in this process ``beamish`` is already imported from the source folder.

As a script, ``python tests/test_architecture.py --link-tree DIR`` only builds the tree
(``.ci/run`` then runs ``lint-imports`` in it).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _package_folder(package: str, package_dir: dict[str, str]) -> Path:
    """The source folder of ``package``, by setuptools' rule: the longest mapped prefix."""
    parts = package.split(".")
    for i in range(len(parts), -1, -1):
        prefix = ".".join(parts[:i])
        if prefix in package_dir:
            return Path(package_dir[prefix], *parts[i:])
    return Path(*parts)


def link_installed_layout(root: Path, into: Path) -> Path:
    """Fill ``into`` with links giving the installed layout of the project at ``root``.

    Every package of ``[tool.setuptools] packages`` gets a folder at its import path with
    a link to each of its ``.py`` files; ``pyproject.toml`` is linked beside. Returns
    ``into``. Raises ``FileNotFoundError`` naming a package whose folder is missing.
    """
    config = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    setuptools = config["tool"]["setuptools"]
    package_dir: dict[str, str] = setuptools.get("package-dir", {})
    for package in sorted(setuptools["packages"]):
        source = root / _package_folder(package, package_dir)
        if not source.is_dir():
            raise FileNotFoundError(f"package {package!r}: folder {source} does not exist")
        target = into.joinpath(*package.split("."))
        target.mkdir(parents=True, exist_ok=True)
        for module in sorted(source.glob("*.py")):
            (target / module.name).symlink_to(module)
    (into / "pyproject.toml").symlink_to(root / "pyproject.toml")
    return into


def test_the_import_contracts_are_kept(tmp_path: Path) -> None:
    if not LINT_IMPORTS.exists():
        pytest.fail(
            f"{LINT_IMPORTS} not found: install the test extra "
            "(pip install -e '.[test]', which brings import-linter)"
        )
    tree = link_installed_layout(ROOT, tmp_path)
    proc = subprocess.run(
        [str(LINT_IMPORTS), "--no-logo", "--no-cache"],
        cwd=tree,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if proc.returncode != 0:
        pytest.fail(f"lint-imports failed:\n{proc.stdout}\n{proc.stderr}", pytrace=False)


def _main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--link-tree", type=Path, required=True, metavar="DIR",
        help="empty folder to fill with the installed layout (for lint-imports)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    link_installed_layout(ROOT, args.link_tree)
    return 0


if __name__ == "__main__":
    sys.exit(_main())
