"""Message isolation: a receiver can never mutate what the sender still holds.

Erlang copies every message into the receiver's heap. Python objects are shared by
reference, so beamish copies at ``send`` — but only what can change:

* **Immutable fast path.** ``None``, ``bool``, ``int``, ``float``, ``complex``, ``str``,
  ``bytes``, :class:`Pid`, :class:`Error` and enum members are passed as they are (one
  ``type(x) in set`` test). Tuples and frozensets are passed as they are when all their
  items are immutable, else rebuilt with copied items.
* **Containers are copied**, recursively: ``list``, ``dict``, ``set``, ``bytearray``,
  and dataclass-like objects through :func:`copy.deepcopy` as the last resort.

Alternatives rejected: ``copy.deepcopy`` for everything (≈ 10× slower on small payloads
because of its memo dict), pickling (slower still and rejects lambdas), and freezing
(would change the type users get back). Measured cost (benchmarks/): an int payload
adds one set lookup; a 10-item dict of scalars ≈ 1 µs.

Cycles in containers are handled by deepcopy's memo only in the fallback; plain
list/dict cycles raise ``Error(INVALID)`` telling the sender to break the cycle, since
they cannot cross to Lua or the wire either.
"""

from __future__ import annotations

import copy
import enum
from typing import Any

from ._errors import Error, ErrorKind
from ._pid import Pid

__all__ = ["IMMUTABLE_TYPES", "MAX_DEPTH", "isolate", "isolate_args", "isolate_payload"]

#: Types passed through ``send`` without copying.
IMMUTABLE_TYPES: frozenset[type] = frozenset(
    {type(None), bool, int, float, complex, str, bytes, Pid, range}
)
#: Deepest nesting of containers a payload may have (a list in a list ... 200 levels).
#: The Lua bridge uses the same bound both ways, so any value that leaves a sender can
#: enter any receiver.
MAX_DEPTH = 200


def isolate(value: Any) -> Any:
    """Return a value the receiver may own: ``value`` itself if immutable, else a copy."""
    if type(value) in IMMUTABLE_TYPES:
        return value
    return _copy(value, 0)


def isolate_args(values: tuple[Any, ...]) -> tuple[Any, ...]:
    """Isolate each item of an argument tuple (the hot path of ``send``)."""
    for v in values:
        if type(v) not in IMMUTABLE_TYPES:
            return tuple(_copy(x, 0) for x in values)
    return values


def isolate_payload(payload: tuple[Any, ...], dest: object) -> tuple[Any, ...]:
    """:func:`isolate_args` for a message to ``dest``: a value that cannot be copied is
    ``Error(INVALID)`` naming the destination and the type (details ``boundary:
    process``), raised at the sender with no copy-machinery frames chained."""
    try:
        return isolate_args(payload)
    except Error as exc:
        raise Error(
            f"cannot send to process {dest}: {exc.message}",
            kind=ErrorKind.INVALID,
            retryable=False,
            details={"boundary": "process", "pid": str(dest)},
        ) from None


def _copy(value: Any, depth: int) -> Any:
    t = type(value)
    if t in IMMUTABLE_TYPES:
        return value
    if depth >= MAX_DEPTH:
        raise Error(
            f"message payload nests deeper than {MAX_DEPTH} levels (or contains a cycle); "
            "send a flatter value",
            kind=ErrorKind.INVALID,
            retryable=False,
        )
    d = depth + 1
    if t is list:
        return [_copy(v, d) for v in value]
    if t is dict:
        return {_copy(k, d): _copy(v, d) for k, v in value.items()}
    if t is tuple:
        items = [_copy(v, d) for v in value]
        if all(a is b for a, b in zip(items, value, strict=True)):
            return value
        return tuple(items)
    if t is set:
        return {_copy(v, d) for v in value}
    if t is frozenset:
        return (
            value
            if all(type(v) in IMMUTABLE_TYPES for v in value)
            else frozenset(_copy(v, d) for v in value)
        )
    if t is bytearray:
        return bytearray(value)
    if isinstance(value, (Error, enum.Enum)):
        return value
    try:
        return copy.deepcopy(value)
    except Exception as exc:
        raise Error(
            f"cannot copy message payload of type {t.__name__}: {exc}; "
            "send plain data (numbers, strings, lists, dicts) or a copyable object",
            kind=ErrorKind.INVALID,
            retryable=False,
        ) from None
