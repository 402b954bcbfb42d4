"""The ``lifecycle`` block of a service: when it starts, how it restarts, how it stops.

The contract (Wippy's documented ``lifecycle``; defaults from Wippy's runtime,
``api/supervisor/config.go``). Times are Go duration strings (``"5s"``,
``"1m30s"``, ``"500ms"``) or numbers of seconds.

=====================  =========  =========================================================
field                  default    meaning
=====================  =========  =========================================================
``auto_start``         false      start when the app starts (``beamish run``)
``start_timeout``      10s        how long a start may take to reach Running: the time
                                  ``ServiceManager.start``/app start wait for the service
                                  (and count its dependencies' waits); on expiry the start
                                  fails with ``Error(TIMEOUT)`` naming the service
``stop_timeout``       10s        after CANCEL "service stopping", how long the process
                                  gets to exit before it is terminated
``stable_threshold``   5s         a run at least this long resets the attempt counter
``requires``           []         services that must be Running first (entry IDs; bare
                                  names resolve in the entry's namespace). ``depends_on``
                                  is the legacy spelling; both are merged
``restart.*``          see below  backoff between restarts (:class:`Backoff` fields)
``restart.max_attempts``  0       total runs in a crash streak; 0 = unlimited
``startup``            required   ``required``: a failed start fails the app's start;
                                  ``optional``: it only blocks its own dependents
``security``           none       accepted for Wippy compatibility, not enforced yet
=====================  =========  =========================================================

``restart`` block: ``initial_delay`` (1s), ``max_delay`` (90s; 0 = no cap),
``backoff_factor`` (2.0, >= 1), ``jitter`` (0.1, in [0, 1]), ``max_attempts`` (0).

Unknown keys are load errors (a typo such as ``max_attemps`` must not silently fall
back to a default); so are wrong types and negative times. :func:`lifecycle_from_config`
raises ``Error(INVALID)`` with the dotted field path; the YAML kind handler prefixes
the entry and file.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from beamish.actors import Error, ErrorKind, parse_duration

from ._backoff import Backoff

__all__ = [
    "DEFAULT_STABLE_THRESHOLD",
    "DEFAULT_START_TIMEOUT",
    "DEFAULT_STOP_TIMEOUT",
    "Lifecycle",
    "RestartPolicy",
    "lifecycle_from_config",
]

DEFAULT_START_TIMEOUT = 10.0
DEFAULT_STOP_TIMEOUT = 10.0
DEFAULT_STABLE_THRESHOLD = 5.0


@dataclass(frozen=True, slots=True)
class RestartPolicy:
    """How a failed service is restarted: a :class:`Backoff` and an attempt bound.

    ``max_attempts`` counts *runs* in a crash streak (Wippy: with 3 there are at most
    three runs, the first plus two restarts; with 1 no restart); 0 means unlimited.
    """

    backoff: Backoff = field(default_factory=Backoff)
    max_attempts: int = 0

    def __post_init__(self) -> None:
        m = self.max_attempts
        if isinstance(m, bool) or not isinstance(m, int) or m < 0:
            raise _invalid("restart.max_attempts", m, "an integer >= 0 (0 = unlimited)")


@dataclass(frozen=True, slots=True)
class Lifecycle:
    """A service's lifecycle settings. See the module docstring for each field."""

    auto_start: bool = False
    start_timeout: float = DEFAULT_START_TIMEOUT
    stop_timeout: float = DEFAULT_STOP_TIMEOUT
    stable_threshold: float = DEFAULT_STABLE_THRESHOLD
    requires: tuple[str, ...] = ()
    restart: RestartPolicy = field(default_factory=RestartPolicy)
    optional: bool = False
    security: Mapping[str, Any] | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.auto_start, bool):
            raise _invalid("auto_start", self.auto_start, "true or false")
        for name in ("start_timeout", "stop_timeout", "stable_threshold"):
            object.__setattr__(self, name, parse_duration(getattr(self, name), field=name))
        reqs = self.requires
        if isinstance(reqs, str) or not all(isinstance(r, str) and r for r in reqs):
            raise _invalid("requires", reqs, "a list of service IDs")
        object.__setattr__(self, "requires", tuple(dict.fromkeys(reqs)))


