"""Entries and kind handlers: the one contract between the app shell and every layer.

An app is a registry of *entries* ``{id "ns:name", kind, meta, data}`` (Wippy's model;
YAML files are one way to fill it). A *kind handler* knows one entry
kind (``process.host``, ``process.service``, ``function.lua``, ``workflow.lua`` …) and
works in two steps, so an app is checked completely before anything starts:

* ``validate(entry, registry)`` — at load time: check fields and references, compile
  scripts; raise the entry's :class:`LoadError` (:meth:`Entry.error`). Nothing runs.
* ``async install(entry, app)`` — at start, on the running node: add the host, register
  the function or process body under the entry ID, hook services into the app's start
  and stop sequence.

``order`` sets the installation order (hosts 0, libraries 5, functions 10, processes 20,
supervisors and workflows 25, services 30). A handler may also offer ``async run(entry,
app, args)``; the shell's ``beamish run DIR -x ID`` uses it to run one entry directly.

Why this lives in the kernel: every layer contributes handlers (``supervision`` the
service and supervisor kinds, ``luabridge`` the Lua kinds, ``durable`` the Temporal
kinds) and the shell only collects their ``KIND_HANDLERS``. The kernel already names
process bodies and functions by entry ID (``Node.register_process``,
``FunctionRegistry.register``), so the entry is a kernel value, and the lowest layer is
the only place every layer may import. Before, the protocol sat in the shell, the layers
duck-typed against it and kept copies of its helpers (:func:`import_handler`,
:func:`process_host`) that drifted apart.

What moved and what did not: :class:`Entry` is a value (its file and the confinement of
the files it points at included) and lives here. The registry and the app stay in the
shell; handlers see them through two structural protocols holding only what handlers
use, :class:`RegistryLike` and :class:`AppLike` (the shell's ``Registry`` and ``App``
satisfy them without inheriting). Alternative rejected: moving the whole registry and
app down would drag the YAML loader and the start/stop sequencing into the kernel.

File confinement: files an entry points at (``source: file://x.lua`` and any other
``file://`` field read through :meth:`Entry.source_path`) must, after following
symlinks, lie under one of the entry's ``roots`` — the app directory plus the folders
the operator allowed explicitly (``beamish run --source-root DIR``, ``App(...,
source_roots=[DIR])``). Why: a Lua script is untrusted code and the YAML chooses which
script runs; ``file://../../etc/x.lua``, an absolute path or a symlink inside the app
pointing out of it must not pull host files into the sandbox. A path outside is a
:class:`LoadError` naming the YAML file, the entry and the path, and saying how to allow
it. (Python ``handler:`` imports are trusted host code and are not confined.)

Invariant: ``entry.id == f"{entry.namespace}:{entry.name}"``; a registry holds each ID
once.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from ._errors import LoadError
from ._node import Node

__all__ = [
    "AppLike",
    "Entry",
    "KindHandler",
    "RegistryLike",
    "import_handler",
    "process_host",
]

_HOW_TO_ALLOW = (
    "move the file into the app directory, or allow its folder explicitly with "
    "'beamish run DIR --source-root FOLDER' (App(DIR, source_roots=[FOLDER]))"
)


# ======================================================================================
# Entry
# ======================================================================================


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
        """The folder of the entry's YAML file (relative paths resolve from here); for
        an entry declared in Python, its app's directory."""
        if self.file:
            return self.file.parent
        return self.roots[0] if self.roots else Path.cwd()

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


# ======================================================================================
# What handlers see of the shell
# ======================================================================================


class RegistryLike(Protocol):
    """The entries of an app, as kind handlers read them (the shell's ``Registry``).

    Handlers may keep per-registry caches in a ``weakref.WeakKeyDictionary``: an
    implementation must be hashable and weak-referenceable.
    """

    def get(self, entry_id: str) -> Entry:
        """The entry with that ID; raises ``Error(NOT_FOUND)`` listing the known IDs."""
        ...

    def find(self, kind: str | None = None) -> list[Entry]:
        """Every entry of ``kind`` (every entry when ``None``)."""
        ...

    def __contains__(self, entry_id: object) -> bool: ...

    def __iter__(self) -> Iterator[Entry]: ...


