"""Entry kinds: one registration mechanism for every layer.

A *kind handler* knows one entry kind (``process.host``, ``function.lua`` …). It has
two steps, so an app is checked completely before anything starts:

* ``validate(entry, registry)`` — at load time: check fields and references, compile
  scripts; raise :class:`LoadError` naming the entry and file. Nothing runs.
* ``install(entry, app)`` — at start, on the running node: add the host, register the
  function or process body, hook services into the app's start/stop sequence.

Handlers are objects with ``kind``, ``order`` (installation order: hosts before
functions before processes before services) and the two methods. The protocol
(:class:`KindHandler`, with :class:`~beamish.actors.AppLike` and
:class:`~beamish.actors.RegistryLike` for what handlers see of the app) and the helpers
every layer's handlers share (:func:`import_handler`, :func:`process_host`) live in the
kernel, ``beamish.actors``, the one layer everybody may import; they are re-exported
here. This module adds the shell's own kinds (``process.host``, ``function.py``,
``process.py``), collects the handlers of every layer it knows (:func:`default_handlers`:
each layer's ``KIND_HANDLERS``) and lets third parties add kinds
(:func:`register_kind`).
"""

from __future__ import annotations

import importlib
import inspect
import math
import re
from collections.abc import Mapping
from typing import Any

from beamish.actors import (
    AppLike,
    Entry,
    Error,
    KindHandler,
    Limits,
    LocalHost,
    PoolHost,
    RegistryLike,
    import_handler,
    parse_duration,
    process_host,
)

__all__ = [
    "KindHandler",
    "default_handlers",
    "import_handler",
    "parse_limits",
    "parse_size",
    "process_host",
    "register_kind",
]


_extra: dict[str, KindHandler] = {}


def register_kind(handler: KindHandler) -> None:
    """Add (or replace) the handler for ``handler.kind`` in every app loaded afterwards."""
    _extra[handler.kind] = handler


_SIZE_UNITS: dict[str, int] = {
    "": 1,
    "b": 1,
    "kb": 10**3,
    "mb": 10**6,
    "gb": 10**9,
    "tb": 10**12,
    "kib": 2**10,
    "mib": 2**20,
    "gib": 2**30,
    "tib": 2**40,
}
_SIZE = re.compile(r"\s*(\d+(?:\.\d+)?|\.\d+)\s*([a-zA-Z]*)\s*")


