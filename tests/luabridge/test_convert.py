"""Lua <-> Python conversion: the written rules of ``_convert.py``, and round trips."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from beamish.actors import Error, ErrorKind
from beamish.luabridge import ConversionError, LuaKeyed, Sandbox

SB = Sandbox()
lua = SB.lua
to_lua, from_lua = SB.to_lua, SB.from_lua
L = lua.eval

deep_equal = L("""
function(a, b)
  local function eq(x, y)
    if type(x) ~= type(y) then return false end
    if type(x) == "number" then
      return math.type(x) == math.type(y) and (x == y or (x ~= x and y ~= y))
    end
    if type(x) ~= "table" then return x == y end
    for k, v in pairs(x) do if not eq(v, y[k]) then return false end end
    for k in pairs(y) do if x[k] == nil then return false end end
    return true
  end
  return eq(a, b)
end
""")


def same(a, b) -> bool:
    """Equality that also distinguishes int from float and list from dict."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return a == b


ints = st.integers(min_value=-(2**63), max_value=2**63 - 1)
scalars = st.one_of(st.booleans(), ints, st.floats(allow_nan=False), st.text())
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=6),
        st.dictionaries(st.text(max_size=8), inner, max_size=6),
    ),
    max_leaves=30,
)


# -- round trips ---------------------------------------------------------------------------

@settings(max_examples=300, deadline=None)
@given(values)
def test_python_to_lua_to_python_round_trips(value):
    assert same(from_lua(to_lua(value)), value)


@settings(max_examples=200, deadline=None)
@given(values)
def test_lua_to_python_to_lua_round_trips(value):
    t1 = to_lua(value)
    t2 = to_lua(from_lua(t1))
    assert deep_equal(t1, t2)


@settings(max_examples=200, deadline=None)
@given(st.binary())
def test_bytes_come_back_as_bytes_unless_they_are_utf8(data):
    try:
        expected: object = data.decode("utf-8")
    except UnicodeDecodeError:
        expected = data
    assert from_lua(to_lua([data])) == [expected]
    assert from_lua(to_lua({"k": data})) == {"k": expected}


def test_binary_strings_returned_by_a_task_come_back_as_bytes():
    assert SB.execute("return '\\xff\\x00ok', 'plain'") == (b"\xff\x00ok", "plain")


@settings(max_examples=100, deadline=None)
@given(st.lists(st.one_of(st.none(), ints), min_size=1, max_size=12).filter(
    lambda xs: xs[-1] is not None and sum(x is not None for x in xs) * 2 >= len(xs)))
def test_lists_with_nil_holes_round_trip_when_dense_enough(items):
    assert from_lua(to_lua(items)) == items


# -- the rules, one by one ----------------------------------------------------------------

def test_int_and_float_stay_distinct():
    assert same(from_lua(L("{1, 1.0, 2^53, -0.0}")), [1, 1.0, 2.0**53, -0.0])
    assert L("function(t) return math.type(t[1]), math.type(t[2]) end")(to_lua([3, 3.0])) == (
        "integer", "float")


def test_empty_table_is_a_list_unless_marked_as_a_map():
    assert from_lua(L("{}")) == []
    assert from_lua(to_lua({})) == {}
    assert from_lua(to_lua([])) == []
    assert from_lua(to_lua({"a": {}, "b": []})) == {"a": {}, "b": []}


def test_sequence_rules():
    assert from_lua(L("{1, 2, 3}")) == [1, 2, 3]
    assert from_lua(L("{1, nil, 3}")) == [1, None, 3]
    assert from_lua(L("{[1]='a', [3]='c'}")) == ["a", None, "c"]
    assert from_lua(L("{[5]=1}")) == {5: 1}  # too sparse for a list
    assert from_lua(L("{[0]='z', 'a'}")) == {0: "z", 1: "a"}
    assert from_lua(L("{1, 2, x=3}")) == {1: 1, 2: 2, "x": 3}
    assert from_lua(L("{[1.5]='f', [true]='t'}")) == {1.5: "f", True: "t"}


def test_dict_values_none_are_absent_keys_and_trailing_list_nones_are_lost():
    assert from_lua(to_lua({"a": None, "b": 1})) == {"b": 1}
    assert from_lua(to_lua([1, None])) == [1]


def test_tuples_come_back_as_lists():
    assert from_lua(to_lua((1, 2))) == [1, 2]


@pytest.mark.parametrize("key", [1, 2.5, True, None, (1, 2)])
def test_a_python_dict_with_a_non_string_key_is_an_error_not_a_silent_list(key):
    with pytest.raises(ConversionError, match="cannot cross to Lua: use string keys"):
        to_lua({key: "a"})


def test_tables_with_non_string_keys_come_back_as_lua_keyed_and_keep_their_keys():
    sparse = from_lua(L("{[5] = 'x'}"))
    mixed = from_lua(L("{1, 2, n = 2}"))
    assert type(sparse) is LuaKeyed and sparse == {5: "x"}
    assert type(mixed) is LuaKeyed and mixed == {1: 1, 2: 2, "n": 2}
    assert type(from_lua(L("{a = 1}"))) is dict
    # back into Lua (another process's message) with the same keys
    assert L("function(t) return t[5] end")(to_lua(sparse)) == "x"
    assert from_lua(to_lua(mixed)) == mixed


