"""The typed Lua front-end (luabridge._dialect): erasure, line keeping, errors, casts.

Each typed construct is erased to spaces with every newline kept, so the output is
compared line by line with what the author would write without types; a few scripts
then run in a real sandbox, to check that behaviour and reported lines survive. Plain
Lua must come back as the very same object: checked over every Lua file shipped in the
project and over generated programs (hypothesis).
"""

from __future__ import annotations

import pathlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from beamish.actors import Error, ErrorKind
from beamish.luabridge import LuaSyntaxError, Sandbox, install_modules
from beamish.luabridge._dialect import (
    DialectError,
    cache_clear,
    erase_types,
    erase_types_cached,
    has_type_syntax,
    tokenize,
)

ROOT = pathlib.Path(__file__).resolve().parents[2]


def erased_lines(src: str) -> list[str]:
    """The erased text, line by line, trailing blanks dropped (erasure leaves spaces)."""
    out = erase_types(src)
    assert len(out) == len(src)
    assert out.count("\n") == src.count("\n")
    return [line.rstrip() for line in out.split("\n")]


def squash(lines: list[str]) -> list[str]:
    """Lines with runs of blanks collapsed, to compare with hand-written plain Lua."""
    return [" ".join(line.split()) for line in lines]


@pytest.fixture(scope="module")
def sb() -> Sandbox:
    s = Sandbox(max_memory=48 * 1024 * 1024, instruction_budget=2_000_000)
    install_modules(s)
    return s


# -- each construct, erased ------------------------------------------------------------

CASES = [
    # (typed source, the plain Lua it must become, blanks collapsed)
    ("local function f(pid: string): boolean return true end",
     "local function f(pid ) return true end"),
    ("local function g(a: number, ...: any): (string, number?) return 'x', nil end",
     "local function g(a , ... ) return 'x', nil end"),
    ("local n: number = 1", "local n = 1"),
    ("local a: {string}, b = {}, 2", "local a , b = {}, 2"),
    ("local v = m:payload():data() :: string", "local v = m:payload():data()"),
    ("local v = (123 :: any) :: string", "local v = (123 )"),
    ("local y = x as number", "local y = x"),
    ("return ({id = 1} as Inner)", "return ({id = 1} )"),
    ("type Message = process.Message", ""),
    ("export type Point = {x: number, y: number}", ""),
    ("type Box<T> = {value: T}", ""),
    ("type Pair<K, V> = {key: K, value: Box<Box<V>>}", ""),
    ("function first<T>(xs: {T}): T? return xs[1] end", "function first (xs ) return xs[1] end"),
    ("local u: number | string | nil = 1", "local u = 1"),
    ("local i: A & B = t", "local i = t"),
    ('local k: "a" | "b" | true = "a"', 'local k = "a"'),
    ("local m: {[string]: number} = {}", "local m = {}"),
    ("local f: (number, string) -> boolean = g", "local f = g"),
    ("local f: () -> () = g", "local f = g"),
    ("local t: typeof(x) = x", "local t = x"),
    ("local r: readonly {number} = {}", "local r = {}"),
    ("local r: {readonly x: number, y?: string} = p", "local r = p"),
    ("local function v(...: number) end", "local function v(... ) end"),
    ("type ID = string @min_len(3)", ""),
    ("local d = json.decode(msg.data!)", "local d = json.decode(msg.data )"),
    ("local c <const>: number = 5", "local c <const> = 5"),
    ("for i: number = 1, 3 do end", "for i = 1, 3 do end"),
    ("for k: string, v: number in pairs(t) do end", "for k , v in pairs(t) do end"),
    ("local h = function<T>(x: T): T return x end", "local h = function (x ) return x end"),
    ("function obj:method(a: number): number return a end",
     "function obj:method(a ) return a end"),
    ("local g: <T>(T) -> T = id", "local g = id"),
]


@pytest.mark.parametrize(("typed", "plain"), CASES)
def test_each_construct_is_erased_to_spaces(typed, plain):
    assert squash(erased_lines(typed)) == [plain]


def test_type_and_export_stay_identifiers_where_lua_has_them():
    src = "local type = type\nlocal export = 1\nreturn type(export), as"
    assert erase_types(src) is src


def test_lua_labels_and_goto_are_not_casts():
    src = "local x = 1 :: string\n::top::\ngoto top"
    assert squash(erased_lines(src)) == ["local x = 1", "::top::", "goto top"]


