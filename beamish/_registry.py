"""The entry registry: every component of an app is an entry ``{id, kind, meta, data}``.

Wippy's model (``lua-api.md`` §2.1): an entry's ID is ``namespace:name``; YAML files
are one way to fill the registry. An :class:`Entry` remembers the file it came from so
every later error (a bad handler, a Lua syntax error, an unknown reference) can name
the file and the entry. References inside an entry may be full IDs or bare names,
resolved in the entry's own namespace by :meth:`Entry.ref`.

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


@dataclass(slots=True)
class Entry:
    """One registry entry. ``data`` holds the kind-specific fields."""

    namespace: str
    name: str
    kind: str
    meta: dict[str, Any] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)
    file: Path | None = None

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

    def source_path(self, field_name: str = "source") -> Path:
        """The file a ``file://`` field points at, relative to the YAML file."""
        src = self.data.get(field_name)
        if not isinstance(src, str) or not src:
            raise self.error(f"missing '{field_name}' (expected 'file://path')")
        path = src[len("file://") :] if src.startswith("file://") else src
        resolved = (self.directory / path).resolve()
        if not resolved.is_file():
            raise self.error(f"'{field_name}' file not found: {resolved}")
        return resolved

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
