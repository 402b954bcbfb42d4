"""Lua <-> Python values: one deep conversion each way, with written rules.

Why: lupa converts only scalars by itself; a Lua table reaches Python as a live proxy
(``_LuaTable``) into the Lua heap and a Python list reaches Lua as userdata indexed from
0. Neither may cross a process boundary: messages, spawn arguments, call arguments and
results, and values handed to Python modules must be plain, deep *copies* (a receiver
can never mutate what the sender still holds). Every crossing goes through
:class:`Converter`.

The rules
=========

Python -> Lua (:meth:`Converter.to_lua`)

=================================  ==========================================================
``None``                           ``nil`` (as a list item: a hole; as a dict value: no key)
``bool`` / ``int`` / ``float``     boolean / integer / float (Lua 5.5 keeps int and float
                                   apart: ``1`` stays an integer, ``1.0`` a float). An ``int``
                                   outside the signed 64-bit range is an error.
``str``                            string (UTF-8)
``bytes``, ``bytearray``           string (raw bytes)
``list``, ``tuple``                sequence table ``{[1]=..., [n]=...}``
``dict`` (any ``Mapping``)         table; keys must be ``str`` (or ``bytes``). Number and
                                   boolean keys only in a :class:`LuaKeyed` (a dict that
                                   came from Lua): ``{1: "a"}`` is an error, never a
                                   silent list
empty ``dict``                     empty table *marked as a map* (so it comes back as ``{}``
                                   and ``json.encode`` writes ``{}``)
empty ``list``/``tuple``           empty table (comes back as ``[]``)
:class:`beamish.actors.Error`      an error object (``err:kind()``, ``err:message()``...)
types registered with              whatever the adapter returns (e.g. a ``Pid`` becomes its
:meth:`Converter.register_type`    string, a ``datetime`` a ``time`` module Time)
Lua objects of the same runtime    passed through unchanged (internal use only)
anything else                      :class:`ConversionError`, naming the path and the type
=================================  ==========================================================

Lua -> Python (:meth:`Converter.from_lua`)

=================================  ==========================================================
``nil`` / boolean                  ``None`` / ``bool``
integer / float                    ``int`` / ``float`` (never merged: ``2.0`` stays float)
string                             ``str`` if valid UTF-8, else ``bytes``
table with no keys                 ``[]``, or ``{}`` if it was marked as a map
table whose keys are all positive  ``list`` of length max-key; missing slots (nil holes)
integers, max key <= 2 x count     become ``None``. ``{1, nil, 3}`` -> ``[1, None, 3]``
any other table                    ``dict``; keys string/number/boolean; with any key not a
                                   string a :class:`LuaKeyed`. ``{[5]=1}`` (too sparse) ->
                                   ``LuaKeyed({5: 1})``
error object                       :class:`beamish.actors.Error` (kind, message, retryable,
                                   details, stack)
objects with an exporter           what the registered tag handler makes of their plain form
function, thread, userdata         :class:`ConversionError` naming the path
a Python object that went through  :class:`ConversionError` ("a host object cannot be
Lua                                converted"): only Lua values leave a script
a table reachable from itself      :class:`ConversionError` ("cyclic table"); a subtable
                                   shared by two branches is copied into both
more than 1,000,000 nodes, more    :class:`ConversionError`. The depth bound is the same
than 200 levels of tables, or more both ways and in the kernel's isolation
than ``max_payload`` bytes of      (``beamish.actors.MAX_DEPTH``), so what
strings                            leaves a sender can enter any receiver
=================================  ==========================================================

A message for a Lua process is checked at ``send`` (:func:`check_lua_payload`, called by
the kernel for any payload that is not all scalars), so the sender gets the error. A
value arriving by another way that cannot enter Lua becomes an error value
(:meth:`Converter.received`): the receiver is never the one harmed. A conversion into
Lua that would not fit under the runtime's memory headroom fails before any push
(:attr:`Converter.room`).

Consequences worth knowing: trailing ``None`` items of a list are lost (Lua has no
length for them); a dict with keys ``1..n`` comes back as a list; a tuple comes back as a
list; ``bytes`` that happen to be valid UTF-8 come back as ``str``.

Design chosen: the Lua -> Python walk happens *in Lua* (``export`` in the prelude): one
call flattens the value into a tag string plus the scalar values, with cycle detection
(lupa proxies have no identity in Python, so cycles cannot be detected there) and with
raw access only (no script metamethod runs on the host's behalf). Python then rebuilds
the value from that stream. Measured alternative rejected: walking ``_LuaTable.items()``
recursively costs a Lua call per table and cannot detect cycles. Python -> Lua uses
``LuaRuntime.table_from`` per container, with cycle detection by ``id``.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Mapping
from typing import Any

from lupa import lua55 as _lua

from beamish.actors import MAX_DEPTH, Error, ErrorKind, Pid

from ._lib_errors import lua_kind

__all__ = ["ConversionError", "Converter", "LuaKeyed", "check_lua_payload"]

_INT_MIN = -(2**63)
_INT_MAX = 2**63 - 1
_lua_type = _lua.lua_type
_SCALARS = (type(None), bool, int, float, str)


class ConversionError(Error):
    """A value cannot cross the Lua/Python boundary; the message names where and why."""

    kind = ErrorKind.INVALID

    def __init__(self, message: str, **kw: Any) -> None:
        kw.setdefault("retryable", False)
        super().__init__(message, **kw)


class LuaKeyed(dict):  # type: ignore[type-arg]
    """A ``dict`` made from a Lua table whose keys are not all strings (a sparse array
    such as ``{[5] = "x"}``, or a mixed table such as ``{1, 2, n = 2}``).

    Only such a dict enters Lua with number or boolean keys: a plain Python dict must
    use string keys, because Lua would read ``{1: "a"}`` back as the list ``["a"]``.
    Sending one to a workflow writes its keys as strings (JSON has no other keys).
    """

    __slots__ = ()


def check_lua_payload(payload: tuple[Any, ...], dest: Any) -> None:
    """Refuse, at the sender, a message payload a Lua process could not take.

    Raises :class:`ConversionError` naming ``dest``, the path and the type; the rules
    are :meth:`Converter.to_lua`'s (module docstring), checked without a Lua runtime.
    """
    for i, value in enumerate(payload, 1):
        problem = _lua_problem(value, f"payload[{i}]", 0)
        if problem is not None:
            raise ConversionError(
                f"cannot send to Lua process {dest}: {problem}",
                details={"boundary": "lua", "pid": str(dest)},
            )


_LUA_LEAVES = (type(None), bool, float, str, bytes, bytearray, memoryview, Error)


def _lua_problem(value: Any, path: str, depth: int) -> str | None:
    if isinstance(value, _LUA_LEAVES):
        return None
    if isinstance(value, int):
        return None if _INT_MIN <= value <= _INT_MAX else _int_range_message(path, value)
    if depth >= MAX_DEPTH:
        return f"{path}: nested deeper than {MAX_DEPTH} levels"
    if isinstance(value, list | tuple):
        for i, v in enumerate(value, 1):
            problem = _lua_problem(v, f"{path}[{i}]", depth + 1)
            if problem is not None:
                return problem
        return None
    if isinstance(value, Mapping):
        keyed = type(value) is LuaKeyed
        for k, v in value.items():
            problem = _key_problem(k, path, keyed) or _lua_problem(v, f"{path}.{k}", depth + 1)
            if problem is not None:
                return problem
        return None
    if isinstance(value, _ADAPTED):
        return None
    return (f"{path}: a Python {type(value).__name__} cannot be converted to Lua (use "
            "None, bool, int, float, str, bytes, lists, tuples and dicts with string keys)")


def _key_problem(key: Any, path: str, keyed: bool) -> str | None:
    if isinstance(key, str | bytes):
        return None
    if isinstance(key, int | float) and keyed:
        return None
    return (f"{path}: dict key {key!r} of type {type(key).__name__} cannot cross to Lua: "
            "use string keys (a Lua table with integer keys reads as a list), or a list")


#: Types every runtime's Converter has an adapter for (``install_modules``: a PID
#: becomes its string, a datetime a ``time`` value), accepted by
#: :func:`check_lua_payload`.
_ADAPTED: tuple[type, ...] = (Pid, datetime.datetime)


class Converter:
    """Deep conversion between Python values and the Lua values of one runtime."""

    def __init__(self, lua: Any, host: Any, *, max_payload: int = 16 * 1024 * 1024,
                 room: int | None = None) -> None:
        #: Bytes of string data one value may carry out of Lua (``limits.max_payload``).
        self.max_payload = max_payload
        #: Heap size (bytes) under which a conversion into Lua may build tables: a push
        #: that fails for lack of memory would abort the process, so a value that does
        #: not fit fails here instead (``None``: no check).
        self.room = room
        self._used = lua.get_memory_used
        self._collect = lua.gccollect
        #: String bytes of the last value :meth:`from_lua` converted (for quotas).
        self.last_bytes = 0
        self._table_from = lua.table_from
        self._mark_map = host.mark_map
        self._new_error = host.new_error
        self._export = host.export
        self._unpack = host.unpack
        self._pack = host.pack
        self._adapters: dict[type, Callable[[Any], Any]] = {}
        self._tags: dict[str, Callable[[Any], Any]] = {}

    # -- extension points -------------------------------------------------------------

    def register_type(self, tp: type, adapter: Callable[[Any], Any]) -> None:
        """Convert instances of ``tp`` (and subclasses) with ``adapter`` on the way to Lua.

        The adapter returns a Python value that is converted in its place, or a Lua
        object of this runtime (used as is).
        """
        self._adapters[tp] = adapter

    def register_tag(self, tag: str, decode: Callable[[Any], Any]) -> None:
        """Decode objects the Lua exporter tagged ``tag`` (an upper-case letter)."""
        self._tags[tag] = decode

    # -- Python -> Lua ----------------------------------------------------------------

    def to_lua(self, value: Any) -> Any:
        """Convert a Python value to a Lua value (a fresh deep copy for containers)."""
        tp = type(value)
        if tp is str:
            if len(value) > 65536:
                self._make_room(4 * len(value))
            return value
        if tp is bool or tp is float or value is None:
            return value
        if tp is int:
            if _INT_MIN <= value <= _INT_MAX:
                return value
            raise ConversionError(_int_range_message("value", value))
        return self._to_lua(value, set(), "value")

    def to_lua_args(self, values: Any) -> Any:
        """A Lua ``table.pack``-style table ``{n=len, ...}`` of converted values."""
        return self._table_from_args([self.to_lua(v) for v in values])

    def _table_from_args(self, items: list[Any]) -> Any:
        return self._pack(*items)

    def _to_lua(self, value: Any, active: set[int], path: str) -> Any:
        tp = type(value)
        if tp is str:
            if len(value) > 65536:
                self._make_room(4 * len(value))
            return value
        if tp is bool or tp is float or value is None:
            return value
        if tp is int:
            if _INT_MIN <= value <= _INT_MAX:
                return value
            raise ConversionError(_int_range_message(path, value))
        if tp is bytes:
            if len(value) > 65536:
                self._make_room(len(value))
            return value
        if tp is bytearray or tp is memoryview:
            self._make_room(len(value))
            return bytes(value)
        if tp is list or tp is tuple:
            return self._seq_to_lua(value, active, path)
        if tp is dict:
            return self._map_to_lua(value, active, path)
        if isinstance(value, Error):
            return self._error_to_lua(value, active, path)
        adapter = self._find_adapter(tp)
        if adapter is not None:
            out = adapter(value)
            if _lua_type(out) is not None:
                return out
            return self._to_lua(out, active, path)
        if _lua_type(value) is not None:
            return value
        if isinstance(value, bool | int | float | str):  # subclasses (IntEnum, StrEnum...)
            return self._to_lua(_base_scalar(value), active, path)
        if isinstance(value, list | tuple):
            return self._seq_to_lua(value, active, path)
        if isinstance(value, Mapping):
            return self._map_to_lua(value, active, path)
        raise ConversionError(
            f"{path}: a Python {tp.__name__} cannot be converted to Lua (use None, bool, "
            "int, float, str, bytes, lists, tuples and dicts of them)"
        )

    def _find_adapter(self, tp: type) -> Callable[[Any], Any] | None:
        if not self._adapters:
            return None
        for base in tp.__mro__:
            adapter = self._adapters.get(base)
            if adapter is not None:
                return adapter
        return None

    def _make_room(self, nbytes: int) -> None:
        """Fail (before any push) if ``nbytes`` more would not fit under :attr:`room`."""
        room = self.room
        if room is None or self._used() + nbytes <= room:
            return
        self._collect()
        if self._used() + nbytes > room:
            raise Error("not enough Lua memory on this host to take the value (its "
                        "limits.memory is full)", kind=ErrorKind.INTERNAL, retryable=True)

    def _seq_to_lua(self, value: Any, active: set[int], path: str) -> Any:
        key = id(value)
        if key in active:
            raise ConversionError(f"{path}: cyclic list (a list that contains itself)")
        _check_depth(active, path)
        self._make_room(64 * len(value) + 4096)
        active.add(key)
        try:
            items = [
                v if (type(v) is str or type(v) is float or v is None)
                else self._to_lua(v, active, f"{path}[{i}]")
                for i, v in enumerate(value, 1)
            ]
        finally:
            active.discard(key)
        return self._table_from(items)

    def _map_to_lua(self, value: Mapping[Any, Any], active: set[int], path: str) -> Any:
        if not value:
            return self._mark_map(self._table_from({}))
        key = id(value)
        if key in active:
            raise ConversionError(f"{path}: cyclic dict (a dict that contains itself)")
        _check_depth(active, path)
        self._make_room(96 * len(value) + 4096)
        active.add(key)
        try:
            out: dict[Any, Any] = {}
            keyed = type(value) is LuaKeyed
            for k, v in value.items():
                tk = type(k)
                if tk is str or tk is bytes:
                    lk = k
                elif keyed and (tk is int or tk is float or tk is bool):
                    if tk is int and not _INT_MIN <= k <= _INT_MAX:
                        raise ConversionError(_int_range_message(f"{path} key", k))
                    lk = k
                elif isinstance(k, str):
                    lk = str(k)
                else:
                    raise ConversionError(_key_problem(k, path, keyed) or path)
                out[lk] = self._to_lua(v, active, f"{path}.{k}")
        finally:
            active.discard(key)
        return self._table_from(out)

    def _error_to_lua(self, err: Error, active: set[int], path: str) -> Any:
        details = err.details
        if details is not None:
            try:
                details = self._to_lua(details, active, f"{path}.details")
            except ConversionError:
                details = str(details)
        return self._new_error(lua_kind(err.kind), err.message, err.retryable, details,
                               err.script_stack)

    def error_to_lua(self, err: Error) -> Any:
        """A Lua error object for ``err`` (details converted when possible)."""
        return self._error_to_lua(err, set(), "error")

    # -- Lua -> Python ----------------------------------------------------------------

    def from_lua(self, value: Any) -> Any:
        """Convert a Lua value (as lupa hands it over) to a plain Python value.

        Raises :class:`ConversionError` for what cannot cross (functions, cycles, more
        than :attr:`max_payload` bytes of strings...), and for a Python object that went
        through Lua: only Lua values ever leave a script.
        """
        tp = type(value)
        if tp is str:
            n = len(value)
            if n > self.max_payload // 4 and len(value.encode("utf-8", "surrogatepass")) \
                    > self.max_payload:
                raise ConversionError(_too_large(self.max_payload))
            self.last_bytes = n
            return value
        if tp in _SCALARS:
            self.last_bytes = 0
            return value
        lt = _lua_type(value)
        if lt == "table":
            return self._from_table(value)
        if lt is None:
            raise ConversionError(
                f"value: a host object ({tp.__name__}) cannot be converted; only nil, "
                "booleans, numbers, strings and tables of them cross the boundary"
            )
        raise ConversionError(
            f"value: a Lua {lt} cannot be converted (only nil, booleans, numbers, strings "
            "and tables of them cross the boundary)"
        )

    def received(self, value: Any) -> Any:
        """:meth:`to_lua` for a value arriving from outside (a message from a Python
        process): a value that cannot enter Lua becomes an error value the script can
        inspect, so the receiver is never the one harmed by what a sender sent."""
        tp = type(value)
        if (tp is int and _INT_MIN <= value <= _INT_MAX) or tp is bool or tp is float:
            return value
        try:
            return self.to_lua(value)
        except ConversionError as exc:
            return self.error_to_lua(Error(
                f"a received value could not be converted to Lua: {exc.message}",
                kind=ErrorKind.INVALID, retryable=False))

    def from_lua_args(self, values: Any) -> list[Any]:
        """Convert each of several Lua values (e.g. a function's results)."""
        return [self.from_lua(v) for v in values]

    def _from_table(self, table: Any) -> Any:
        r = self._export(table)
        tags = r[0]
        if tags is None:
            raise ConversionError(r[1])
        nv = r[1]
        self.last_bytes = r[2]
        if r[3] is None:
            vals: Any = r[4:]
        else:
            big = r[3]
            unpack = self._unpack
            vals = []
            for lo in range(1, nv + 1, 4000):
                chunk = unpack(big, lo, min(lo + 3999, nv))
                if type(chunk) is tuple:
                    vals.extend(chunk)
                else:
                    vals.append(chunk)
        return self._decode(tags, vals)

    def _decode(self, tags: str, vals: Any) -> Any:
        next_val = iter(vals).__next__
        pos = 0
        tag_handlers = self._tags

        def node() -> Any:
            nonlocal pos
            tag = tags[pos]
            pos += 1
            if tag == "s" or tag == "i" or tag == "d":
                return next_val()
            if tag == "L":
                return [node() for _ in range(next_val())]
            if tag == "M":
                d = {}
                plain = True
                for _ in range(next_val()):
                    k = node()
                    if plain and type(k) is not str:
                        plain = False
                    d[k] = node()
                return d if plain else LuaKeyed(d)
            if tag == "n":
                return None
            if tag == "t":
                return True
            if tag == "f":
                return False
            if tag == "x":
                return bytes.fromhex(next_val())
            if tag == "X":  # a boxed binary string (top-level value of a step)
                return bytes.fromhex(node())
            if tag == "E":
                kind, message, retryable, details, stack = node(), node(), node(), node(), node()
                return Error(
                    message if isinstance(message, str) else str(message),
                    kind=kind if isinstance(kind, str) else ErrorKind.UNKNOWN,
                    retryable=retryable if isinstance(retryable, bool) else None,
                    details=details,
                    stack=stack if isinstance(stack, str) and stack else None,
                )
            handler = tag_handlers.get(tag)
            plain = node()
            if handler is None:
                return plain
            return handler(plain)

        return node()




def _too_large(limit: int) -> str:
    return (f"value: too large: more than {limit} bytes of string data (the host's "
            "limits.max_payload); send a smaller value or split it")


def _check_depth(active: set[int], path: str) -> None:
    if len(active) >= MAX_DEPTH:
        raise ConversionError(f"{path}: nested deeper than {MAX_DEPTH} levels")


def _int_range_message(path: str, value: int) -> str:
    return (
        f"{path}: integer {value} does not fit a Lua integer (signed 64-bit); "
        "pass it as a string or a float"
    )


def _base_scalar(value: Any) -> Any:
    for tp in (bool, int, float, str):
        if isinstance(value, tp):
            return tp(value)
    return value
