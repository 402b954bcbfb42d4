"""Entry kinds: one registration mechanism for every layer.

A *kind handler* knows one entry kind (``process.host``, ``function.lua`` …). It has
two steps, so an app is checked completely before anything starts:

* ``validate(entry, registry)`` — at load time: check fields and references, compile
  scripts; raise :class:`LoadError` naming the entry and file. Nothing runs.
* ``install(entry, app)`` — at start, on the running node: add the host, register the
  function or process body, hook services into the app's start/stop sequence.

Handlers are duck-typed objects with ``kind``, ``order`` (installation order: hosts
before functions before processes before services) and the two methods. The shell
collects handlers from every layer it knows (:func:`default_handlers`); layers lower in
the dependency chain never import the shell. Third parties add kinds with
:func:`register_kind`.
"""

from __future__ import annotations

import importlib
import inspect
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from beamish.actors import LocalHost

from ._registry import Entry, Registry

if TYPE_CHECKING:
    from ._app import App

__all__ = [
    "KindHandler",
    "default_handlers",
    "import_handler",
    "process_host",
    "register_kind",
]


class KindHandler(Protocol):
    kind: str
    order: int

    def validate(self, entry: Entry, registry: Registry) -> None: ...

    async def install(self, entry: Entry, app: App) -> None: ...


_extra: dict[str, KindHandler] = {}


def register_kind(handler: KindHandler) -> None:
    """Add (or replace) the handler for ``handler.kind`` in every app loaded afterwards."""
    _extra[handler.kind] = handler


def import_handler(entry: Entry, field: str = "handler") -> Callable[..., Any]:
    """Import ``package.module:callable`` named by ``entry.data[field]``.

    The entry's own folder and the app folder are importable (added to ``sys.path``).
    """
    spec = entry.data.get(field)
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
            raise entry.error(f"module {module_name!r} has no attribute {attr!r}")
    if not callable(obj):
        raise entry.error(f"'{field}' {spec!r} is not callable")
    return obj


class HostKind:
    """``process.host``: a named scheduler processes are spawned on."""

    kind = "process.host"
    order = 0

    def validate(self, entry: Entry, registry: Registry) -> None:
        opts = entry.data.get("host", {})
        if opts is not None and not isinstance(opts, dict):
            raise entry.error("'host' must be a mapping of scheduler options")

    async def install(self, entry: Entry, app: App) -> None:
        app.node.add_host(LocalHost(entry.id, options=entry.data.get("host") or {}))


class FunctionPyKind:
    """``function.py``: a Python callable (sync or async) registered as a function."""

    kind = "function.py"
    order = 10

    def validate(self, entry: Entry, registry: Registry) -> None:
        import_handler(entry)

    async def install(self, entry: Entry, app: App) -> None:
        app.node.functions.register(entry.id, import_handler(entry), meta=entry.meta)

    async def run(self, entry: Entry, app: App, args: tuple[Any, ...]) -> Any:
        return await app.node.call(entry.id, *args)


class ProcessPyKind:
    """``process.py``: ``async def body(ctx, *args)`` spawnable by its entry ID."""

    kind = "process.py"
    order = 20

    def validate(self, entry: Entry, registry: Registry) -> None:
        fn = import_handler(entry)
        if not inspect.iscoroutinefunction(fn):
            raise entry.error(
                f"handler {entry.data['handler']!r} must be 'async def body(ctx, *args)'"
            )

    async def install(self, entry: Entry, app: App) -> None:
        app.node.register_process(entry.id, import_handler(entry))

    async def run(self, entry: Entry, app: App, args: tuple[Any, ...]) -> Any:
        return await app.node.exec(entry.id, *args, host=process_host(entry, app))


def process_host(entry: Entry, app: App) -> str:
    """The host a process entry runs on when none is given: its ``host`` field, else the
    app's first ``process.host``, else the node's default host."""
    host = entry.data.get("host") or entry.meta.get("default_host")
    return entry.ref(host) if host else app.default_host()


def default_handlers() -> dict[str, KindHandler]:
    """Handlers of every layer that is installed, plus those added by register_kind."""
    handlers: dict[str, KindHandler] = {
        h.kind: h for h in (HostKind(), FunctionPyKind(), ProcessPyKind())
    }
    for module in ("beamish.supervision", "beamish.luabridge", "beamish.durable"):
        try:
            mod = importlib.import_module(module)
        except ImportError:  # pragma: no cover - every layer ships with beamish
            continue
        for h in getattr(mod, "KIND_HANDLERS", ()):
            handlers[h.kind] = h
    handlers.update(_extra)
    return handlers