def test_a_multi_line_alias_keeps_every_line_break():
    src = "type Rec = {\n  a: number,\n  b: {string},\n}\nlocal x: Rec = {}\nreturn x"
    assert erased_lines(src) == ["", "", "", "", "local x      = {}", "return x"]


def test_erased_text_keeps_columns():
    src = "local function f(a: number, b: string): number return a end"
    out = erase_types(src)
    assert out.index(" b ") == src.index(" b:")
    assert out.index("return") == src.index("return")


# -- plain Lua passes through unchanged -------------------------------------------------

def _shipped_lua() -> list[pathlib.Path]:
    found = []
    for pattern in ("luabridge/lua/*.lua", "durable/lua/*.lua", "tests/**/*.lua",
                    "examples/**/*.lua"):
        found.extend(sorted(ROOT.glob(pattern)))
    return found


SHIPPED = _shipped_lua()


def test_the_project_ships_lua_to_check():
    assert len(SHIPPED) > 10


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: str(p.relative_to(ROOT)))
def test_shipped_plain_lua_is_returned_as_is(path):
    src = path.read_text()
    assert erase_types(src) is src


# A small generator of plain Lua 5.4 statements and expressions, with the constructs
# that look like type syntax to a careless reader: method calls, labels, goto,
# attributes, `type`/`as` identifiers, long strings and comments.
NAMES = st.sampled_from(["a", "b", "obj", "type", "export", "as", "readonly", "typeof", "x1"])
ATOMS = st.one_of(
    NAMES,
    st.sampled_from(["1", "0x1F", "3.5e-2", "0x1p4", "nil", "true", "false", "...",
                     "'s'", '"q\\"z"', "[==[ a ]] b ]==]", "{}", "{1, 2; n = 3}"]),
)


def _exprs():
    def extend(inner):
        return st.one_of(
            st.tuples(inner, st.sampled_from(["+", "..", "//", "~=", "<", ">>", "&", "|",
                                              "and", "or", "==", "~"]), inner)
            .map(lambda t: f"{t[0]} {t[1]} {t[2]}"),
            st.tuples(st.sampled_from(["-", "not", "#", "~"]), inner).map(" ".join),
            st.tuples(NAMES, NAMES, inner).map(lambda t: f"{t[0]}:{t[1]}({t[2]})"),
            st.tuples(NAMES, inner).map(lambda t: f"{t[0]}({t[1]})"),
            st.tuples(NAMES, NAMES).map(lambda t: f"{t[0]}.{t[1]}"),
            st.tuples(NAMES, inner).map(lambda t: f"{t[0]}[ {t[1]} ]"),
            inner.map(lambda e: f"({e})"),
            inner.map(lambda e: f"function(p, ...) return {e} end"),
        )
    return st.recursive(ATOMS, extend, max_leaves=6)


EXPRS = _exprs()
STATEMENTS = st.one_of(
    st.tuples(NAMES, EXPRS).map(lambda t: f"local {t[0]} = {t[1]}"),
    st.tuples(NAMES, EXPRS).map(lambda t: f"local {t[0]} <const> = {t[1]}"),
    st.tuples(NAMES, EXPRS).map(lambda t: f"{t[0]} = {t[1]}"),
    st.tuples(NAMES, NAMES, EXPRS).map(lambda t: f"{t[0]}:{t[1]}({t[2]})"),
    st.tuples(NAMES, EXPRS).map(lambda t: f"function {t[0]}.m(a, b) return {t[1]} end"),
    st.tuples(NAMES, EXPRS).map(lambda t: f"if {t[1]} then {t[0]} = 1 else end"),
    st.tuples(NAMES, EXPRS).map(lambda t: f"for {t[0]} = 1, {t[1]} do end"),
    st.tuples(NAMES, EXPRS).map(lambda t: f"while {t[1]} do break end"),
    st.sampled_from(["::lbl:: goto lbl", "do end", ";", "-- a: number :: x",
                     "--[==[ local x: T ]==]", "repeat until true"]),
)
PROGRAMS = st.lists(STATEMENTS, max_size=8).map("\n".join)


@settings(max_examples=200, deadline=None)
@given(PROGRAMS)
def test_generated_plain_lua_is_returned_as_is(src):
    assert erase_types(src) is src


# -- erasure is idempotent and keeps lines ----------------------------------------------

