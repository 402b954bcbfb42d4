"""Lua entries: reading ``function.lua`` / ``process.lua`` / ``library.lua`` definitions and
checking them at load time.

What it is for: a Wippy app is YAML entries plus Lua files. Everything that can be
wrong with a Lua entry without running the app is reported *before anything starts*,
as a :class:`~beamish.actors.LoadError` naming the YAML file, the entry ID and the Lua
line: a missing or unreadable source, a syntax error, an ``imports`` alias pointing at
an entry that is not a Lua entry, a ``modules`` name that is no module, a top-level
error while the script loads, and a ``method`` the script does not export.

Fields (Wippy's documented ones):

=============  =============================================================================
``source``     ``file://path.lua`` relative to the YAML file (or inline Lua text). Required.
               The shell's ``Entry.source_path`` confines the file to the app directory
               (and explicitly allowed source roots), symlinks followed.
``method``     The exported function to run. Required for ``function.lua``; ``process.lua``
               defaults to ``main``; ignored for ``library.lua``.
``modules``    List of built-in modules the script may ``require`` (allow-list).
``imports``    Mapping alias -> Lua entry ID (bare names resolve in the entry's namespace);
               ``require(alias)`` returns the value that entry's chunk returns (a
               ``library.lua``'s module, a ``function.lua``/``process.lua``'s exports).
``meta``       Free metadata (``meta.type: test`` marks acceptance tests, for example).
=============  =============================================================================

How the ``method`` check works: the script is compiled and its top level is run once in
a scratch sandbox with the same ``require`` rules and an instruction budget. If the top
level needs the running system (it calls ``process.*``, ``funcs.*``, ``time.sleep``...),
the check stops there and the method is checked again at spawn time; otherwise the
returned table must contain ``method``. Running the top level is safe: it is the same
sandbox every process gets, and it is what every spawn does anyway.

Invariant: a :class:`LuaEntrySpec` is immutable and self-contained (source text, not a
path), so runtimes can compile it lazily from any thread that owns them.
"""

from __future__ import annotations

import difflib
import os
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from beamish.actors import Error, LoadError

from ._modules import install_modules
from ._runtime import LuaSyntaxError, Sandbox

__all__ = [
    "LUA_KINDS",
    "LuaEntrySpec",
    "check_entry",
    "spec_from_entry",
]

#: Entry kinds whose data is a Lua script.
LUA_KINDS = ("function.lua", "process.lua", "library.lua", "workflow.lua")
_DEFAULT_METHOD = {"process.lua": "main", "workflow.lua": "main"}
#: Budget for running a script's top level at load time.
_CHECK_BUDGET = 20_000_000


@dataclass(frozen=True, slots=True)
class LuaEntrySpec:
    """Everything needed to compile and run one Lua entry."""

    id: str
    kind: str
    source: str
    chunkname: str
    method: str | None = None
    modules: tuple[str, ...] = ()
    imports: Mapping[str, str] = field(default_factory=dict)
    meta: Mapping[str, Any] = field(default_factory=dict)
    where: str = ""

    def error(self, problem: str) -> LoadError:
        """A :class:`LoadError` naming this entry and its YAML file."""
        return LoadError(f"{self.where or 'entry ' + repr(self.id)}: {problem}")


def spec_from_entry(entry: Any) -> LuaEntrySpec:
    """Build a :class:`LuaEntrySpec` from a registry entry (``beamish.Entry``-like).

    Checks the shape of the fields and reads the source; raises :class:`LoadError`.
    """
    data = entry.data
    kind = entry.kind
    if kind not in LUA_KINDS:
        raise entry.error(f"not a Lua entry kind: {kind!r}")
    src = data.get("source")
    if not isinstance(src, str) or not src.strip():
        raise entry.error("missing 'source' (expected 'file://path.lua' or inline Lua code)")
    if src.startswith("file://"):
        path = Path(entry.source_path("source"))  # resolved and confined by the shell
        try:
            source = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise entry.error(f"cannot read Lua source {path}: {exc}") from exc
        chunkname = _chunkname(path, entry)
    else:
        source = src
        chunkname = f"{entry.id}.lua"

    method = data.get("method")
    if kind == "library.lua":
        method = None
    elif method is None:
        method = _DEFAULT_METHOD.get(kind)
        if method is None:
            raise entry.error(
                "missing 'method': name the exported function to run (e.g. method: main)"
            )
    elif not isinstance(method, str) or not method:
        raise entry.error(f"'method' must be a function name, got {method!r}")

    modules = data.get("modules") or []
    if not isinstance(modules, list) or not all(isinstance(m, str) for m in modules):
        raise entry.error(f"'modules' must be a list of module names, got {modules!r}")
    imports = data.get("imports") or {}
    if not isinstance(imports, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in imports.items()
    ):
        raise entry.error(f"'imports' must map aliases to Lua entry IDs, got {imports!r}")
    resolved = {alias: entry.ref(target) for alias, target in imports.items()}
    return LuaEntrySpec(
        id=entry.id,
        kind=kind,
        source=source,
        chunkname=chunkname,
        method=method,
        modules=tuple(modules),
        imports=resolved,
        meta=dict(entry.meta or {}),
        where=entry.where,
    )


