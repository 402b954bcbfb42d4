"""Child specifications: what a supervisor starts, when it restarts it, how it stops it.

The contract (OTP's ``supervisor`` child spec, restated for beamish)
---------------------------------------------------------------------

``ChildSpec(id, start, args=(), restart=PERMANENT, shutdown=<default>, type=<inferred>,
host=None, name=None)``

``id`` (mandatory)
    A non-empty string naming the child inside its supervisor (unique there; tag
    ``duplicate_child_name``). Dynamic supervisors ignore uniqueness.
``start`` (mandatory)
    What to spawn: an ``async def body(ctx, *args)`` callable, a registered process
    entry ID ``"ns:name"`` (``process.py``, ``process.lua``, ``process.supervisor`` ...),
    or a :class:`~beamish.supervision.SupervisorSpec` /
    :class:`~beamish.supervision.DynamicSupervisorSpec` for a nested supervisor.
``args`` (default ``()``)
    Positional arguments after ``ctx``; copied at every (re)start like a message.
``restart`` (default ``permanent``)
    ``permanent``: always restarted. ``transient``: restarted only after an *abnormal*
    exit. ``temporary``: never restarted, and removed from the supervisor when it exits
    (also when a sibling's one_for_all/rest_for_one restart stops it).
    *Abnormal* means the process exited with an error, except an error of kind
    ``CANCELED`` — beamish's counterpart of OTP's ``shutdown`` reason: a child that was
    asked to stop and says so. A normal return is never abnormal.
``shutdown`` (default 5 s for workers, ``INFINITY`` for supervisors)
    How the supervisor stops the child: ``BRUTAL_KILL`` terminates it at once; a number
    of seconds (or a duration string ``"5s"``) sends CANCEL with reason
    ``"supervisor shutdown"``, waits that long for the exit, then terminates;
    ``INFINITY`` waits for ever. Beware: a finite timeout on a nested *supervisor* may
    kill it while it is still stopping its own children in order (OTP warns the same).
``type`` (default ``supervisor`` when ``start`` is a supervisor spec, else ``worker``)
    Only reported (``count_children``) and used for the ``shutdown`` default; an entry
    ID that names a ``process.supervisor`` should say ``type="supervisor"`` itself.
``host`` (default: the supervisor's own host)
    The process host to spawn the child on.
``name`` (default none)
    A name to register the child under at every (re)start, so others can address it.

Validation is eager: a :class:`ChildSpec` checks its fields when built (strings such as
``"transient"``, ``"brutal_kill"``, ``"2s"`` are normalised), and
:func:`check_child_specs` checks a list — mappings allowed, as in YAML — before
anything starts. Each rule is one small function raising :class:`SpecError` whose
``tag`` is OTP-style (``invalid_restart_type``, ``invalid_shutdown``, ...) and whose
``value`` is the culprit.
"""

from __future__ import annotations

import enum
import inspect
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from beamish.actors import Error, ErrorKind, parse_duration

__all__ = [
    "BRUTAL_KILL",
    "DEFAULT_SHUTDOWN",
    "INFINITY",
    "ChildSpec",
    "ChildType",
    "RestartType",
    "SpecError",
    "check_child_specs",
    "is_abnormal",
]


class RestartType(enum.StrEnum):
    """When a child is restarted (see the module docstring)."""

    PERMANENT = "permanent"
    TRANSIENT = "transient"
    TEMPORARY = "temporary"


class ChildType(enum.StrEnum):
    WORKER = "worker"
    SUPERVISOR = "supervisor"


class _BrutalKill:
    __slots__ = ()

    def __repr__(self) -> str:
        return "BRUTAL_KILL"

    def __reduce__(self) -> str:
        return "BRUTAL_KILL"


#: ``shutdown`` value: terminate the child at once, no CANCEL first.
BRUTAL_KILL: Final = _BrutalKill()
#: ``shutdown`` value: wait for the child's exit for ever (the supervisor default).
INFINITY: Final = math.inf
#: Seconds a worker gets between CANCEL and terminate (OTP's 5000 ms).
DEFAULT_SHUTDOWN: Final = 5.0

