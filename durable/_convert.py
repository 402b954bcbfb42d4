"""What crosses the Temporal boundary: payloads, errors and the context header.

What it is for
    Everything a workflow receives or sends goes through Temporal as payloads. This
    module fixes the three conversions both sides (kernel host and workflow code) must
    agree on, so they live in one trio-free place that the workflow sandbox may import.

Design chosen
    * **Payloads are JSON** (Wippy's converter: ``json/plain`` for values, ``binary/null``
      for nil, ``binary/plain`` for top-level bytes). :data:`DATA_CONVERTER` is the
      default Temporal converter whose JSON encoder also knows beamish values: a
      :class:`~beamish.actors.Pid` becomes its string form ``{host|id}``, an
      :class:`~beamish.actors.Error` its ``to_dict()``. Nothing is converted back on
      decode: a PID arrives as a string (``Pid.parse`` reads it), as in Wippy.
    * **Errors keep their kind and retryable flag**: :func:`to_failure` makes an
      ``ApplicationError`` whose ``type`` is the kind (``"NotFound"``) and
      ``non_retryable`` is ``not error.should_retry`` (category BENIGN unless the kind is
      INTERNAL/UNKNOWN, so expected failures are not logged as crashes);
      :func:`from_failure` reads any Temporal failure (activity, child workflow, timeout,
      cancellation, termination) back into an :class:`Error` of the right kind.
    * **Context values and the signal sender travel in one header**, ``wippy-context``:
      a JSON map of the frame's context values, plus ``temporal.signal.from`` (the
      sender PID) on signals. Same name and shape as Wippy, so the two can share task
      queues.

Alternatives rejected
    * Pickle or msgpack payloads: unreadable in the Temporal UI/CLI and incompatible with
      other SDKs' workers.
    * Encoding the sender into the signal arguments: changes what the receiver sees as
      payload and breaks signals sent by plain Temporal clients.

    * **Payloads are checked before they are sent**: :func:`to_wire` refuses what JSON
      cannot carry (cyclic values, Python objects) and :func:`check_size` refuses
      payloads over :data:`MAX_PAYLOAD_BYTES`, both as ``Error(INVALID)``, not retryable,
      naming where the value was going. Temporal would refuse them anyway, later and
      with the wrong kind (a gRPC size error reads as ``Unavailable``, retryable, yet can
      never succeed).

Invariants
    * Imports no trio itself: it runs inside workflows. (The ``beamish`` package, whose
      kernel does import trio, is passed through Temporal's sandbox, never re-imported.)
    * ``from_failure(to_failure(e))`` keeps ``kind``, ``message``, ``retryable`` (as a
      definite bool) and ``details`` when they are JSON data.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from typing import Any

import temporalio.api.common.v1
import temporalio.client
import temporalio.converter
import temporalio.exceptions

from beamish.actors import Error, ErrorKind, Pid, Timeout, as_error
from beamish.luabridge import LuaKeyed

__all__ = [
    "CONTEXT_HEADER",
    "DATA_CONVERTER",
    "MAX_PAYLOAD_BYTES",
    "SIGNAL_FROM",
    "BeamishJSONEncoder",
    "BeamishPayloadConverter",
    "check_size",
    "decode_header",
    "encode_header",
    "from_failure",
    "to_failure",
    "to_wire",
]

#: The header carrying context values (and the signal sender) on starts, activities,
#: children and signals.
CONTEXT_HEADER = "wippy-context"
#: Key inside :data:`CONTEXT_HEADER` naming the PID that sent a signal.
SIGNAL_FROM = "temporal.signal.from"
#: Largest encoded payload set (all arguments of one start, signal, activity result or
#: child start, in bytes) beamish sends to Temporal: 2 MiB, the Temporal server's default
#: blob-size error limit (``limit.blobSize.error``), well below gRPC's 4 MiB message cap.
MAX_PAYLOAD_BYTES = 2 * 1024 * 1024
#: The value types a payload may hold, for error messages.
_ALLOWED = (
    "nil/None, booleans, numbers, strings, bytes, lists/tuples, maps with string keys, "
    "PIDs and errors"
)


class BeamishJSONEncoder(temporalio.converter.AdvancedJSONEncoder):
    """Temporal's JSON encoder plus PIDs (as strings) and Errors (as dicts)."""

    def default(self, o: Any) -> Any:
        if type(o) is Pid:
            return str(o)
        if isinstance(o, Error):
            return o.to_dict()
        if isinstance(o, (bytes, bytearray)):
            return o.decode("utf-8", errors="replace")
        return super().default(o)


