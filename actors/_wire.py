"""The wire encoding: msgpack for values crossing between the nodes of a cluster.

What it is for
    A message to a process on another node leaves as bytes and must come back as the
    same plain data, PIDs and errors included, at the speed of in-node sends (the target
    is > 200k messages/s). :func:`pack` / :func:`unpack` do one value; :func:`packer` /
    :func:`unpacker` do a stream of concatenated frames.

Design chosen
    * msgpack (``use_bin_type=True``: ``str`` and ``bytes`` stay apart) with two ext
      types: :data:`PID_EXT` carries a :class:`Pid`'s string form (Wippy's, as in Lua and
      Temporal), :data:`ERROR_EXT` the msgpack of ``[kind, message, retryable, details]``
      of an :class:`Error`.
    * msgpack's C packer does the walk; nothing is checked before it. Only when it fails
      (its ``default`` hook meets a foreign type, an ``int`` overflows, recursion) is the
      value walked again, to name the path of the offending element
      (``payload[1]['k']``: Python subscripts from the root). The depth bound of the
      in-node copy rules (:data:`MAX_DEPTH`) is checked after packing, and only for
      frames longer than ``MAX_DEPTH`` bytes: every level costs at least one byte, so a
      short frame cannot be too deep.
    * The hot ext paths are cached in bounded dicts (cleared past 4096 entries): the
      ``ExtType`` of a PID object when packing (by identity), the :class:`Pid` of its
      bytes when unpacking. The same few PIDs repeat on every message.
    * :func:`pack` uses one :class:`msgpack.Packer` per thread (a Packer's buffer is not
      safe to share: its ``default`` hook runs Python code, where threads switch).

Alternatives rejected
    * Pickle: runs code on the receiver and carries any object; nodes must exchange data.
    * JSON: no ``bytes``, no non-string keys, and slower; ``durable`` uses it only
      because Temporal's UI reads it.
    * A validating walk before packing (as :func:`isolate` does): doubles the cost of
      every send to improve only the error message of the rare bad one.
    * A PID as an ext of ``[node, host, id]``: exact for any parts, but a string is what
      every other boundary (Lua, JSON, Temporal) already carries.

Invariants
    * ``unpack(pack(v)) == v`` for plain data: ``None``, ``bool``, ``int`` in
      ``[-2**63, 2**64)``, ``float``, ``str``, ``bytes``, lists, dicts with scalar keys,
      :class:`Pid` (parts without ``{}|@``) and :class:`Error` (compared on kind, message,
      retryable and details) — except that **tuples arrive as lists**, ``bytearray`` and
      ``memoryview`` as ``bytes``, subclasses of ``int``/``str``/``dict``/``list`` (enums,
      ``LuaKeyed``) as their base type and an :class:`Error` subclass as a plain
      :class:`Error` (no stack, no extra attributes).
    * Anything else fails at the sender as ``Error(INVALID)``, not retryable, naming the
      destination, the path and the type; nothing is sent half-encoded. Depth counts from
      the packed value (a container at depth ``MAX_DEPTH`` is refused), so an envelope
      around a payload spends levels of its own.
    * Limit: a dict key must be a scalar; a tuple key packs, but the receiver cannot
      rebuild it (a list is not hashable) and :func:`unpack` refuses the frame.
"""

from __future__ import annotations

import reprlib
import threading
from typing import Any

import msgpack

from ._errors import Error, ErrorKind
from ._isolate import MAX_DEPTH
from ._pid import Pid

__all__ = [
    "ERROR_EXT",
    "MAX_FRAME_BYTES",
    "PID_EXT",
    "pack",
    "packer",
    "unpack",
    "unpacker",
]

PID_EXT = 1
ERROR_EXT = 2
#: The largest frame :func:`unpacker` must hold; its buffer may hold two (one being
#: parsed, the start of the next).
MAX_FRAME_BYTES = 64 * 1024 * 1024