class AppLike(Protocol):
    """An app as kind handlers use it in ``install`` and ``run`` (the shell's ``App``).

    ``clean`` is writable: a handler whose stop hook had to terminate a process sets it to
    ``False``. Hooks run after every entry is installed (``on_start``, in registration
    order) and at shutdown before the node stops (``on_stop``, in reverse order).
    """

    clean: bool

    @property
    def node(self) -> Node:
        """The running node; raises ``Error(INVALID)`` when the app is not running."""
        ...

    @property
    def registry(self) -> RegistryLike: ...

    @property
    def state_dir(self) -> Path:
        """Where the app keeps local state (``<app>/.beamish``)."""
        ...

    def default_host(self) -> str:
        """The app's first ``process.host`` entry, else the node's default host."""
        ...

    def on_start(self, hook: Callable[[], Awaitable[None]]) -> None: ...

    def on_stop(self, hook: Callable[[], Awaitable[None]]) -> None: ...

    def fail(self, error: BaseException) -> None:
        """A part of the running app failed for good: stop the app with a non-clean status."""
        ...


class KindHandler(Protocol):
    """The handler of one entry kind (see the module docstring for the two steps).

    ``validate`` raises the entry's :class:`LoadError` and must not start anything;
    ``install`` runs once per entry, in ``order``, on the running node. A handler may
    also have ``fields`` (a set of the keys its entries take): the loader then warns
    about any other key, with the closest known one.
    """

    kind: str
    order: int

    def validate(self, entry: Entry, registry: RegistryLike) -> None: ...

    async def install(self, entry: Entry, app: AppLike) -> None: ...


# ======================================================================================
# Helpers every layer's handlers share
# ======================================================================================


def import_handler(entry: Entry, field: str = "handler") -> Callable[..., Any]:
    """Import the callable ``package.module:callable`` named by ``entry.data[field]``
    (an entry declared in Python may hold the callable itself: it is returned as is).

    The entry's own folder is put on ``sys.path`` first (once), so code beside the YAML
    file is importable. ``callable`` may be dotted (``module:Class.method``). Returns the
    callable. Raises the entry's :class:`LoadError` when the field is missing or not of
    that form, when the module cannot be imported (the import's own error is quoted and
    chained), when the attribute is missing, or when it is not callable.
    """
    spec = entry.data.get(field)
    if callable(spec):  # an entry declared in Python holds the object itself
        return spec  # type: ignore[no-any-return]
    if not isinstance(spec, str) or ":" not in spec:
        raise entry.error(f"'{field}' must be 'package.module:callable', got {spec!r}")
    module_name, _, attr = spec.partition(":")
    folder = str(entry.directory)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:
        raise entry.error(f"cannot import module {module_name!r} for '{field}': {exc}") from exc
    obj: Any = module
    for part in attr.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            where = getattr(module, "__file__", None) or "?"
            raise entry.error(
                f"module {module_name!r} (imported from {where}) has no attribute {attr!r};"
                " if that is not the file you meant, another module of that name was"
                " imported first: give yours a distinct name"
            )
    if not callable(obj):
        raise entry.error(f"'{field}' {spec!r} is not callable")
    return obj


def process_host(entry: Entry, app: AppLike) -> str:
    """The host a process entry runs on when the caller names none.

    Returns the entry's ``host`` field (resolved in its namespace), else its
    ``meta.default_host``, else the app's :meth:`~AppLike.default_host`. Raises the
    entry's :class:`LoadError` when the field is not an entry reference.
    """
    host = entry.data.get("host") or entry.meta.get("default_host")
    return entry.ref(host) if host else app.default_host()