class BeamishPayloadConverter(temporalio.converter.CompositePayloadConverter):
    """The default composite converter with :class:`BeamishJSONEncoder` for JSON."""

    def __init__(self) -> None:
        defaults = temporalio.converter.DefaultPayloadConverter
        converters = [
            temporalio.converter.JSONPlainPayloadConverter(encoder=BeamishJSONEncoder)
            if isinstance(c, temporalio.converter.JSONPlainPayloadConverter)
            else c
            for c in defaults.default_encoding_payload_converters
        ]
        super().__init__(*converters)


#: The data converter of every beamish client (and so of its workers).
DATA_CONVERTER = dataclasses.replace(
    temporalio.converter.DataConverter.default,
    payload_converter_class=BeamishPayloadConverter,
)

_PAYLOADS = BeamishPayloadConverter()


def to_wire(value: Any, where: str = "a value sent to Temporal") -> Any:
    """``value`` as plain JSON data (PIDs to strings, tuples to lists, errors to dicts).

    ``where`` names the value's destination for error messages ("argument 1 of the
    start of workflow app:order"). Raises ``Error(INVALID)``, not retryable, for a cyclic
    value ("cyclic value") or one JSON cannot carry (naming the Python type and what is
    allowed); nothing is half-converted.
    """
    return _wire(value, where, set())


def _wire(value: Any, where: str, active: set[int]) -> Any:
    t = type(value)
    if t in (str, int, float, bool) or value is None:
        return value
    if t is Pid:
        return str(value)
    if isinstance(value, Error):
        return value.to_dict()
    if t is dict or isinstance(value, Mapping) or t in (list, tuple, set, frozenset):
        key = id(value)
        if key in active:
            raise Error(
                f"cyclic value in {where}: a table or container contains itself; send acyclic data",
                kind=ErrorKind.INVALID,
                retryable=False,
            )
        active.add(key)
        try:
            if t is dict or isinstance(value, Mapping):
                keyed = t is LuaKeyed
                return {
                    _wire_key(k, where, keyed): _wire(v, where, active)
                    for k, v in value.items()
                }
            return [_wire(v, where, active) for v in value]
        finally:
            active.discard(key)
    try:
        return json.loads(json.dumps(value, cls=BeamishJSONEncoder))
    except (TypeError, ValueError, RecursionError):
        raise Error(
            f"cannot send a Python {t.__module__}.{t.__qualname__} in {where}: payloads "
            f"are JSON data ({_ALLOWED})",
            kind=ErrorKind.INVALID,
            retryable=False,
            details={"type": t.__qualname__, "boundary": "workflow"},
        ) from None


def _wire_key(key: Any, where: str, keyed: bool) -> str:
    """A map key as JSON has it: a string. A PID is written as its string form, and so
    are the number keys of a table that came from Lua (:class:`LuaKeyed`, as Wippy's
    JSON writes them); any other non-string key is refused rather than silently
    turned into a string the receiver would not recognise."""
    if type(key) is str:
        return key
    if isinstance(key, str):
        return str(key)
    if type(key) is Pid or (keyed and isinstance(key, int | float)):
        return str(key).lower() if type(key) is bool else str(key)
    raise Error(
        f"cannot send a map with the {type(key).__name__} key {key!r} in {where}: "
        "workflow payloads are JSON, whose map keys are strings; use string keys",
        kind=ErrorKind.INVALID,
        retryable=False,
        details={"type": type(key).__qualname__, "boundary": "workflow"},
    )


def check_size(values: Any, where: str, limit: int = MAX_PAYLOAD_BYTES) -> None:
    """Refuse ``values`` (a list of wire values, see :func:`to_wire`) whose encoded size
    exceeds ``limit`` bytes: ``Error(INVALID)``, not retryable, naming ``where``, the size
    and the limit. Returns ``None`` when they fit."""
    size = sum(p.ByteSize() for p in _PAYLOADS.to_payloads(list(values)))
    if size > limit:
        raise Error(
            f"payload of {where} is too large: {size} bytes encoded, the limit is {limit} "
            "bytes; pass a reference (a file path, a key) instead of the data",
            kind=ErrorKind.INVALID,
            retryable=False,
            details={"size": size, "limit": limit},
        )