TYPES = st.recursive(
    st.sampled_from(["number", "string", "any", "nil", "true", '"lit"', "process.Message",
                     "T"]),
    lambda inner: st.one_of(
        inner.map(lambda t: f"{t}?"),
        st.tuples(inner, inner).map(lambda t: f"{t[0]} | {t[1]}"),
        st.tuples(inner, inner).map(lambda t: f"{t[0]} & {t[1]}"),
        inner.map(lambda t: "{" + t + "}"),
        st.tuples(inner, inner).map(lambda t: "{[" + t[0] + "]: " + t[1] + "}"),
        st.tuples(inner, inner).map(lambda t: "{x: " + t[0] + ",\n y: " + t[1] + "}"),
        st.tuples(inner, inner).map(lambda t: f"({t[0]}) -> {t[1]}"),
        inner.map(lambda t: f"Box<{t}>"),
    ),
    max_leaves=5,
)
TYPED_STATEMENTS = st.one_of(
    STATEMENTS,
    st.tuples(NAMES, TYPES, EXPRS).map(lambda t: f"local {t[0]}: {t[1]} = {t[2]}"),
    st.tuples(TYPES, TYPES).map(lambda t: f"local function f(a: {t[0]}): {t[1]} end"),
    st.tuples(TYPES).map(lambda t: f"type Alias = {t[0]}"),
    st.tuples(EXPRS, TYPES).map(lambda t: f"local c = {t[0]} :: {t[1]}"),
)
TYPED_PROGRAMS = st.lists(TYPED_STATEMENTS, max_size=8).map("\n".join)


@settings(max_examples=200, deadline=None)
@given(TYPED_PROGRAMS)
def test_erasing_is_idempotent_and_keeps_lines(src):
    once = erase_types(src)
    assert len(once) == len(src)
    assert once.count("\n") == src.count("\n")
    assert erase_types(once) is once  # nothing left to erase: the same object back


@pytest.mark.parametrize(
    ("src", "typed"),
    [
        ("a:b(1) a:b{} a:b'x'", False),
        ("::top:: goto top", False),
        ("local t = x.y < z", False),
        ("local f = type(v)", False),
        ("local a = type\na = 1", True),  # looks like an alias: the parser decides
        ("local t: typeof(x) = x", True),
        ("local x = v :: T", True),
        ("local x = v :: T ::lbl::", True),
        ("function f<T>(x) end", True),
        ("local y = x as number", True),
    ],
)
def test_the_prescan_only_lets_possible_type_syntax_through(src, typed):
    assert has_type_syntax(tokenize(src)) is typed


# -- the tokenizer --------------------------------------------------------------------

def test_tokenizer_knows_long_strings_comments_numbers_and_operators():
    src = "--[==[ c ]] ]==] x = [[a\nb]] .. 0x1.8p3 // 2 ~= y :: T"
    toks = [(t.kind, t.text) for t in tokenize(src)]
    assert toks[:4] == [("name", "x"), ("op", "="), ("string", "[[a\nb]]"), ("op", "..")]
    assert ("number", "0x1.8p3") in toks
    assert ("op", "//") in toks and ("op", "~=") in toks and ("op", "::") in toks
    assert tokenize(src)[-2].line == 2


def test_tokenizer_escapes_do_not_end_strings():
    toks = tokenize(r'x = "a\"b\\" .. "\z' + "\n" + r'   c"')
    assert [t.text for t in toks if t.kind == "string"] == [r'"a\"b\\"', '"\\z\n   c"']


# -- syntax errors in typed code name the line -------------------------------------------

@pytest.mark.parametrize(
    ("src", "line", "message"),
    [
        ("local a = 1\nlocal b: = 2", 2, "expected a type after ':'"),
        ("local x: number< = 42", 1, "expected a type"),
        ("\n\ntype Broken = {x: number", 3, "expected '}' closing the table type"),
        ("local function f(a: number): end", 1, "expected a type after ':'"),
        ("local v = 1 :: ", 1, "expected a type after '::'"),
    ],
)
def test_malformed_types_raise_with_the_line(src, line, message):
    with pytest.raises(DialectError) as info:
        erase_types(src)
    assert info.value.line == line
    assert info.value.message.startswith(message)