def _chunkname(path: Path, entry: Any) -> str:
    # Short and recognisable: Lua truncates chunk names to 60 characters in messages.
    # Scripts see it (error messages, err:stack()), so it is never an absolute host path.
    display = getattr(entry, "display_path", None)
    if display is not None:
        return str(display(path))
    try:
        rel = os.path.relpath(path, entry.directory)
    except ValueError:
        rel = path.name
    return rel.replace(os.sep, "/")


# -- load-time check --------------------------------------------------------------------

_scratch: weakref.WeakKeyDictionary[Any, Sandbox] = weakref.WeakKeyDictionary()
_scratch_default: list[Sandbox] = []


def _scratch_sandbox(owner: Any) -> Sandbox:
    if owner is None:
        if not _scratch_default:
            _scratch_default.append(_new_scratch())
        return _scratch_default[0]
    try:
        sb = _scratch.get(owner)
    except TypeError:
        return _scratch_sandbox(None)
    if sb is None:
        sb = _scratch[owner] = _new_scratch()
    return sb


def _new_scratch() -> Sandbox:
    sb = Sandbox(max_memory=64 * 1024 * 1024, instruction_budget=_CHECK_BUDGET, name="load-check")
    install_modules(sb)
    return sb


def check_entry(
    spec: LuaEntrySpec,
    lookup: Callable[[str], LuaEntrySpec | None],
    *,
    known_modules: frozenset[str] | None = None,
    owner: Any = None,
) -> None:
    """Check ``spec`` as far as possible without a running system; raise :class:`LoadError`.

    ``lookup(entry_id)`` returns the spec of another Lua entry (for ``imports``) or
    ``None``. ``owner`` scopes the scratch sandbox (e.g. the app's registry).
    """
    sb = _scratch_sandbox(owner)
    modules = known_modules if known_modules is not None else sb_module_names(sb)
    for name in spec.modules:
        if name not in modules:
            guess = difflib.get_close_matches(name, sorted(modules), n=1, cutoff=0.75)
            hint = f"; did you mean {guess[0]!r}?" if guess else ""
            raise spec.error(
                f"unknown module {name!r} in 'modules'{hint} "
                f"(available: {', '.join(sorted(modules))})"
            )
    _compile_with_imports(sb, spec, lookup, set())
    if spec.kind == "library.lua" or spec.method is None:
        return
    _check_method(sb, spec)


def sb_module_names(sb: Sandbox) -> frozenset[str]:
    return sb.module_names


def _compile_with_imports(
    sb: Sandbox, spec: LuaEntrySpec, lookup: Callable[[str], LuaEntrySpec | None], seen: set[str]
) -> None:
    if spec.id in seen:
        return
    seen.add(spec.id)
    try:
        chunk = sb.compile(spec.source, spec.chunkname)
    except LuaSyntaxError as exc:
        raise spec.error(exc.message) from exc
    for alias, target in spec.imports.items():
        lib = lookup(target)
        if lib is None:
            raise spec.error(
                f"import {alias!r} refers to {target!r}, which is not a Lua entry; "
                f"imports must name a Lua entry ({', '.join(LUA_KINDS)})"
            )
        # Any Lua entry may be imported, as in Wippy: the importer gets the value its
        # chunk returns (a function.lua/process.lua entry's table of exports).
        _compile_with_imports(sb, lib, lookup, seen)
    sb.register_entry(spec.id, chunk, modules=spec.modules, imports=spec.imports)


def _check_method(sb: Sandbox, spec: LuaEntrySpec) -> None:
    P = sb.new_process(sb.host.entry(spec.id))
    tid = sb.host.start_probe(P, spec.method)
    try:
        exports = sb.run(P, tid)
    except Error as exc:
        if exc.details and isinstance(exc.details, dict) and "op" in exc.details:
            return  # the top level needs a running system: checked at spawn time
        raise spec.error(f"the script failed while loading: {exc.message}") from exc
    kind = exports[0] if exports else None
    if kind == "function":
        return
    if kind != "table":
        raise spec.error(
            f"the script must return a table of functions (or one function), got {kind}"
        )
    names = exports[1] or []
    if not (len(exports) > 2 and exports[2]):
        shown = ", ".join(sorted(str(n) for n in names)) or "none"
        raise spec.error(
            f"method {spec.method!r} is not exported by {spec.chunkname} "
            f"(exported functions: {shown})"
        )