Shutdown = float | _BrutalKill


class SpecError(Error):
    """An invalid child spec or supervisor flag. ``tag`` says which rule, ``value`` the
    culprit, ``child`` the child's id (None for flags); all three are in ``details``."""

    kind = ErrorKind.INVALID

    def __init__(self, tag: str, value: Any, message: str, *, child: Any = None) -> None:
        where = f"child spec {child!r}: " if child is not None else ""
        super().__init__(
            where + message,
            retryable=False,
            details={"tag": tag, "value": _show(value), "child": child},
        )
        self.tag = tag
        self.value = value
        self.child = child


def _show(value: Any) -> Any:
    return value if isinstance(value, str | int | float | bool | type(None)) else repr(value)


def is_abnormal(error: Error | None) -> bool:
    """True for an exit that a ``transient`` child is restarted after."""
    return error is not None and error.kind is not ErrorKind.CANCELED


@dataclass(frozen=True, slots=True)
class ChildSpec:
    """One child of a supervisor. Fields, defaults and rules: see the module docstring."""

    id: str
    start: Any
    args: tuple[Any, ...] = ()
    restart: RestartType = RestartType.PERMANENT
    shutdown: Shutdown | None = None
    type: ChildType | None = None
    host: str | None = None
    name: str | None = None

    def __post_init__(self) -> None:
        cid = _valid_id(self.id)
        _valid_start(self.start, cid)
        set_ = object.__setattr__
        set_(self, "args", _valid_args(self.args, cid))
        set_(self, "restart", _valid_restart(self.restart, cid))
        ctype = _valid_type(self.type, cid)
        if ctype is None:
            ctype = ChildType.SUPERVISOR if _is_supervisor_spec(self.start) else ChildType.WORKER
        set_(self, "type", ctype)
        shutdown = _valid_shutdown(self.shutdown, cid)
        if shutdown is None:
            shutdown = INFINITY if ctype is ChildType.SUPERVISOR else DEFAULT_SHUTDOWN
        set_(self, "shutdown", shutdown)
        _valid_optional_str(self.host, "invalid_host", "host", cid)
        _valid_optional_str(self.name, "invalid_name", "name", cid)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> ChildSpec:
        """Build from a mapping with the same keys (``input`` is accepted for ``args``)."""
        if not isinstance(data, Mapping):
            raise SpecError(
                "invalid_child_spec", data, f"expected a ChildSpec or a mapping, got {data!r}"
            )
        known = {"id", "start", "args", "input", "restart", "shutdown", "type", "host", "name"}
        unknown = sorted(set(data) - known)
        cid = data.get("id")
        if unknown:
            raise SpecError(
                "invalid_child_spec",
                unknown[0],
                f"unknown key {unknown[0]!r}; known keys: {', '.join(sorted(known))}",
                child=cid,
            )
        if "id" not in data:
            raise SpecError("missing_id", None, "missing 'id'")
        if "start" not in data:
            raise SpecError("missing_start", None, "missing 'start'", child=cid)
        args = data.get("args", data.get("input", ()))
        return cls(
            id=data["id"],
            start=data["start"],
            args=args if args is not None else (),
            restart=data.get("restart", RestartType.PERMANENT),
            shutdown=data.get("shutdown"),
            type=data.get("type"),
            host=data.get("host"),
            name=data.get("name"),
        )

    @property
    def is_supervisor(self) -> bool:
        return self.type is ChildType.SUPERVISOR

    def __repr__(self) -> str:
        start = (
            self.start
            if isinstance(self.start, str)
            else getattr(self.start, "__qualname__", type(self.start).__name__)
        )
        return (
            f"ChildSpec({self.id!r}, {start}, restart={self.restart.value}, "
            f"shutdown={self.shutdown!r}, type={self.type.value})"  # type: ignore[union-attr]
        )


