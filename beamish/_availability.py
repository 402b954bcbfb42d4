"""Which entries of an app can run, and what happens to the ones that cannot.

Why: real Wippy apps carry entries beamish does not implement (HTTP servers, SQL
databases, routers, docker executors, Lua modules it lacks). Failing the whole load on
the first of them means such an app never runs at all, although most of it would. So by
default an app loads *leniently*:

* every entry is checked by its kind handler, as before. An entry whose check fails (an
  unknown kind, an unknown module in ``modules:``, an import of a missing entry, a Lua
  syntax error, a bad field) is *unavailable*;
* unavailability propagates: the entries that refer to an unavailable one (its ID, or a
  bare name in its namespace, anywhere in their fields) are checked again against the
  registry without it; if that check fails now, or the entry runs on a ``host`` that is
  unavailable, it is unavailable too, with a reason naming the chain
  (``depends on 'app:lib' -> 'app:db', which is unavailable: ...``). This repeats until
  nothing changes;
* each unavailable entry is reported once, one WARNING line on the ``beamish`` logger
  naming the YAML file, the entry, the reason and what to do;
* the rest of the app is installed and runs on a registry view without them
  (:meth:`Registry.without`). Using an unavailable entry fails with its reason as
  ``Error(NOT_FOUND)`` (Wippy's kind for a missing function or process): ``Node.call``,
  ``funcs.call`` from Lua (``nil, err``), ``spawn`` and ``beamish run DIR -x ID``.

*Strict* loading (``beamish run --strict``, ``BEAMISH_STRICT=1``, ``strict: true`` in the
app's ``beamish.yaml``, ``App(dir, strict=True)``) keeps the fail-fast behaviour: the
first entry that cannot be loaded raises its :class:`LoadError` and nothing starts.

Typos stay visible in both modes: a kind close to a known one (at most two edits away)
gets ``did you mean 'process.lua'?``, and a quoted entry ID in a reason that is not in
the registry gets the closest existing ID as a hint.
"""

from __future__ import annotations

import difflib
import logging
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from beamish.actors import Entry, Error, ErrorKind, FunctionRegistry, KindHandler, LoadError, Node

from ._registry import Registry

__all__ = ["AppNode", "Unavailable", "close_kind", "sort_out", "unknown_kind"]

log = logging.getLogger("beamish")

_STRICT_HINT = "(use --strict to fail instead)"
_FULL_ID = re.compile(r"^[A-Za-z0-9_.\-]+:[A-Za-z0-9_.\-]+$")
_BARE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]*$")
_QUOTED_ID = re.compile(r"'([A-Za-z0-9_.\-]+:[A-Za-z0-9_.\-]+)'")


# ======================================================================================
# Hints
# ======================================================================================


def _edits(a: str, b: str) -> int:
    """Optimal-string-alignment distance: insertions, deletions, substitutions and
    swaps of two neighbours, each one edit."""
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb))
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        prev2, prev = prev, cur
    return prev[-1]


def close_kind(kind: str, known: Iterable[str]) -> str | None:
    """The known kind ``kind`` is most likely a misspelling of, or ``None``.

    Close means at most two edits (one for kinds of six characters or fewer), so
    foreign kinds such as ``function.wasm`` or ``http.service`` get no hint."""
    limit = 1 if len(kind) <= 6 else 2
    best: tuple[int, str] | None = None
    for k in sorted(known):
        d = _edits(kind.lower(), k)
        if 0 < d <= limit and (best is None or d < best[0]):
            best = (d, k)
    return best[1] if best else None


def unknown_kind(kind: str, known: Iterable[str], *, strict: bool) -> str:
    """The reason an entry of an unknown ``kind`` cannot be loaded."""
    known = sorted(known)
    guess = close_kind(kind, known)
    hint = f"; did you mean {guess!r}?" if guess else ""
    if strict:
        return f"unknown kind {kind!r}{hint}; known kinds: {', '.join(known)}"
    return f"kind {kind!r} is not supported by beamish{hint}"


