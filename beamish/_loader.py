"""The YAML loader: a directory of definition files → a :class:`Registry`.

Rules (Wippy's):

* every ``*.yaml``/``*.yml`` under the directory is read, recursively (hidden folders
  and ``.beamish/`` skipped), in sorted order so loading is deterministic;
* a definition file has ``namespace:`` and ``entries:`` (a list); a file with neither
  is not a definition file and is ignored; a file with one but not the other is an error;
* entry fields sit at the root of each entry: ``name``, ``kind``, ``meta``; every other
  field goes to ``data``;
* nothing is started here: loading only parses and checks shape. Kind-specific checks
  run next, in :mod:`beamish._kinds`, before anything starts;
* every entry gets the folders its ``file://`` fields may point into: the app directory
  first, then the ``source_roots`` the caller allowed (all resolved, symlinks followed).
  :meth:`Entry.source_path` refuses anything else (see :mod:`beamish._registry`).

Every error is a :class:`LoadError` naming the file (and line, for YAML syntax errors)
and the entry, and saying what to fix. Loading is all-or-nothing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from beamish.actors import Entry, LoadError

from ._registry import Registry

__all__ = ["load_directory", "load_file", "python_entry", "resolve_roots"]

_NAME = re.compile(r"^[A-Za-z0-9_.\-]+$")
_NAMESPACE = re.compile(r"^[A-Za-z0-9_\-]+(\.[A-Za-z0-9_\-]+)*$")


def load_directory(directory: str | Path, *, source_roots: Iterable[str | Path] = ()) -> Registry:
    """Load every definition file under ``directory``.

    ``file://`` fields of the entries may point into ``directory`` and, in addition, into
    the folders in ``source_roots`` (an explicit allowance; nothing else is reachable).
    """
    root = Path(directory)
    if not root.is_dir():
        raise LoadError(f"app directory not found: {root}; pass a folder with YAML entries")
    roots = resolve_roots(root, source_roots)
    registry = Registry()
    files = sorted(
        p
        for p in root.rglob("*")
        if p.suffix in (".yaml", ".yml")
        and p.is_file()
        and not any(part.startswith(".") for part in p.relative_to(root).parts[:-1])
    )
    for path in files:
        for entry in load_file(path, roots=roots):
            registry.add(entry)
    if not len(registry):
        raise LoadError(
            f"no entries found under {root}: add a YAML file with 'namespace:' and 'entries:'"
        )
    return registry


def resolve_roots(app_dir: str | Path, source_roots: Iterable[str | Path] = ()) -> tuple[Path, ...]:
    """The app directory and the allowed extra source roots, resolved (app first)."""
    roots = [Path(app_dir).resolve()]
    for extra in source_roots:
        folder = Path(extra).expanduser().resolve()
        if not folder.is_dir():
            raise LoadError(
                f"source root {str(extra)!r} is not a directory ({folder}); pass an existing "
                "folder to --source-root / source_roots"
            )
        if folder not in roots:
            roots.append(folder)
    return tuple(roots)


def load_file(path: Path, *, roots: tuple[Path, ...] = ()) -> list[Entry]:
    """Parse one YAML file; ``[]`` when it is not a definition file.

    ``roots`` (resolved folders, app directory first) confine the entries' ``file://``
    fields; empty means the YAML file's own folder.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise LoadError(f"{path}: cannot read: {exc}") from exc
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        problem = getattr(exc, "problem", None) or str(exc)
        raise LoadError(f"{where}: malformed YAML: {problem}") from exc
    if not isinstance(doc, dict) or ("namespace" not in doc and "entries" not in doc):
        return []
    ns = doc.get("namespace")
    if not isinstance(ns, str) or not _NAMESPACE.match(ns):
        raise LoadError(f"{path}: 'namespace' must be a dotted name like 'app.orders', got {ns!r}")
    entries = doc.get("entries")
    if entries is None and "name" in doc and "kind" in doc:
        entries = [{k: v for k, v in doc.items() if k not in ("namespace", "version")}]
    if not isinstance(entries, list):
        raise LoadError(
            f"{path}: 'entries' must be a list of entries, got {type(entries).__name__}"
        )
    return [_entry(path, ns, i, raw, roots) for i, raw in enumerate(entries)]


def _entry(path: Path, ns: str, index: int, raw: Any, roots: tuple[Path, ...]) -> Entry:
    if not isinstance(raw, dict):
        raise LoadError(f"{path}: entry #{index + 1} must be a mapping with 'name' and 'kind'")
    name, kind = raw.get("name"), raw.get("kind")
    label = f"{path}: entry #{index + 1}" + (f" ({name!r})" if name else "")
    if not isinstance(name, str) or not _NAME.match(name):
        raise LoadError(f"{label}: 'name' must be a word like 'worker' (no ':'), got {name!r}")
    if not isinstance(kind, str) or not kind:
        raise LoadError(f"{label}: missing 'kind' (e.g. process.lua, function.py, process.host)")
    meta = raw.get("meta") or {}
    if not isinstance(meta, dict):
        raise LoadError(f"{label}: 'meta' must be a mapping")
    data = {k: v for k, v in raw.items() if k not in ("name", "kind", "meta")}
    return Entry(ns, name, kind, meta, data, path.resolve(), roots)


def python_entry(
    entry_id: str,
    kind: str,
    fields: dict[str, Any],
    *,
    meta: dict[str, Any] | None = None,
    roots: tuple[Path, ...] = (),
) -> Entry:
    """An entry declared in Python (``App.add``), checked as the YAML loader checks one.

    ``entry_id`` is ``"namespace:name"``; ``fields`` are what YAML would put beside
    ``name`` and ``kind`` (``handler`` may be the callable itself). Relative paths
    resolve from the app directory (the first of ``roots``). Raises :class:`LoadError`.
    """
    if not isinstance(entry_id, str) or entry_id.count(":") != 1:
        raise LoadError(f"entry ID must be 'namespace:name', got {entry_id!r}")
    ns, name = entry_id.split(":")
    if not _NAMESPACE.match(ns) or not _NAME.match(name):
        raise LoadError(
            f"entry ID {entry_id!r}: the namespace is dotted words ('app.orders') and the "
            "name one word ('worker')"
        )
    if not isinstance(kind, str) or not kind:
        raise LoadError(f"entry {entry_id!r}: missing kind (e.g. function.py, process.host)")
    if meta is not None and not isinstance(meta, dict):
        raise LoadError(f"entry {entry_id!r}: 'meta' must be a mapping")
    entry = Entry(ns, name, kind, dict(meta or {}), dict(fields), None, roots)
    return entry