_TOP_KEYS = {
    "auto_start",
    "start_timeout",
    "stop_timeout",
    "stable_threshold",
    "requires",
    "depends_on",
    "restart",
    "startup",
    "security",
}
_RESTART_KEYS = {"initial_delay", "max_delay", "backoff_factor", "jitter", "max_attempts"}


def lifecycle_from_config(config: Mapping[str, Any] | None) -> Lifecycle:
    """Parse a YAML ``lifecycle`` mapping (None or missing keys take the defaults).

    ``requires`` entries are returned as written (the caller resolves bare names).
    """
    if config is None:
        return Lifecycle()
    if not isinstance(config, Mapping):
        raise _invalid("lifecycle", config, "a mapping")
    _no_unknown(config, _TOP_KEYS, "lifecycle")
    kw: dict[str, Any] = {}
    for name in ("auto_start", "start_timeout", "stop_timeout", "stable_threshold"):
        if name in config and config[name] is not None:
            kw[name] = config[name]
    if "auto_start" in kw and not isinstance(kw["auto_start"], bool):
        raise _invalid("lifecycle.auto_start", kw["auto_start"], "true or false")
    for name in ("start_timeout", "stop_timeout", "stable_threshold"):
        if name in kw:
            kw[name] = parse_duration(kw[name], field=f"lifecycle.{name}")
    requires: list[str] = []
    for key in ("requires", "depends_on"):
        value = config.get(key)
        if value is None:
            continue
        if isinstance(value, str) or not isinstance(value, list | tuple):
            raise _invalid(f"lifecycle.{key}", value, "a list of service IDs")
        for item in value:
            if not isinstance(item, str) or not item:
                raise _invalid(f"lifecycle.{key}", value, "a list of service IDs (strings)")
            requires.append(item)
    kw["requires"] = tuple(requires)
    kw["restart"] = _restart_from_config(config.get("restart"))
    startup = config.get("startup", "required")
    if startup not in ("required", "optional"):
        raise _invalid("lifecycle.startup", startup, "'required' or 'optional'")
    kw["optional"] = startup == "optional"
    security = config.get("security")
    if security is not None and not isinstance(security, Mapping):
        raise _invalid("lifecycle.security", security, "a mapping")
    kw["security"] = security
    return Lifecycle(**kw)


def _restart_from_config(config: Any) -> RestartPolicy:
    if config is None:
        return RestartPolicy()
    if not isinstance(config, Mapping):
        raise _invalid("lifecycle.restart", config, "a mapping")
    _no_unknown(config, _RESTART_KEYS, "lifecycle.restart")
    kw: dict[str, Any] = {}
    for name in ("initial_delay", "max_delay"):
        if config.get(name) is not None:
            kw[name] = parse_duration(config[name], field=f"lifecycle.restart.{name}")
    for name in ("backoff_factor", "jitter"):
        value = config.get(name)
        if value is not None:
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise _invalid(f"lifecycle.restart.{name}", value, "a number")
            kw[name] = float(value)
    try:
        backoff = Backoff(**kw)
    except Error as exc:
        path = f"lifecycle.restart.{exc.details['field']}"
        raise Error(
            f"'{path}': {exc.message}",
            kind=ErrorKind.INVALID,
            retryable=False,
            details={"field": path, "value": exc.details["value"]},
        ) from None
    max_attempts = config.get("max_attempts", 0)
    if max_attempts is None:
        max_attempts = 0
    if isinstance(max_attempts, bool) or not isinstance(max_attempts, int) or max_attempts < 0:
        raise _invalid("lifecycle.restart.max_attempts", max_attempts, "an integer >= 0")
    return RestartPolicy(backoff, max_attempts)


def _no_unknown(config: Mapping[str, Any], known: set[str], where: str) -> None:
    unknown = sorted(str(k) for k in config if k not in known)
    if unknown:
        raise Error(
            f"unknown key '{where}.{unknown[0]}'; known keys: {', '.join(sorted(known))}",
            kind=ErrorKind.INVALID,
            retryable=False,
            details={"field": f"{where}.{unknown[0]}"},
        )


def _invalid(path: str, value: Any, expected: str) -> Error:
    return Error(
        f"'{path}' must be {expected}, got {value!r}",
        kind=ErrorKind.INVALID,
        retryable=False,
        details={"field": path, "value": repr(value)},
    )
