"""The entry registry: every component of an app is an entry ``{id, kind, meta, data}``.

Wippy's model: an entry's ID is ``namespace:name``; YAML files
are one way to fill the registry. The :class:`Entry` value lives in the kernel
(:mod:`beamish.actors`, beside the kind-handler protocol, so every layer's handlers can
name it) and is re-exported here: it remembers the file it came from, so every later
error (a bad handler, a Lua syntax error, an unknown reference) can name the file and the
entry, and it confines the files its ``file://`` fields point at to the app directory
and the operator's ``--source-root`` folders (see ``Entry.source_path``).

:class:`Registry` holds an app's entries by ID and satisfies the kernel's
``RegistryLike`` protocol, which is all kind handlers rely on.

Invariant: IDs are unique in a :class:`Registry` (a duplicate is a :class:`LoadError`
naming both files).

An app that loads leniently runs on a *view* of its registry (:meth:`Registry.without`)
that leaves out the entries beamish cannot run. The view still knows why each one is
missing: ``get`` of such an ID raises ``Error(NOT_FOUND)`` with that reason, while
``in`` and iteration see only the entries that run (see :mod:`beamish._availability`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from beamish.actors import Entry, Error, ErrorKind, LoadError

__all__ = ["Entry", "Registry"]


class Registry:
    """All entries of an app, by ID."""

    def __init__(
        self,
        entries: Mapping[str, Entry] | None = None,
        *,
        unavailable: Mapping[str, str] | None = None,
    ) -> None:
        self._entries: dict[str, Entry] = dict(entries or {})
        #: ID -> why that entry cannot be used (the message ``get`` raises).
        self.unavailable: dict[str, str] = dict(unavailable or {})

    def without(self, reasons: Mapping[str, str]) -> Registry:
        """A new registry of the entries not in ``reasons`` (ID -> why it is left out);
        ``get`` of a left-out ID raises ``Error(NOT_FOUND)`` with its reason."""
        gone = {**self.unavailable, **reasons}
        kept = {k: e for k, e in self._entries.items() if k not in gone}
        return Registry(kept, unavailable=gone)

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
            reason = self.unavailable.get(entry_id)
            if reason is not None:
                raise Error(reason, kind=ErrorKind.NOT_FOUND, retryable=False)
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