def _id_hint(reason: str, ids: Iterable[str], known: Callable[[str], bool]) -> str:
    """``reason`` plus ``; did you mean 'x'?`` for the first quoted ID that does not exist."""
    if "did you mean" in reason:
        return reason
    choices: list[str] | None = None
    for ref in _QUOTED_ID.findall(reason):
        if known(ref):
            continue
        if choices is None:
            choices = sorted(ids)
        guess = difflib.get_close_matches(ref, choices, n=1, cutoff=0.8)
        if guess:
            return f"{reason}; did you mean {guess[0]!r}?"
    return reason


# ======================================================================================
# Unavailable entries
# ======================================================================================


@dataclass(frozen=True, slots=True)
class Unavailable:
    """One entry that cannot be used, and why.

    ``reason`` is the problem without the entry's name (``kind 'x' is not supported by
    beamish``); ``chain`` the IDs it depends on down to the root cause, nearest first
    (empty when the entry itself is at fault); ``cause`` the root cause's reason."""

    entry: Entry
    reason: str
    advice: str
    chain: tuple[str, ...] = ()
    cause: str = ""

    @property
    def id(self) -> str:
        return self.entry.id

    def label(self, app_dir: Path | None) -> str:
        """``entry 'ns:name' (src/_index.yaml)``: the file relative to the app folder."""
        file = self.entry.file
        if file is None:
            return f"entry {self.id!r}"
        shown: Path | str = file
        if app_dir is not None and file.is_relative_to(app_dir):
            shown = file.relative_to(app_dir).as_posix()
        return f"entry {self.id!r} ({shown})"

    def message(self, app_dir: Path | None) -> str:
        """``entry 'x' (file) is unavailable: <reason>``: what using it fails with."""
        return f"{self.label(app_dir)} is unavailable: {self.reason}"

    def report(self, app_dir: Path | None) -> str:
        """The boot report: :meth:`message` and what to do."""
        return f"{self.message(app_dir)}; {self.advice} {_STRICT_HINT}"

    def error(self, app_dir: Path | None) -> Error:
        """The ``Error(NOT_FOUND)`` using the entry raises."""
        return Error(self.message(app_dir), kind=ErrorKind.NOT_FOUND, retryable=False)


def _strip_where(entry: Entry, message: str) -> str:
    prefix = f"{entry.where}: "
    return message[len(prefix) :] if message.startswith(prefix) else message


def references(entry: Entry) -> set[str]:
    """Entry IDs ``entry`` may refer to: every string in its fields that is a full ID,
    or a bare name resolved in its namespace (over-inclusive: the caller checks)."""
    found: set[str] = set()
    stack: list[Any] = [entry.data, entry.meta.get("default_host")]
    while stack:
        value = stack.pop()
        if isinstance(value, str):
            if _FULL_ID.match(value):
                found.add(value)
            elif _BARE.match(value):
                found.add(f"{entry.namespace}:{value}")
        elif isinstance(value, Mapping):
            stack.extend(value.values())
        elif isinstance(value, list | tuple):
            stack.extend(value)
    found.discard(entry.id)
    return found


def _host_of(entry: Entry) -> str | None:
    host = entry.data.get("host") or entry.meta.get("default_host")
    if not isinstance(host, str) or not host:
        return None
    return host if ":" in host else f"{entry.namespace}:{host}"


# ======================================================================================
# Sorting an app's entries out
# ======================================================================================


def warn_unknown_keys(entry: Entry, handler: KindHandler | None) -> None:
    """Log a WARNING for each key of ``entry`` its kind does not know, with the closest
    known key (a typo such as ``handlr:`` is otherwise silently ignored). Only kinds
    whose handler lists its ``fields`` are checked; the entry still loads, as Wippy
    ignores unknown keys too."""
    fields = getattr(handler, "fields", None)
    if not fields:
        return
    for key in sorted(set(entry.data) - set(fields)):
        close = difflib.get_close_matches(str(key), sorted(fields), n=1)
        known = ", ".join(sorted(fields))
        hint = f"did you mean {close[0]!r}?" if close else f"known keys: {known}"
        log.warning(
            "%s: unknown key %r for kind %s (ignored); %s", entry.where, key, entry.kind, hint
        )


