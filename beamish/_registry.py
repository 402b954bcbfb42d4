"""The entry registry: every component of an app is an entry ``{id, kind, meta, data}``.

Wippy's model (``lua-api.md`` §2.1): an entry's ID is ``namespace:name``; YAML files
are one way to fill the registry. An :class:`Entry` remembers the file it came from so
every later error (a bad handler, a Lua syntax error, an unknown reference) can name
the file and the entry. References inside an entry may be full IDs or bare names,
resolved in the entry's own namespace by :meth:`Entry.ref`.

Files an entry points at (``source: file://x.lua`` and any other ``file://`` field read
through :meth:`Entry.source_path`) are *confined*: after following symlinks the file
must lie under one of the entry's ``roots`` — the app directory, plus the folders the
operator allowed explicitly (``beamish run --source-root DIR``, ``App(...,
source_roots=[DIR])``). Why: a Lua script is untrusted code, and which script runs is
chosen by the YAML; ``file://../../etc/x.lua``, an absolute path or a symlink inside the
app pointing out of it must not pull host files into the sandbox. A path outside is a
:class:`LoadError` naming the YAML file, the entry and the path, and saying how to allow
it. (Python ``handler:`` imports are trusted host code and are not confined.)

Invariant: ``entry.id == f"{entry.namespace}:{entry.name}"`` and IDs are unique in a
:class:`Registry`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from beamish.actors import Error, ErrorKind, LoadError

__all__ = ["Entry", "Registry"]

_HOW_TO_ALLOW = (
    "move the file into the app directory, or allow its folder explicitly with "
    "'beamish run DIR --source-root FOLDER' (App(DIR, source_roots=[FOLDER]))"
)


@dataclass(slots=True)
class Entry:
    """One registry entry. ``data`` holds the kind-specific fields.

    ``roots`` are the folders (resolved, no symlinks) that ``file://`` fields may point
    into; the first is the app directory. The loader sets them; when empty, the entry's
    own folder is the only root.
    """

    namespace: str
    name: str
    kind: str
    meta: dict[str, Any] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)
    file: Path | None = None
    roots: tuple[Path, ...] = field(default=(), repr=False)

    @property
    def id(self) -> str:
        return f"{self.namespace}:{self.name}"

    @property
    def where(self) -> str:
        """``entry 'ns:name' (path/file.yaml)`` — for error messages."""
        return f"entry {self.id!r}" + (f" ({self.file})" if self.file else "")

    @property
    def directory(self) -> Path:
        """The folder of the entry's YAML file (relative paths resolve from here)."""
        return self.file.parent if self.file else Path.cwd()

    def ref(self, value: str) -> str:
        """Resolve a reference: a bare name means ``<this namespace>:<name>``."""
        if not isinstance(value, str) or not value:
            raise self.error(f"expected an entry reference, got {value!r}")
        return value if ":" in value else f"{self.namespace}:{value}"

    @property
    def allowed_roots(self) -> tuple[Path, ...]:
        """The folders ``file://`` fields may point into (see the module docstring)."""
        return self.roots or (self.directory.resolve(),)

    def source_path(self, field_name: str = "source") -> Path:
        """The file a ``file://`` field points at, relative to the YAML file.

        Returns the resolved path (symlinks followed). Raises :class:`LoadError` when the
        field is missing, when the file lies outside every :attr:`allowed_roots` folder,
        or when it does not exist.
        """
        src = self.data.get(field_name)
        if not isinstance(src, str) or not src:
            raise self.error(f"missing '{field_name}' (expected 'file://path')")
        path = src[len("file://") :] if src.startswith("file://") else src
        try:
            resolved = (self.directory / path).resolve()
        except (OSError, RuntimeError) as exc:  # RuntimeError: a symlink loop
            raise self.error(f"'{field_name}: {src}' cannot be resolved: {exc}") from exc
        roots = self.allowed_roots
        if not any(resolved.is_relative_to(root) for root in roots):
            where = f"outside the app directory {roots[0]}"
            if len(roots) > 1:
                where += " and the allowed source roots " + ", ".join(str(r) for r in roots[1:])
            raise self.error(
                f"'{field_name}: {src}' resolves to {resolved} (symlinks followed), {where}; "
                + _HOW_TO_ALLOW
            )
        if not resolved.is_file():
            raise self.error(f"'{field_name}' file not found: {resolved}")
        return resolved

    def display_path(self, path: Path) -> str:
        """How scripts see a file this entry loaded (chunk names, Lua stacks).

        Relative to the YAML file's folder when the file is under it, else relative to
        the app directory; under another allowed root, ``<root folder name>/<path in
        it>``. Never an absolute host path.
        """
        here = self.directory.resolve()
        if path.is_relative_to(here):
            rel = path.relative_to(here)
        else:
            root = next((r for r in self.allowed_roots if path.is_relative_to(r)), None)
            if root is None:
                rel = Path(path.name)
            elif root == self.allowed_roots[0]:
                rel = path.relative_to(root)
            else:
                rel = Path(root.name) / path.relative_to(root)
        return rel.as_posix()

    def error(self, problem: str) -> LoadError:
        """A :class:`LoadError` naming this entry and its file."""
        return LoadError(f"{self.where}: {problem}")


class Registry:
    """All entries of an app, by ID."""

    def __init__(self, entries: Mapping[str, Entry] | None = None) -> None:
        self._entries: dict[str, Entry] = dict(entries or {})

    def add(self, entry: Entry) -> None:
        other = self._entries.get(entry.id)
        if other is not None:
            raise LoadError(
                f"duplicate entry ID {entry.id!r}: defined in {other.file} and in {entry.file}; "
                "rename one of them"
            )
        self._entries[entry.id] = entry

    def get(self, entry_id: str) -> Entry:
        e = self._entries.get(entry_id)
        if e is None:
            raise Error(
                f"unknown entry {entry_id!r}; known entries: {', '.join(sorted(self._entries))}",
                kind=ErrorKind.NOT_FOUND,
                retryable=False,
            )
        return e

    def find(self, kind: str | None = None) -> list[Entry]:
        return [e for e in self._entries.values() if kind is None or e.kind == kind]

    def __contains__(self, entry_id: object) -> bool:
        return entry_id in self._entries

    def __iter__(self) -> Iterator[Entry]:
        return iter(self._entries.values())

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"<Registry {len(self._entries)} entries>"