def parse_size(value: object) -> int:
    """Bytes for a size: an int (bytes) or a string such as ``"64MiB"``, ``"512MB"``,
    ``"1GiB"``, ``"16KiB"``, ``"100B"`` (units case-insensitive: ``KB`` = 1000,
    ``KiB`` = 1024; a fraction is allowed with a unit, ``"1.5GiB"``). Raises ``ValueError``
    saying what is wrong (bools, floats, negative numbers, unknown units)."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError("a size is an integer number of bytes or a string like '64MiB'")
    if isinstance(value, int):
        return value
    m = _SIZE.fullmatch(value)
    unit = m.group(2).lower() if m else None
    if m is None or unit not in _SIZE_UNITS:
        raise ValueError(
            "a size string is a number and a unit: B, KB, MB, GB, TB (powers of 1000) or "
            "KiB, MiB, GiB, TiB (powers of 1024), e.g. '64MiB'"
        )
    number = float(m.group(1))
    if not unit and number != int(number):
        raise ValueError("a number of bytes must be whole")
    return int(number * _SIZE_UNITS[unit])


def parse_limits(raw: object, where: str = "limits") -> Limits:
    """The :class:`Limits` a ``limits:`` mapping describes (unset keys keep their
    defaults). Keys: :meth:`Limits.settings`; sizes (``memory``, ``process_memory``,
    ``max_payload``, ``mailbox_bytes``) by :func:`parse_size`, ``step_timeout`` a Go
    duration string or seconds, the rest positive integers. Every value must be > 0.
    Raises ``ValueError`` naming the key, the value and the valid keys."""
    names = Limits.settings()
    valid = "valid keys: " + ", ".join(names)
    if raw is None:
        return Limits()
    if not isinstance(raw, Mapping):
        raise ValueError(f"'{where}' must be a mapping of limit settings, got {raw!r}; {valid}")
    changes: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in names:
            raise ValueError(f"unknown key {key!r} in '{where}' (value {value!r}); {valid}")
        unit = Limits.unit(key)
        try:
            if unit == "bytes":
                parsed: Any = parse_size(value)
            elif unit == "seconds":
                try:
                    parsed = parse_duration(value, field=f"{where}.{key}")
                except Error as exc:
                    raise ValueError(exc.message) from None
                if not math.isfinite(parsed):
                    raise ValueError("a duration must be finite")
            else:
                if isinstance(value, bool) or not isinstance(value, int):
                    raise ValueError("a count is a whole number")
                parsed = value
            if parsed <= 0:
                raise ValueError("must be greater than zero")
        except ValueError as exc:
            raise ValueError(f"{where}.{key} = {value!r} is invalid ({exc}); {valid}") from None
        changes[key] = parsed
    return Limits().with_(**changes)


class HostKind:
    """``process.host``: a named scheduler processes are spawned on.

    Fields: ``host`` (a mapping of scheduler options) and ``limits`` (a mapping of the
    host's resource limits, :class:`~beamish.actors.Limits`; see :func:`parse_limits`),
    both optional. A bad ``limits`` entry fails the load, naming the entry, the key and
    the value and listing the valid keys.
    """

    kind = "process.host"
    fields = frozenset({"host", "limits", "lifecycle"})
    order = 0

    def validate(self, entry: Entry, registry: RegistryLike) -> None:
        opts = entry.data.get("host", {})
        if opts is not None and not isinstance(opts, dict):
            raise entry.error("'host' must be a mapping of scheduler options")
        self.limits(entry)

    @staticmethod
    def limits(entry: Entry) -> Limits:
        """The entry's :class:`Limits` (defaults for unset keys); raises ``LoadError``."""
        try:
            return parse_limits(entry.data.get("limits"))
        except ValueError as exc:
            raise entry.error(str(exc)) from None

    async def install(self, entry: Entry, app: AppLike) -> None:
        pool = getattr(app, "pool", None)
        if pool is not None and entry.id in getattr(app, "pooled_hosts", ()):
            app.node.add_host(PoolHost(entry.id, pool.cluster, pool.names, self.limits(entry)))
            return
        app.node.add_host(
            LocalHost(entry.id, options=entry.data.get("host") or {}, limits=self.limits(entry))
        )


class FunctionPyKind:
    """``function.py``: a Python callable (sync or async) registered as a function."""

    kind = "function.py"
    order = 10
    #: The keys this kind reads (others get a "did you mean" warning at load).
    fields = frozenset({"handler"})

    def validate(self, entry: Entry, registry: RegistryLike) -> None:
        import_handler(entry)

    async def install(self, entry: Entry, app: AppLike) -> None:
        app.node.functions.register(entry.id, import_handler(entry), meta=entry.meta)

    async def run(self, entry: Entry, app: AppLike, args: tuple[Any, ...]) -> Any:
        return await app.node.call(entry.id, *args)


class ProcessPyKind:
    """``process.py``: ``async def body(ctx, *args)``, or a :class:`~beamish.Server`
    subclass, spawnable by its entry ID."""

    kind = "process.py"
    order = 20
    #: The keys this kind reads (others get a "did you mean" warning at load).
    fields = frozenset({"handler", "host"})

    def validate(self, entry: Entry, registry: RegistryLike) -> None:
        fn = import_handler(entry)
        body = getattr(fn, "__beamish_body__", fn)
        if not inspect.iscoroutinefunction(body):
            raise entry.error(
                f"handler {entry.data['handler']!r} must be 'async def body(ctx, *args)' "
                "or a beamish.Server subclass"
            )

    async def install(self, entry: Entry, app: AppLike) -> None:
        app.node.register_process(entry.id, import_handler(entry))

    async def run(self, entry: Entry, app: AppLike, args: tuple[Any, ...]) -> Any:
        return await app.node.exec(entry.id, *args, host=process_host(entry, app))


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