def check_child_specs(specs: Iterable[ChildSpec | Mapping[str, Any]]) -> list[ChildSpec]:
    """Validate child specs before anything starts; return them as :class:`ChildSpec`.

    Mappings are converted with :meth:`ChildSpec.from_mapping`. Raises the first
    :class:`SpecError`: a field rule's tag, or ``duplicate_child_name`` (``value`` is
    the repeated id). OTP's ``supervisor:check_childspecs/1``.
    """
    if isinstance(specs, str | bytes | Mapping) or not isinstance(specs, Iterable):
        raise SpecError(
            "invalid_child_spec", specs, f"expected a list of child specs, got {specs!r}"
        )
    out: list[ChildSpec] = []
    seen: set[str] = set()
    for spec in specs:
        if not isinstance(spec, ChildSpec):
            spec = ChildSpec.from_mapping(spec)
        if spec.id in seen:
            raise SpecError(
                "duplicate_child_name",
                spec.id,
                "duplicate child id; ids must be unique within a supervisor",
                child=spec.id,
            )
        seen.add(spec.id)
        out.append(spec)
    return out


# -- one small function per rule -----------------------------------------------------


def _valid_id(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise SpecError(
            "invalid_child_id", value, f"'id' must be a non-empty string, got {value!r}"
        )
    return value


def _is_supervisor_spec(start: Any) -> bool:
    return bool(getattr(start, "is_supervisor_spec", False))


def _valid_start(value: Any, cid: str) -> None:
    if _is_supervisor_spec(value):
        return
    if isinstance(value, str):
        ns, sep, name = value.partition(":")
        if sep and ns and name and ":" not in name:
            return
        raise SpecError(
            "invalid_start",
            value,
            f"'start' {value!r} is not an entry ID; use 'namespace:name' or an async callable",
            child=cid,
        )
    if callable(value):
        fn: Callable[..., Any] = value
        if inspect.isfunction(fn) and not inspect.iscoroutinefunction(fn):
            raise SpecError(
                "invalid_start",
                value,
                f"'start' {fn.__qualname__} must be 'async def body(ctx, *args)'",
                child=cid,
            )
        return
    raise SpecError(
        "invalid_start",
        value,
        f"'start' must be an async callable, an entry ID or a supervisor spec, got {value!r}",
        child=cid,
    )


def _valid_args(value: Any, cid: str) -> tuple[Any, ...]:
    if isinstance(value, tuple):
        return value
    if isinstance(value, list):
        return tuple(value)
    raise SpecError(
        "invalid_args", value, f"'args' must be a list or tuple, got {value!r}", child=cid
    )


def _valid_restart(value: Any, cid: str) -> RestartType:
    try:
        return RestartType(value)
    except ValueError:
        raise SpecError(
            "invalid_restart_type",
            value,
            f"invalid restart type {value!r}; use permanent, transient or temporary",
            child=cid,
        ) from None


def _valid_type(value: Any, cid: str) -> ChildType | None:
    if value is None:
        return None
    try:
        return ChildType(value)
    except ValueError:
        raise SpecError(
            "invalid_child_type",
            value,
            f"invalid child type {value!r}; use worker or supervisor",
            child=cid,
        ) from None


def _valid_shutdown(value: Any, cid: str) -> Shutdown | None:
    if value is None or value is BRUTAL_KILL:
        return value
    if isinstance(value, str) and value.strip().lower() == "brutal_kill":
        return BRUTAL_KILL
    try:
        return parse_duration(value, field="shutdown", allow_inf=True)
    except Error:
        raise SpecError(
            "invalid_shutdown",
            value,
            f"invalid shutdown {value!r}; use brutal_kill, infinity, or seconds >= 0 "
            '(a number or a duration like "5s")',
            child=cid,
        ) from None


def _valid_optional_str(value: Any, tag: str, field: str, cid: str) -> None:
    if value is not None and (not isinstance(value, str) or not value):
        raise SpecError(
            tag, value, f"'{field}' must be a non-empty string or None, got {value!r}", child=cid
        )