def test_bytes_reach_lua_as_strings_byte_for_byte():
    raw = bytes(range(256))
    assert L("function(s) return type(s), #s end")(to_lua(raw)) == ("string", 256)
    assert L("function(s) return s:byte(1) + 1000 * s:byte(256) end")(to_lua(raw)) == 255000
    assert from_lua(L("function(s) return {s} end")(to_lua(raw))) == [raw]
    assert from_lua(to_lua({"k": b"\xff\x00"})) == {"k": b"\xff\x00"}


def test_check_lua_payload_refuses_at_the_sender_naming_pid_path_and_type():
    from beamish.actors import Pid
    from beamish.luabridge._convert import check_lua_payload

    pid = Pid("app", 7)
    check_lua_payload(("s", b"b", [1, {"k": pid}], LuaKeyed({1: 2})), pid)  # all fine
    with pytest.raises(ConversionError, match=r"Lua process \{app\|7\}: "
                                              r"payload\[1\]\.k\[2\]: a Python set"):
        check_lua_payload(({"k": [1, {2}]},), pid)
    with pytest.raises(ConversionError, match=r"payload\[2\]: dict key 1 of type int"):
        check_lua_payload(("ok", {1: "a"}), pid)


def test_shared_subtables_are_copied_into_each_place():
    v = from_lua(L("(function() local s = {1} return {a = s, b = s} end)()"))
    assert v == {"a": [1], "b": [1]}
    v["a"].append(2)
    assert v["b"] == [1]


def test_cycles_are_rejected_both_ways():
    with pytest.raises(ConversionError, match=r"value\.me: cyclic table"):
        from_lua(L("(function() local t = {} t.me = t return t end)()"))
    loop: list = []
    loop.append(loop)
    with pytest.raises(ConversionError, match="cyclic list"):
        to_lua(loop)
    d: dict = {}
    d["d"] = d
    with pytest.raises(ConversionError, match="cyclic dict"):
        to_lua(d)


def test_non_convertible_lua_values_name_their_path():
    with pytest.raises(ConversionError, match=r"value\.f: a Lua function cannot be converted"):
        from_lua(L("{f = print}"))
    with pytest.raises(ConversionError, match=r"value\[2\]: a Lua thread"):
        from_lua(L("{1, coroutine.create(print)}"))
    with pytest.raises(ConversionError, match="table keys of type table"):
        from_lua(L("{[{}] = 1}"))
    with pytest.raises(ConversionError, match="a Lua function cannot be converted"):
        from_lua(L("print"))


def test_non_convertible_python_values_name_their_path():
    with pytest.raises(ConversionError, match=r"value\.a\[2\]: a Python set"):
        to_lua({"a": [1, {2}]})
    with pytest.raises(ConversionError, match="does not fit a Lua integer"):
        to_lua(2**64)
    with pytest.raises(ConversionError, match="dict key"):
        to_lua({(1, 2): "tuple key"})
    assert ConversionError("x").kind is ErrorKind.INVALID


def test_nesting_depth_is_bounded_both_ways():
    deep = L("function(n) local t = {} local c = t "
             "for i = 1, n do c.x = {} c = c.x end return t end")
    assert from_lua(deep(150)) is not None
    with pytest.raises(ConversionError, match="nested deeper than 200"):
        from_lua(deep(500))
    v: dict = {}
    cur = v
    for _ in range(500):
        cur["x"] = {}
        cur = cur["x"]
    with pytest.raises(ConversionError, match="nested deeper than 200"):
        to_lua(v)


def test_large_values_cross_in_chunks():
    big = list(range(10_000))
    assert from_lua(to_lua(big)) == big
    pairs_of = L("function(n) local t = {} for i=1,n do t[i] = {i, tostring(i)} end return t end")
    assert from_lua(pairs_of(5000))[4999] == [5000, "5000"]


def test_errors_cross_both_ways_with_kind_retryable_and_details():
    err = Error("no such user", kind=ErrorKind.NOT_FOUND, retryable=False, details={"id": 7})
    t = to_lua(err)
    assert L("function(e) return e:kind(), e:message(), e:retryable(), e:details().id end")(t) == (
        "NotFound", "no such user", False, 7)
    back = from_lua(t)
    assert isinstance(back, Error)
    assert (back.kind, back.message, back.retryable, back.details) == (
        ErrorKind.NOT_FOUND, "no such user", False, {"id": 7})


def test_registered_python_types_use_their_adapter():
    class Token:
        def __init__(self, v: str) -> None:
            self.v = v

    s = Sandbox()
    s.convert.register_type(Token, lambda t: f"token:{t.v}")
    assert s.from_lua(s.to_lua({"t": Token("x")})) == {"t": "token:x"}


def test_args_are_packed_with_n_for_nil_holes():
    packed = SB.convert.to_lua_args([1, None, 3, None])
    assert L("function(t) return t.n, t[1], t[2], t[3] end")(packed) == (4, 1, None, 3)


def test_a_datetime_crosses_into_a_sandbox_whose_time_module_is_not_built_yet():
    import datetime

    from beamish.luabridge import install_modules

    sb = Sandbox()
    install_modules(sb)  # `time` is lazy: nothing has required it
    when = datetime.datetime(2024, 5, 6, 7, 8, 9, 123000, tzinfo=datetime.UTC)
    t = sb.to_lua(when)
    describe = sb.lua.eval("function(t) return t:year(), t:unix_milli() end")
    assert describe(t) == (2024, int(when.timestamp() * 1000))
    assert sb.from_lua(t) == when