# -- the context header ------------------------------------------------------------------


def encode_header(values: Mapping[str, Any]) -> temporalio.api.common.v1.Payload:
    return _PAYLOADS.to_payloads([to_wire(dict(values))])[0]


def decode_header(
    headers: Mapping[str, temporalio.api.common.v1.Payload],
) -> dict[str, Any]:
    """The context map in ``headers`` (empty when absent or unreadable)."""
    payload = headers.get(CONTEXT_HEADER)
    if payload is None:
        return {}
    try:
        value = _PAYLOADS.from_payloads([payload])[0]
    except Exception:
        return {}
    return dict(value) if isinstance(value, Mapping) else {}


def with_header(
    headers: Mapping[str, temporalio.api.common.v1.Payload], values: Mapping[str, Any]
) -> dict[str, temporalio.api.common.v1.Payload]:
    """``headers`` with :data:`CONTEXT_HEADER` set to ``values`` (unchanged if empty)."""
    if not values:
        return dict(headers)
    return {**headers, CONTEXT_HEADER: encode_header(values)}


# -- errors ---------------------------------------------------------------------------------


def to_failure(error: BaseException) -> temporalio.exceptions.ApplicationError:
    """An ``ApplicationError`` carrying the error's kind, message, retryable flag, details."""
    if isinstance(error, temporalio.exceptions.ApplicationError):
        return error
    if not isinstance(error, Error):
        error = as_error(error)
    details = () if error.details is None else (to_wire(error.details),)
    # An error with a deliberate kind is an outcome, not a crash: the SDK logs BENIGN
    # failures at DEBUG. Crashes (INTERNAL, UNKNOWN) keep their warning and traceback.
    benign = error.kind not in (ErrorKind.INTERNAL, ErrorKind.UNKNOWN)
    return temporalio.exceptions.ApplicationError(
        error.message,
        *details,
        type=error.kind.value,
        non_retryable=not error.should_retry,
        category=temporalio.exceptions.ApplicationErrorCategory.BENIGN
        if benign
        else temporalio.exceptions.ApplicationErrorCategory.UNSPECIFIED,
    )


def from_failure(exc: BaseException) -> Error:
    """The :class:`Error` a Temporal failure stands for (kind and retryable preserved).

    Unwraps ``ActivityError`` / ``ChildWorkflowError`` / ``WorkflowFailureError`` to
    their cause. Timeouts become :class:`Timeout`, cancellations kind CANCELED,
    terminations kind INTERNAL with message ``"process terminated"`` (what a terminated
    kernel process exits with).
    """
    te = temporalio.exceptions
    seen = 0
    outer = exc
    while seen < 8 and isinstance(
        exc, (te.ActivityError, te.ChildWorkflowError, temporalio.client.WorkflowFailureError)
    ):
        cause = getattr(exc, "cause", None) or exc.__cause__
        if cause is None:
            break
        exc = cause
        seen += 1
    if isinstance(exc, Error):
        return exc
    if isinstance(exc, te.ApplicationError):
        details: Any = exc.details[0] if len(exc.details) == 1 else (list(exc.details) or None)
        return Error(
            exc.message,
            kind=exc.type or ErrorKind.UNKNOWN,
            retryable=not exc.non_retryable,
            details=details,
        )
    if isinstance(exc, te.TimeoutError):
        how = exc.type.name.lower() if exc.type is not None else "timeout"
        return Timeout(f"{_subject(outer)} timed out ({how})")
    if isinstance(exc, te.CancelledError):
        return Error(f"{_subject(outer)} was canceled", kind=ErrorKind.CANCELED, retryable=False)
    if isinstance(exc, te.TerminatedError):
        return Error(
            "process terminated",
            kind=ErrorKind.INTERNAL,
            retryable=False,
            details={"reason": "terminated"},
        )
    if isinstance(exc, te.FailureError):
        return Error(exc.message or str(exc), kind=ErrorKind.INTERNAL, retryable=False)
    return as_error(exc)


def _subject(exc: BaseException) -> str:
    te = temporalio.exceptions
    if isinstance(exc, te.ActivityError):
        return f"activity {exc.activity_type}"
    if isinstance(exc, te.ChildWorkflowError):
        return f"child workflow {exc.workflow_type} ({exc.workflow_id})"
    return "the operation"