_INT_MIN = -(2**63)
_INT_MAX = 2**64 - 1
_CACHE_MAX = 4096
_PLAIN = (
    "None, bool, int, float, str, bytes, lists, tuples (they arrive as lists), dicts, "
    "Pids and Errors"
)
_ExtType = msgpack.ExtType


# ---------------------------------------------------------------------------- packing

_pid_exts: dict[int, tuple[Pid, msgpack.ExtType]] = {}


def _default(obj: Any) -> Any:
    """msgpack's hook for what it cannot pack itself: PIDs, errors; else refuse."""
    hit = _pid_exts.get(id(obj))
    if hit is not None and hit[0] is obj:
        return hit[1]
    if obj.__class__ is Pid:
        if len(_pid_exts) >= _CACHE_MAX:
            _pid_exts.clear()
        ext = _ExtType(PID_EXT, str(obj).encode())
        _pid_exts[id(obj)] = (obj, ext)  # holding obj keeps its id from being reused
        return ext
    if isinstance(obj, Error):
        message = obj.message if type(obj.message) is str else str(obj.message)
        fields = [obj.kind.value, message, obj.retryable, obj.details]
        # A fresh packer: the calling one is mid-pack and must not be re-entered.
        return _ExtType(ERROR_EXT, msgpack.packb(fields, default=_default, use_bin_type=True))
    raise _invalid(
        f"cannot encode {_a(type(obj).__qualname__)} for the wire; send plain data: {_PLAIN}"
    )


def packer() -> msgpack.Packer:
    """A reusable Packer with the wire's rules (``autoreset``: ``pack`` returns bytes).

    Faster than :func:`pack` by a call, but unchecked: no path in its errors and no
    depth bound. Not safe to share between threads.
    """
    return msgpack.Packer(default=_default, use_bin_type=True, autoreset=True)


class _Local(threading.local):
    def __init__(self) -> None:
        self.packer = packer()


_local = _Local()


def pack(value: Any, dest: object = None) -> bytes:
    """The msgpack bytes of ``value``; ``Error(INVALID)`` when it is not plain data.

    ``dest`` (a PID, a node name) only names the destination in the error message.
    """
    try:
        data: bytes = _local.packer.pack(value)
    except (Error, TypeError, ValueError, OverflowError, RecursionError) as exc:
        raise _refusal(value, dest, exc) from None
    if len(data) > MAX_DEPTH and _too_deep(value):
        raise _refusal(value, dest, None)
    return data


# -------------------------------------------------------------------------- unpacking

_pids: dict[bytes, Pid] = {}


def _ext_hook(code: int, data: bytes) -> Any:
    if code == PID_EXT:
        pid = _pids.get(data)
        if pid is None:
            if len(_pids) >= _CACHE_MAX:
                _pids.clear()
            pid = _pids[data] = Pid.parse(data.decode())
        return pid
    if code == ERROR_EXT:
        fields = msgpack.unpackb(data, raw=False, strict_map_key=False, ext_hook=_ext_hook)
        if (
            type(fields) is not list
            or len(fields) != 4
            or type(fields[0]) is not str
            or type(fields[1]) is not str
        ):
            raise _invalid(f"malformed error on the wire: {reprlib.repr(fields)}")
        kind, message, retryable, details = fields
        return Error(message, kind=kind, retryable=retryable, details=details)
    raise _invalid(
        f"unknown msgpack ext type {code} on the wire; the peer runs another version of "
        "beamish (known: 1 = Pid, 2 = Error)"
    )


def unpack(data: bytes) -> Any:
    """The value of one frame made by :func:`pack`; ``Error(INVALID)`` if it is not one."""
    try:
        return msgpack.unpackb(data, raw=False, strict_map_key=False, ext_hook=_ext_hook)
    except Error:
        raise
    except Exception as exc:
        raise _invalid(
            f"cannot decode a wire frame: {type(exc).__name__}: {exc}; the bytes were not "
            "made by beamish's pack (corrupted, truncated or another protocol)"
        ) from None