def sort_out(
    registry: Registry,
    handlers: Mapping[str, KindHandler],
    *,
    strict: bool,
    app_dir: Path | None = None,
) -> tuple[Registry, dict[str, Unavailable]]:
    """Check every entry of ``registry`` with its kind handler.

    Returns the registry the app runs on and the unavailable entries by ID (see the
    module docstring). Strict: returns ``(registry, {})`` or raises the first entry's
    :class:`LoadError` (registry order), hints included. Lenient: never raises a
    :class:`LoadError` for an entry; logs one WARNING per unavailable entry.
    """
    known_ids = registry.__contains__
    all_ids = [e.id for e in registry]

    def check(entry: Entry, view: Registry) -> None:
        handler = handlers.get(entry.kind)
        if handler is None:
            raise LoadError(unknown_kind(entry.kind, handlers, strict=strict))
        handler.validate(entry, view)

    if strict:
        for entry in registry:
            try:
                check(entry, registry)
            except LoadError as exc:
                reason = _id_hint(_strip_where(entry, exc.message), all_ids, known_ids)
                raise entry.error(reason) from exc
        return registry, {}

    found: dict[str, Unavailable] = {}
    view = registry
    pending = list(registry)
    while pending:
        new: dict[str, Unavailable] = {}
        for entry in pending:
            gone = sorted(d for d in references(entry) if d in found)
            try:
                check(entry, view)
            except LoadError as exc:
                problem = _strip_where(entry, exc.message)
                if gone:
                    new[entry.id] = _dependent(entry, gone, problem, found)
                else:
                    reason = _id_hint(problem, all_ids, known_ids)
                    new[entry.id] = Unavailable(entry, reason, _advice(entry, handlers, reason))
                continue
            host = _host_of(entry)
            if host is not None and host in found:
                new[entry.id] = _dependent(entry, [host], host, found)
        if not new:
            break
        found.update(new)
        view = registry.without({k: u.message(app_dir) for k, u in found.items()})
        pending = [e for e in view if not references(e).isdisjoint(new)]
    for u in sorted(found.values(), key=lambda u: (str(u.entry.file), u.id)):
        log.warning("%s", u.report(app_dir))
    return view, found


def _advice(entry: Entry, handlers: Mapping[str, KindHandler], reason: str) -> str:
    if "did you mean" in reason:
        return "fix the misspelling, or remove the entry"
    if entry.kind not in handlers or reason.startswith("unknown module"):
        return "remove it or run without it"
    return "fix the entry, or remove it"


def _dependent(
    entry: Entry, gone: list[str], problem: str, found: Mapping[str, Unavailable]
) -> Unavailable:
    # The dependency the handler complained about, else the first one.
    dep = next((d for d in gone if d in problem), gone[0])
    root = found[dep]
    chain = (dep, *root.chain)
    cause = root.cause or root.reason
    path = " -> ".join(repr(c) for c in chain)
    return Unavailable(
        entry,
        f"depends on {path}, which is unavailable: {cause}",
        f"make {chain[-1]!r} available, or remove this entry",
        chain,
        cause,
    )


# ======================================================================================
# The node of an app with unavailable entries
# ======================================================================================


class _Functions(FunctionRegistry):
    """Functions; an unavailable entry's ID fails with its reason, not "not registered"."""

    def __init__(self, unavailable: Mapping[str, Error]) -> None:
        super().__init__()
        self._unavailable = unavailable

    def get(self, func_id: str) -> Any:
        try:
            return super().get(func_id)
        except Error:
            err = self._unavailable.get(func_id) if isinstance(func_id, str) else None
            if err is None:
                raise
            raise Error(err.message, kind=err.kind, retryable=False) from None


class AppNode(Node):
    """The node of a leniently loaded app: calling or spawning an unavailable entry
    raises ``Error(NOT_FOUND)`` with the reason it was left out."""

    def __init__(self, unavailable: Mapping[str, Error], **kw: Any) -> None:
        super().__init__(**kw)
        self.unavailable: dict[str, Error] = dict(unavailable)
        self.functions = _Functions(self.unavailable)

    def process_body(self, entry_id: str) -> Any:
        try:
            return super().process_body(entry_id)
        except Error:
            err = self.unavailable.get(entry_id)
            if err is None:
                raise
            raise Error(err.message, kind=err.kind, retryable=False) from None