def test_the_sandbox_reports_a_typed_syntax_error_with_file_and_line(sb):
    src = "local ok: boolean = true\n\n\n\n\n\n\n\n\n\n\nlocal bad: = 1\n"
    with pytest.raises(LuaSyntaxError,
                       match=r"^Lua syntax error in app/x\.lua line 12: expected a type after ':'"
                       ) as info:
        sb.compile(src, "app/x.lua")
    assert info.value.line == 12
    assert info.value.chunk == "app/x.lua"


def test_plain_lua_errors_after_erasure_are_lua_s_own(sb):
    with pytest.raises(LuaSyntaxError, match=r"app/y\.lua line 2"):
        sb.compile("local a: number = 1\nlocal = 2\n", "app/y.lua")


# -- in a real sandbox -----------------------------------------------------------------

TYPED_SCRIPT = """\
type Point = {x: number, y: number}
export type Pair<K, V> = {key: K, value: V}

local function norm2(p: Point): number
  return p.x * p.x + p.y * p.y
end

local function first<T>(xs: {T}): T?
  return xs[1]
end

local total: number = 0
for _, v: number in ipairs({1, 2, 3}) do total = total + v end
local p: Point = {x = 3, y = 4} :: Point
local cast = (first({"a"}) :: any) :: string
return norm2(p), total, cast, first({}) == nil
"""


def test_a_typed_script_runs(sb):
    assert sb.execute(TYPED_SCRIPT, chunkname="app/typed.lua") == (25, 6, "a", True)


def test_a_runtime_error_in_a_typed_file_reports_the_original_line(sb):
    src = ("type T = {\n  a: number,\n}\nlocal function f(x: T): number\n"
           "  return x.a + nil\nend\nreturn f({a = 1})\n")
    with pytest.raises(Error, match=r"app/lines\.lua:5:"):
        sb.execute(src, chunkname="app/lines.lua")


def test_methods_and_labels_still_work_after_erasure(sb):
    src = """\
local obj = {n = 1}
function obj:inc(by: number): number self.n = self.n + by return self.n end
local i: integer = 0
::again::
i = i + 1
if i < 3 then goto again end
return obj:inc(i) :: number
"""
    assert sb.execute(src, chunkname="app/m.lua") == 4


# -- the cast functions ----------------------------------------------------------------

@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("string('x')", "x"),
        ("string(42)", "42"),
        ("string(1.5)", "1.5"),
        ("number(7)", 7),
        ("number('2.5')", 2.5),
        ("number('0x10')", 16),
        ("integer(3)", 3),
        ("integer(4.0)", 4),
        ("integer('12')", 12),
        ("math.type(integer('4.0'))", "integer"),
        ("boolean(false)", False),
        ("boolean('true')", True),
    ],
)
def test_casts_convert_what_converts_without_loss(sb, expr, expected):
    assert sb.execute(f"return {expr}") == expected


@pytest.mark.parametrize(
    ("expr", "fragment"),
    [
        ("string(nil)", "cannot cast nil to string"),
        ("string({})", "cannot cast table to string"),
        ("number('x')", 'cannot cast string to number ("x" is not a number)'),
        ("number(true)", "cannot cast boolean to number"),
        ("integer(3.5)", "cannot cast number to integer (3.5 is not integral)"),
        ("integer('abc')", "cannot cast string to integer"),
        ("boolean(1)", "cannot cast number to boolean"),
    ],
)
def test_casts_that_lose_information_return_nil_and_an_invalid_error(sb, expr, fragment):
    value, err = sb.execute(f"local v, e = {expr} return v == nil, e")
    assert value is True
    assert isinstance(err, Error) and err.kind == ErrorKind.INVALID
    assert fragment in str(err)


def test_string_is_still_the_string_library(sb):
    assert sb.execute("return type(string), string.rep('ab', 2), ('x'):upper()") == (
        "table", "abab", "X")


def test_the_cast_metamethod_cannot_be_reached_or_changed(sb):
    assert sb.execute("return getmetatable(string)") is False
    with pytest.raises(Error, match="read-only"):
        sb.execute("string.call = 1")


# -- the cache --------------------------------------------------------------------------

def test_the_cache_returns_the_same_result_and_replays_errors():
    cache_clear()
    src = "local a: number = 1\nreturn a"
    first = erase_types_cached(src, "app/c.lua")
    assert erase_types_cached(src, "app/c.lua") is first
    plain = "return 1"
    assert erase_types_cached(plain, "app/p.lua") is plain
    for _ in range(2):
        with pytest.raises(DialectError, match="line 1"):
            erase_types_cached("local a: = 1", "app/bad.lua")