def unpacker() -> msgpack.Unpacker:
    """A streaming Unpacker: ``feed`` it bytes (concatenated frames, cut anywhere) and
    iterate it for the complete values. Its errors are msgpack's, or ``Error(INVALID)``
    from an ext."""
    return msgpack.Unpacker(
        raw=False,
        strict_map_key=False,
        ext_hook=_ext_hook,
        max_buffer_size=2 * MAX_FRAME_BYTES,
    )


# ---------------------------------------------------------------- the refusal (slow path)


def _invalid(message: str, **details: Any) -> Error:
    return Error(message, kind=ErrorKind.INVALID, retryable=False, details=details or None)


_FLAT = frozenset({type(None), bool, int, float, str, bytes, Pid})


def _too_deep(value: Any) -> bool:
    """Whether a container sits at depth ``MAX_DEPTH`` or deeper, walked level by level
    (a container of scalars is passed at C speed). Runs only on values msgpack packed,
    whose size bounds the walk."""
    level = [value]
    for _ in range(MAX_DEPTH):
        below: list[Any] = []
        for v in level:
            t = type(v)
            if t is dict:
                v = v.values()
            elif t is list or t is tuple:
                pass
            elif isinstance(v, dict):
                v = v.values()
            elif isinstance(v, list | tuple):
                pass
            elif isinstance(v, Error):
                v = (v.details,)
            else:
                continue
            if not _FLAT.issuperset(map(type, v)):
                below += [x for x in v if type(x) not in _FLAT]
        if not below:
            return False
        level = below
    return any(isinstance(v, list | tuple | dict | Error) for v in level)


def _refusal(value: Any, dest: object, exc: BaseException | None) -> Error:
    found = _find(value, "payload", 0)
    if found is None:  # msgpack refused something the walk accepts (e.g. > 4 GiB)
        path, tname, problem = "payload", type(value).__qualname__, f"fails: {exc}"
    else:
        path, tname, problem = found
    if dest is None:
        head = f"cannot encode {_a(tname)} for the wire"
    else:
        head = f"cannot send {_a(tname)} to {dest}"
    details = {"boundary": "wire", "path": path, "type": tname}
    if dest is not None:
        details["dest"] = str(dest)
    shown = path if len(path) <= 120 else f"{path[:60]}...{path[-50:]}"
    return _invalid(f"{head}: {shown} {problem}", **details)


def _find(value: Any, path: str, depth: int) -> tuple[str, str, str] | None:
    """The first element msgpack cannot carry: ``(path, type name, problem)``."""
    if value is None or isinstance(value, float | bytes | bytearray | memoryview | Pid):
        return None
    if isinstance(value, int):
        if _INT_MIN <= value <= _INT_MAX:
            return None
        return path, "int", f"is {value}, outside the 64-bit range; send big numbers as str"
    if isinstance(value, str):
        try:
            value.encode()
        except UnicodeEncodeError:
            return path, "str", "is not valid Unicode (a lone surrogate); send bytes"
        return None
    tname = type(value).__qualname__
    container = isinstance(value, list | tuple | dict | Error)
    if container and depth >= MAX_DEPTH:
        return (
            path,
            tname,
            f"nests deeper than {MAX_DEPTH} levels (or contains a cycle); send a flatter value",
        )
    if isinstance(value, list | tuple):
        for i, v in enumerate(value):
            found = _find(v, f"{path}[{i}]", depth + 1)
            if found is not None:
                return found
        return None
    if isinstance(value, dict):
        for k, v in value.items():
            key = reprlib.repr(k)
            found = _find(k, f"{path} key {key}", depth + 1) or _find(
                v, f"{path}[{key}]", depth + 1
            )
            if found is not None:
                return found
        return None
    if isinstance(value, Error):
        return _find(value.details, f"{path}.details", depth + 1)
    return path, tname, f"is {_a(tname)}; send plain data: {_PLAIN}"


def _a(noun: str) -> str:
    return f"an {noun}" if noun[:1] in "aeiouAEIOU" else f"a {noun}"
