"""Error values as Wippy scripts see them, and their crossing to and from Python.

The shapes are Wippy's (its ``errors`` module in Go): ``err:kind()`` is ``""`` when
unknown, ``err:retryable()`` true/false/nil, ``err:details()`` a table or nil,
``err:stack()`` a string; ``type(err)`` is ``"userdata"``; ``tostring``, ``..`` and the
string library read an error as its message.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from beamish.actors import Error, ErrorKind
from beamish.luabridge import Sandbox, install_modules

SB = Sandbox()
install_modules(SB)


def run(body: str):
    """Run ``body`` (a chunk) in a fresh script environment; return its result."""
    return SB.execute(body, chunkname="probe.lua")


def raised(body: str) -> str:
    """The message ``body`` raises (as a string), run under pcall in the script."""
    ok, msg = run(f"return pcall(function() {body} end)")
    assert ok is False
    return msg


# -- constants and construction ----------------------------------------------------------

def test_constants_are_wippy_strings_and_unknown_is_empty():
    got = run("return {errors.NOT_FOUND, errors.ALREADY_EXISTS, errors.INVALID, "
              "errors.PERMISSION_DENIED, errors.UNAVAILABLE, errors.INTERNAL, "
              "errors.CANCELED, errors.CONFLICT, errors.TIMEOUT, errors.RATE_LIMITED, "
              "errors.UNKNOWN}")
    assert got == ["NotFound", "AlreadyExists", "Invalid", "PermissionDenied", "Unavailable",
                   "Internal", "Canceled", "Conflict", "Timeout", "RateLimited", ""]


def test_a_plain_error_has_wippy_defaults():
    got = run("""local e = errors.new("simple")
      return {e:message(), e:kind(), e:retryable() == nil, e:details() == nil,
              type(e:stack())}""")
    assert got == ["simple", "", True, True, "string"]


def test_table_form_keeps_kind_retryable_and_details():
    got = run("""local e = errors.new{message = "not found", kind = errors.NOT_FOUND,
                                      retryable = false, details = {id = 123, tags = {1, 2}}}
      local d = e:details()
      return {e:message(), e:kind(), e:retryable(), d.id, d.tags}""")
    assert got == ["not found", "NotFound", False, 123, [1, 2]]


def test_table_form_ignores_what_wippy_ignores():
    got = run("""local e = errors.new{message = "m", kind = 5, retryable = "yes", details = "x"}
      return {e:kind(), e:retryable() == nil, e:details() == nil}""")
    assert got == ["", True, True]


def test_kinds_are_kept_verbatim():
    assert run('return errors.new{message = "m", kind = "Custom"}:kind()') == "Custom"


def test_empty_details_are_nil():
    assert run('return errors.new{message = "m", details = {}}:details() == nil') is True


@pytest.mark.parametrize(("body", "expected"), [
    ("errors.new()", "expected string or table, got nil"),
    ("errors.new(42)", "expected string or table, got number"),
    ("errors.new{kind = errors.INVALID}", "message field is required"),
    ("errors.new{message = {}}", "message must be a string"),
    ("errors.new(errors.INVALID, 'two args')", "is not supported"),
])
def test_bad_constructions_raise_naming_the_argument(body, expected):
    assert expected in raised(body)


def test_details_with_a_cycle_are_refused():
    msg = raised("local t = {}; t.me = t; errors.new{message = 'm', details = t}")
    assert "bad argument #1 to 'new'" in msg and "cycle" in msg


def test_details_nested_too_deep_are_refused():
    msg = raised("""local t = {}; local c = t
      for _ = 1, 150 do c.x = {}; c = c.x end
      errors.new{message = 'm', details = t}""")
    assert "deeper than" in msg


def test_details_are_copies_the_script_cannot_change():
    got = run("""local src = {n = 1, sub = {v = "a"}}
      local e = errors.new{message = "m", details = src}
      src.n = 2; src.sub.v = "changed"
      local d = e:details()
      d.n = 99
      return {e:details().n, e:details().sub.v}""")
    assert got == [1, "a"]


def test_details_of_non_data_become_strings():
    got = run("""local e = errors.new{message = "m", details = {
        f = print, inner = errors.new("nested"), [{}] = "table key dropped"}}
      local d = e:details()
      local keys = 0
      for _ in pairs(d) do keys = keys + 1 end
      return {type(d.f), d.inner, keys}""")
    assert got == ["string", "nested", 2]


# -- methods ----------------------------------------------------------------------------

def test_methods_on_a_non_error_answer_defaults():
    got = run("""local e = errors.new("x")
      return {e.kind({}), e.message("str"), e.retryable(5) == nil, e.details({}) == nil,
              e.stack(nil)}""")
    assert got == ["", "", True, True, ""]


def test_unknown_methods_are_not_string_methods():
    assert "upper" in raised('errors.new("x"):upper()')


def test_length_of_an_error_is_an_error():
    assert "length of an error value" in raised('return #errors.new("x")')


def test_errors_cannot_gain_fields():
    assert "cannot modify" in raised('local e = errors.new("x"); e.kind = function() end')


# -- strings ------------------------------------------------------------------------------

def test_tostring_and_concatenation_give_the_message():
    got = run("""local e, f = errors.new("one"), errors.new("two")
      return {tostring(e), "a: " .. e, e .. " :b", e .. f, e .. 1, 2 .. e}""")
    assert got == ["one", "a: one", "one :b", "onetwo", "one1", "2one"]


def test_string_functions_accept_an_error_as_a_string():
    got = run("""local e = errors.new("process not found: x")
      return {string.find(e, "not found"), string.match(e, "found: (%a+)"),
              string.format("%s!", e), string.len(e), string.upper(e), string.sub(e, 1, 7),
              (string.gsub(e, "x", "y")), select("#", string.byte(e, 1, 3)),
              (("process not found"):find(errors.new("not"), 1, true))}""")
    assert got == [9, "x", "process not found: x!", 20, "PROCESS NOT FOUND: X", "process",
                   "process not found: y", 3, 9]


def test_string_find_with_pattern_characters_in_the_message():
    got = run("""local e = errors.new("bad value (100%) [x]")
      return {{string.find(e, "(100%)", 1, true)}, {string.find(e, "%(100%%%)")},
              {pcall(string.find, e, "[")}}""")
    assert got[0] == [11, 16]
    assert got[1] == [11, 16]
    assert got[2][0] is False and "malformed pattern" in got[2][1]


def test_an_error_as_the_pattern():
    assert run('return string.find("a.b", errors.new("."), 1, true)') == (2, 2)


def test_a_huge_message_is_searched_like_a_string():
    got = run("""local e = errors.new(string.rep("x", 1000000) .. "needle")
      return {string.find(e, "needle", 1, true), #tostring(e), #e:message()}""")
    assert got == [1000001, 1000006, 1000006]


def test_string_functions_still_reject_other_tables():
    assert "bad argument #1" in raised('string.find({}, "x")')


# -- type, equality, pcall ----------------------------------------------------------------

def test_type_is_userdata_and_getmetatable_names_it():
    assert run('local e = errors.new("x"); return {type(e), getmetatable(e), type({})}') == [
        "userdata", "error", "table"]


def test_type_without_an_argument_still_fails():
    assert "bad argument #1 to 'type'" in raised("type()")


def test_equality_is_identity():
    assert run("""local e = errors.new("x")
      return {e == e, e == errors.new("x"), rawequal(e, e)}""") == [True, False, True]


def test_error_and_pcall_keep_the_same_value():
    assert run("""local e = errors.new{message = "m", kind = errors.CONFLICT}
      local ok, got = pcall(error, e)
      local ok2, got2 = pcall(function() error(e) end)
      return {ok, got == e, ok2, got2 == e, got2:kind()}""") == [
        False, True, False, True, "Conflict"]


# -- is, wrap, stack, call_stack -----------------------------------------------------------

def test_is_matches_the_kind():
    assert run("""local e = errors.new{message = "t", kind = errors.TIMEOUT}
      return {errors.is(e, errors.TIMEOUT), errors.is(e, errors.NOT_FOUND),
              errors.is("text", errors.TIMEOUT), errors.is(nil, errors.TIMEOUT),
              errors.is(errors.new("u"), errors.UNKNOWN), errors.is(e, "TIMEOUT")}""") == [
        True, False, False, False, True, False]


@pytest.mark.parametrize("kind", ["nil", "{}", "true", "print"])
def test_is_with_a_bad_kind_raises(kind):
    assert "bad argument #2 to 'is'" in raised(f'errors.is(errors.new("x"), {kind})')


def test_wrap_keeps_everything_and_puts_the_context_in_the_stack():
    got = run("""local inner = errors.new{message = "inner", kind = errors.INVALID,
                                          retryable = true, details = {code = 42}}
      local outer = errors.wrap(inner, "outer context")
      local twice = errors.wrap(outer, "again")
      return {outer:message(), outer:kind(), outer:retryable(), outer:details().code,
              tostring(outer), outer:stack(), twice:message(),
              errors.wrap("plain", "ctx"):message(), errors.wrap("plain", "ctx"):kind()}""")
    assert got[:5] == ["inner", "Invalid", True, 42, "inner"]
    assert got[5].startswith("outer context\n") and "probe.lua:3: in main chunk" in got[5]
    assert "probe.lua:1: in main chunk" in got[5]  # the wrapped error's own stack
    assert got[6:] == ["outer context: inner", "plain", ""]


@pytest.mark.parametrize(("body", "expected"), [
    ('errors.wrap(nil, "ctx")', "bad argument #1 to 'wrap'"),
    ('errors.wrap({}, "ctx")', "bad argument #1 to 'wrap'"),
    ('errors.wrap(errors.new("x"))', "bad argument #2 to 'wrap'"),
    ('errors.wrap("x", 5)', "bad argument #2 to 'wrap'"),
])
def test_wrap_rejects_what_wippy_rejects(body, expected):
    assert expected in raised(body)


def test_stack_names_the_script_lines_and_call_stack_parses_them():
    got = run("""local function make()
        local e = errors.new("here")
        return e
      end
      local e = make()
      local cs = errors.call_stack(e)
      return {e:stack(), cs.frames[1].source, cs.frames[1].line, #cs.frames,
              errors.call_stack("not an error") == nil}""")
    assert "probe.lua:2: in" in got[0] and "probe.lua:5: in main chunk" in got[0]
    assert "prelude" not in got[0] and "errors.lua" not in got[0]
    assert got[1:] == ["probe.lua", 2, 2, True]


def test_an_error_without_frames_has_an_empty_stack_and_no_call_stack():
    t = SB.to_lua(Error("from python", kind=ErrorKind.INVALID))
    check = SB.lua.eval("function(e) return e:stack(), errors.call_stack(e) end")
    assert check(t) == ("", None)


# -- crossing to and from Python -------------------------------------------------------------

def test_a_python_error_reads_as_a_wippy_error():
    t = SB.to_lua(Error("gone", kind=ErrorKind.NOT_FOUND, retryable=False,
                        details={"id": 7, "path": ["a", "b"]}))
    read = SB.lua.eval("function(e) local d = e:details() "
                       "return e:kind(), e:message(), e:retryable(), d.id, d.path[2] end")
    assert read(t) == ("NotFound", "gone", False, 7, "b")
    unknown = SB.to_lua(Error("what"))
    assert SB.lua.eval("function(e) return e:kind(), e:retryable() end")(unknown) == ("", None)


def test_a_raised_lua_error_reaches_python_with_its_fields():
    with pytest.raises(Error) as info:
        run("""error(errors.new{message = "boom", kind = errors.CONFLICT, retryable = false,
                                 details = {where = {line = 3}}})""")
    err = info.value
    assert (err.kind, err.message, err.retryable, err.details) == (
        ErrorKind.CONFLICT, "boom", False, {"where": {"line": 3}})
    assert "probe.lua:1" in err.stack


def test_a_returned_lua_error_converts_with_its_fields():
    err = run('return errors.new{message = "later", kind = errors.TIMEOUT, retryable = true}')
    assert isinstance(err, Error)
    assert (err.kind, err.message, err.retryable, err.details) == (
        ErrorKind.TIMEOUT, "later", True, None)


def test_an_unknown_lua_kind_crosses_as_unknown():
    err = run('return errors.new{message = "m", kind = "Custom"}')
    assert err.kind is ErrorKind.UNKNOWN and err.message == "m"


def test_python_details_that_cannot_enter_lua_still_make_an_error():
    cyclic: dict = {}
    cyclic["me"] = cyclic
    t = SB.to_lua(Error("odd", kind=ErrorKind.INTERNAL, details=cyclic))
    back = SB.from_lua(t)
    assert (back.kind, back.message) == (ErrorKind.INTERNAL, "odd")


_scalars = st.one_of(st.booleans(), st.integers(-(2**63), 2**63 - 1),
                     st.text(max_size=30))
_details = st.recursive(
    st.dictionaries(st.text(min_size=1, max_size=8), _scalars, min_size=1, max_size=4),
    lambda inner: st.dictionaries(st.text(min_size=1, max_size=8), inner | _scalars,
                                  min_size=1, max_size=4),
    max_leaves=12)


@settings(max_examples=150, deadline=None)
@given(kind=st.sampled_from(list(ErrorKind)), message=st.text(max_size=200),
       retryable=st.sampled_from([True, False, None]),
       details=st.one_of(st.none(), _details))
def test_python_lua_python_round_trip(kind, message, retryable, details):
    err = Error(message, kind=kind, retryable=retryable, details=details)
    t = SB.to_lua(err)
    read = SB.lua.eval("function(e) return e:kind(), e:message(), e:retryable() end")
    assert read(t) == ("" if kind is ErrorKind.UNKNOWN else kind.value, message, retryable)
    back = SB.from_lua(t)
    assert isinstance(back, Error)
    assert (back.kind, back.message, back.retryable) == (kind, message, retryable)
    assert back.details == details
