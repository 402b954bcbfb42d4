"""The Lua port of the pattern matcher (``_lua_patterns.py``) against the real C one.

Every comparison runs the same call through ``string.*`` and through the port, inside
one fresh runtime, and compares what came back: the values with their Lua types, or
the error message (without its ``chunk:line:`` prefix, except where a test checks the
prefix itself). Hand-written cases cover each feature and each error message; property
tests throw random subjects and patterns (built from a grammar of valid items, and raw
strings of pattern characters) at both. Nothing here measures time.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lupa import lua55

from beamish.luabridge._lua_patterns import PATTERNS_LUA

lua = lua55.LuaRuntime()
PAT = lua.execute(PATTERNS_LUA)

HARNESS = lua.execute(r"""
local PAT = ...
local C = {find = string.find, match = string.match, gmatch = string.gmatch,
           gsub = string.gsub}
local concat, pack, format = table.concat, table.pack, string.format

local ALL = {}
for c = 0, 127 do ALL[#ALL + 1] = string.char(c) end
ALL = concat(ALL)

local function ser(v)
  local t = type(v)
  if t == "string" then return format("%q", v)
  elseif t == "number" then return math.type(v) .. ":" .. tostring(v)
  elseif t == "table" then
    local parts = {}
    for i = 1, v.n or #v do parts[i] = ser(v[i]) end
    return "{" .. concat(parts, ", ") .. "}"
  end
  return tostring(v)
end

-- "ok: v1, v2" or "error: message"; strip=false keeps the "chunk:line: " prefix.
local function outcome(strip, f, ...)
  local r = pack(pcall(f, ...))
  if not r[1] then
    local msg = tostring(r[2])
    if strip then msg = msg:gsub("^[^:\n]*:%d+: ", "") end
    return "error: " .. msg
  end
  local parts = {}
  for i = 2, r.n do parts[#parts + 1] = ser(r[i]) end
  return "ok: " .. concat(parts, ", ")
end

-- Every result of a gmatch loop, and how many values the call after the last gave.
local function collect(gm, s, p, init)
  local it = gm(s, p, init)
  local out = {n = 0}
  while true do
    local r = pack(it())
    if r.n == 0 or r[1] == nil then
      out.n = out.n + 1
      out[out.n] = "end/" .. r.n .. "/" .. select("#", it())
      return out
    end
    out.n = out.n + 1
    out[out.n] = r
  end
end

local REPL_TABLES = {
  {a = "A", b = false, ["("] = "<", [1] = "one", [2] = 2, ab = 1.5},
  setmetatable({}, {__index = function(_, k)
    if type(k) == "number" then return k * 10 end
    if k == "" then return nil end
    return k:upper()
  end}),
}
local REPL_FUNCS = {
  function(...) return select("#", ...) .. ":" .. concat({...}, "|") end,
  function(a)
    if a == "a" then return nil elseif a == "b" then return false end
    return a .. a
  end,
  function(a) return #tostring(a) end,
}

local function repl_of(kind, v)
  if kind == "table" then return REPL_TABLES[v] end
  if kind == "func" then return REPL_FUNCS[v] end
  return v
end

local H = {}

-- Both outcomes of lib[name](...) for the C library and the port.
function H.both(name, ...)
  local c, l = C[name], PAT[name]
  if name == "gmatch" then
    return outcome(true, collect, c, ...), outcome(true, collect, l, ...)
  end
  return outcome(true, c, ...), outcome(true, l, ...)
end

function H.both_gsub(s, p, kind, v, n)
  local r = repl_of(kind, v)
  return outcome(true, C.gsub, s, p, r, n), outcome(true, PAT.gsub, s, p, r, n)
end

-- A hand-written case: `body` is the body of function(lib, ALL, collect) returning
-- the values to compare.
function H.both_code(body, strip)
  local f = assert(load("local lib, ALL, collect, REPL_FUNCS = ...\n" .. body, "=case"))
  return outcome(strip, f, C, ALL, collect, REPL_FUNCS),
         outcome(strip, f, PAT, ALL, collect, REPL_FUNCS)
end

return H
""", PAT)


def both(name: str, *args: Any) -> tuple[str, str]:
    return tuple(HARNESS.both(name, *args))  # type: ignore[return-value]


# --------------------------------------------------------------------------------
# hand-written cases: (body of a Lua function of lib, expected C outcome or None)
# An expected outcome makes sure the case really shows what it is meant to (an error
# case does raise); the port must equal C either way.

F, M, G, S = "lib.find", "lib.match", "collect(lib.gmatch, ", "lib.gsub"


def call(fn: str, args: str) -> str:
    if fn.startswith("collect("):
        return f"return {fn}{args})"
    return f"return {fn}({args})"


CASES: list[tuple[str, str | None]] = [
    # find: plain (explicit or no specials), init handling
    (call(F, '"hello world", "o w"'), "ok: integer:5, integer:7"),
    (call(F, '"a.b", ".", 1, true'), "ok: integer:2, integer:2"),
    (call(F, '"a+b", "+", 1, true'), None),
    (call(F, '"aaab", "aab", 1, true'), None),
    (call(F, '"abc", "bc", -2, true'), None),
    (call(F, '"abc", "", 2, true'), None),
    (call(F, '"abc", "x", 1, false'), None),
    (call(F, '"hello", "l", -2'), None),
    (call(F, '"hello", "l", -10'), None),
    (call(F, '"hello", "h", 0'), None),
    (call(F, '"hello", "", 6'), "ok: integer:6, integer:5"),
    (call(F, '"hello", "", 7'), "ok: nil"),
    (call(F, '"hello", "x*", 6'), None),
    (call(F, '"hello", "x*", 7'), None),
    (call(F, '"hello", "o", "5"'), None),
    (call(F, '"hello", "o", 4.0'), None),
    (call(F, '"hello", "%", 10'), "ok: nil"),       # past the end: no error
    (call(F, '12345, 3'), None),
    (call(F, '"", ""'), None),
    # captures and position captures
    (call(F, '"hello world", "(o)(r)"'), None),
    (call(F, '"hello", "()ll()"'), "ok: integer:3, integer:4, integer:3, integer:5"),
    (call(F, '"hello", "(h)(e)(l)(l)(o)"'), None),
    (call(F, '"hello", "((l)(l))"'), None),
    (call(M, '"hello", "()"'), "ok: integer:1"),
    (call(M, '"hello", "(h)(.)"'), None),
    (call(M, '"key = value", "(%w+)%s*=%s*(%w+)"'), None),
    (call(M, '"  trim me  ", "^%s*(.-)%s*$"'), None),
    (call(M, '"hello", "l", -1'), None),
    (call(M, '"hello", "l", 10'), None),
    (call(M, '"hello", ".-"'), None),
    (call(M, '"x", ("(x)"):rep(1) .. ("()"):rep(31)'), None),
    # anchors
    (call(F, '"hello", "^h"'), None),
    (call(F, '"hello", "^e"'), "ok: nil"),
    (call(F, '"hello", "o$"'), None),
    (call(F, '"hello", "l$"'), None),
    (call(F, '"a$b", "$b"'), None),
    (call(F, '"a$b", "a$b"'), None),
    (call(F, '"hello", "^hello$"'), None),
    (call(F, '"^x", "^^x"'), None),
    (call(F, '"x^y", "x^y"'), None),
    (call(F, '"hello", "^"'), None),
    (call(F, '"", "^$"'), None),
    (call(F, '"hello", "l", 4, false'), None),
    (call(F, '"hello", "^l", 3'), None),
    # sets and ranges
    (call(F, '"hello", "[aeiou]+"'), None),
    (call(F, '"hello", "[^aeiou]+"'), None),
    (call(F, '"a-b", "[a-]"'), None),
    (call(F, '"a-b", "[-a]+"'), None),
    (call(F, '"x]y", "[]]"'), None),
    (call(F, '"x]y", "[^]]+"'), None),
    (call(F, '"x]y", "[%]]"'), None),
    (call(F, '"a^b", "[%^]"'), None),
    (call(F, '"a^b", "[b^]"'), None),
    (call(F, '"abcxyz", "[b-y]+"'), None),
    (call(F, '"a%b", "[%%]"'), None),
    (call(F, '"a1b", "[%d]"'), None),
    (call(F, '"a1b", "[%D]+"'), None),
    (call(F, '"-", "[%a-z]"'), None),
    (call(F, '"ab-", "[z-a]"'), None),
    (call(F, '"b", "[a-c-e]"'), None),
    (call(F, '"]", "[^]]"'), None),
    # quantifiers
    (call(F, '"aaa", "a*"'), None),
    (call(F, '"aaa", "a-"'), None),
    (call(F, '"aaa", "a-$"'), None),
    (call(F, '"aaab", "a-b"'), None),
    (call(F, '"b", "a?b"'), None),
    (call(F, '"ab", "a?b"'), None),
    (call(F, '"aab", "a+b"'), None),
    (call(F, '"b", "a+b"'), None),
    (call(M, '"<a><b>", "<(.-)>"'), None),
    (call(M, '"<a><b>", "<(.*)>"'), None),
    (call(M, '"--x", "--"'), None),
    (call(M, '"x*", "x**"'), None),
    (call(M, '"aaa", "[a]-$"'), None),
    (call(M, '"a.b", "%.+"'), None),
    # %b
    (call(F, '"x(a(b)c)y", "%b()"'), "ok: integer:2, integer:8"),
    (call(F, '"x(a(b c)y", "%b()"'), None),
    (call(F, '"f[[a]]", "%b[]"'), None),
    (call(F, '"say \\"hi\\" now", "%b\\"\\""'), None),
    (call(F, '"(((", "%b()"'), None),
    (call(F, '"", "%b()"'), None),
    (call(M, '"(a)(b)", "(%b())%1"'), None),
    # %f
    (call(F, '"THE (quick) fox", "%f[%a]%a+", 5'), None),
    (call(F, '"hello", "%f[%l]"'), None),
    (call(F, '"hello", "%f[%z]"'), None),
    (call(F, '"hello", "%f[^%l]"'), None),
    (call(F, '"aXb", "%f[%u]."'), None),
    (call(G, '"the cat sat", "%f[%w]%w+"'), None),
    (call(G, '"THE (quick) fox", "%f[%a]%a+%f[%A]"'), None),
    # back-references
    (call(F, '"abcabc", "(abc)%1"'), None),
    (call(F, '"xaax", "(a)%1"'), None),
    (call(F, '"abab", "(a)(b)%1%2"'), None),
    (call(F, '"aa", "()a%1"'), "ok: nil"),    # a position capture never matches
    (call(M, '"abcabc", "^(.-)%1$"'), None),
    (call(M, '"xyz", "(y*)%1"'), None),
    # classes, over every ASCII byte (the C locale)
    *[(call(S, f'ALL, "%{c}+", "<>"'), None) for c in "acdglpsuwxzACDGLPSUWXZ"],
    *[(call(S, f'ALL, "[%{c}]", "."'), None) for c in "aApPxX"],
    (call(S, 'ALL, "%y", "."'), None),
    (call(S, 'ALL, "[%y%%]", "."'), None),
    # gmatch
    (call(G, '"hello world from lua", "%a+"'), None),
    (call(G, '"k1=v1, k2=v2", "(%w+)=(%w+)"'), None),
    (call(G, '"abc", ""'), None),
    (call(G, '"abc", "x*"'), None),
    (call(G, '"abc", "()"'), None),
    (call(G, '"a,b,,c", "([^,]*)"'), None),     # the 5.4 rule: no empty match after one
    (call(G, '"abc", "b*"'), None),
    (call(G, '"hello", "l", 4'), None),
    (call(G, '"hello", "l", -2'), None),
    (call(G, '"hello", ".", 10'), None),
    (call(G, '"abc", "", 4'), None),
    (call(G, '"abc", "", 5'), None),
    (call(G, '"^a^", "^a"'), None),            # '^' is no anchor in gmatch
    (call(G, '"abc", "%"'), "error: malformed pattern (ends with '%')"),
    (call(G, '"", "a*"'), None),
    # gsub with a string replacement
    (call(S, '"hello world", "o", "0"'), 'ok: "hell0 w0rld", integer:2'),
    (call(S, '"hello world", "(o)", "[%1]"'), None),
    (call(S, '"hello", "", "-"'), None),
    (call(S, '"abc", "%w", "%0%0"'), None),
    (call(S, '"abc", "%w", "%%"'), None),
    (call(S, '"abc", "%w", "%1"'), None),      # %1 without captures is the match
    (call(S, '"abc", "(%w)", "%1%1", 2'), None),
    (call(S, '"abc", "%w", "x", 0'), None),
    (call(S, '"abc", "%w", "x", -1'), None),
    (call(S, '"abc", "%w", "x", "2"'), None),
    (call(S, '"abc", "%w", "x", 2.0'), None),
    (call(S, '"hello", "^h", "H"'), None),
    (call(S, '"hhh", "^h", "H"'), 'ok: "Hhh", integer:1'),
    (call(S, '"abc", "^", ">"'), None),
    (call(S, '"abc", "$", "<"'), None),
    (call(S, '"abc", ".-", "-"'), None),
    (call(S, '"abc", "b*", "-"'), 'ok: "-a-c-", integer:3'),
    (call(S, '"abc", "()", "%1"'), None),
    (call(S, '"abc", "(b)()", "%2%1"'), None),
    (call(S, '"abc", "b", 5'), None),
    (call(S, '"abc", "b", 1.5'), None),
    (call(S, '"abc", "b", 2^53'), None),
    (call(S, '123, "x", "y"'), 'ok: "123", integer:0'),
    (call(S, '123, 2, 9'), None),
    (call(S, '"a\\0b\\0", "%z", "0"'), None),
    (call(S, '"a\\0b", "\\0", "-"'), None),
    (call(S, '"hello", "l+", ""'), None),
    # gsub with a table
    (call(S, '"hello world", "%w+", {hello = "HI", world = false}'), None),
    (call(S, '"abc", "()", {[1] = "x", [3] = "y"}'), None),
    (call(S, '"abc", "%w", {a = 1, b = 2.5}'), None),
    (call(S, '"abc", "(%w)(%w)", {ab = "X"}'), None),
    (call(S, '"abc", "%w", setmetatable({}, {__index = function(_, k) return k:upper() end})'),
     None),
    # gsub with a function
    (call(S, '"hello world", "%w+", function(w) return w:upper() end'), None),
    (call(S, '"hello world", "(%w)(%w*)", function(a, b) return b .. a end'), None),
    (call(S, '"abc", "%w", function() return nil end'), 'ok: "abc", integer:3'),
    (call(S, '"abc", "%w", function() return false end'), None),
    (call(S, '"abc", "%w", function(c) return c == "b" and 7 or nil end'), None),
    (call(S, '"abc", "%w", function() return 12.0 end'), None),
    (call(S, '"abc", "()", function(p) return p end'), None),
    (call(S, '"abc", "%w", REPL_FUNCS[1], 2'), None),
    # every error message
    (call(F, '"a", "%"'), "error: malformed pattern (ends with '%')"),
    (call(F, '"b", "a%"'), "ok: nil"),         # never reached: no error, as in C
    (call(F, '"a", "[a"'), "error: malformed pattern (missing ']')"),
    (call(F, '"a", "[%]"'), "error: malformed pattern (missing ']')"),
    (call(F, '"a", "[^"'), "error: malformed pattern (missing ']')"),
    (call(F, '"a", "[]"'), "error: malformed pattern (missing ']')"),
    (call(F, '"a", "%fa"'), "error: missing '[' after '%f' in pattern"),
    (call(F, '"a", "%f"'), "error: missing '[' after '%f' in pattern"),
    (call(F, '"a", "%1"'), "error: invalid capture index %1"),
    (call(F, '"a", "%0"'), "error: invalid capture index %0"),
    (call(F, '"a", "(a%1)"'), "error: invalid capture index %1"),
    (call(F, '"ab", "(a)%2"'), "error: invalid capture index %2"),
    (call(S, '"a", "a", "%2"'), "error: invalid capture index %2"),
    (call(S, '"a", "(a)", "%3"'), "error: invalid capture index %3"),
    (call(M, '"a", "a)"'), "error: invalid pattern capture"),
    (call(M, '"a", ")"'), "error: invalid pattern capture"),
    (call(F, '"a)", "a)"'), None),             # ')' is no special: a plain search
    (call(F, '"a", "(a"'), "error: unfinished capture"),
    (call(M, '"a", "(()"'), "error: unfinished capture"),
    (call(S, '"a", "(a", "%1"'), "error: unfinished capture"),
    (call(S, '"a", "(a", "x"'), 'ok: "x", integer:1'),  # captures never read
    (call(F, '"a", ("()"):rep(33)'), "error: too many captures"),
    (call(F, '"a", ("()"):rep(32)'), None),
    (call(F, '("a"):rep(300), ("a?"):rep(300)'), "error: pattern too complex"),
    (call(M, '("a"):rep(300), ("(a)"):rep(10) .. ("a*"):rep(250)'), None),
    (call(F, '"a", "%b"'), "error: malformed pattern (missing arguments to '%b')"),
    (call(F, '"a", "%b("'), "error: malformed pattern (missing arguments to '%b')"),
    (call(S, '"a", "a", "%x"'), "error: invalid use of '%' in replacement string"),
    (call(S, '"a", "a", "x%"'), "error: invalid use of '%' in replacement string"),
    (call(S, '"b", "a", "%x"'), None),          # no match: the template is not read
    (call(S, '"a", "a", function() return {} end'),
     "error: invalid replacement value (a table)"),
    (call(S, '"a", "a", {a = true}'), "error: invalid replacement value (a boolean)"),
    # argument errors (called through a local, so both see the same name; not as a
    # tail call, which would drop the port's frame and with it the name)
    ("local f = lib.find; local r = f(); return r",
     "error: bad argument #1 to 'f' (string expected, got no value)"),
    ("local f = lib.find; local r = f('a'); return r", None),
    ("local f = lib.find; local r = f('a', {}); return r", None),
    ("local f = lib.find; local r = f('a', 'a', 'x'); return r", None),
    ("local f = lib.find; local r = f('a', 'a', 1.5); return r",
     "error: bad argument #3 to 'f' (number has no integer representation)"),
    ("local f = lib.find; local r = f('a', 'a', '1.5'); return r", None),
    ("local f = lib.match; local r = f(nil, 'a'); return r", None),
    ("local f = lib.gmatch; local r = f('a', true); return r", None),
    ("local f = lib.gsub; local r = f('a', 'a'); return r", None),
    ("local f = lib.gsub; local r = f('a', 'a', true); return r", None),
    ("local f = lib.gsub; local r = f('a', 'a', 'b', 'x'); return r", None),
    ("local f = lib.gsub; local r = f('a', 'a', nil, 'x'); return r", None),
    ("local f = lib.find; local r = f(setmetatable({}, {__name = 'Thing'}), 'a'); return r", None),
    ("local t = {find = lib.find}; local r = t:find(); return r", None),
    ("local t = {find = lib.find}; local r = t.find('a', {}); return r", None),
    ("local r = ('x'):rep(1).find('a', 'a', {}); return r", None),
    # the port must not lose its place when user code matches in between
    ("""local out = {}
        local it1 = lib.gmatch("a1b2c3", "%a")
        local it2 = lib.gmatch("x9y8", "(%a)(%d)")
        for _ = 1, 4 do
          out[#out + 1] = tostring(it1())
          local a, b = it2()
          out[#out + 1] = tostring(a) .. tostring(b)
          out[#out + 1] = tostring(lib.find("zzz", "z+", 2))
        end
        return table.concat(out, " ")""", None),
    ("""return lib.gsub("one two three", "(%w+)", function(w)
          local inner = lib.gsub(w, "(.)", "%1.")
          return inner .. (lib.find(w, "[eo]+") or "-") .. (lib.match(w, "^(t)") or "")
        end)""", None),
    ("""local t = setmetatable({}, {__index = function(_, k)
          return (lib.gsub(k, "%w", "<%0>"))
        end})
        return lib.gsub("ab cd", "%w+", t)""", None),
    ("""local out = {}
        for w in lib.gmatch("alpha beta", "%a+") do
          for c in lib.gmatch(w, "[aeiou]") do out[#out + 1] = c end
          out[#out + 1] = "|"
        end
        return table.concat(out)""", None),
]


@pytest.mark.parametrize(("body", "expected"), CASES)
def test_case_matches_c(body: str, expected: str | None) -> None:
    c, port = HARNESS.both_code(body, True)
    if expected is not None:
        assert c == expected
    assert port == c


def test_depth_limit_is_cs() -> None:
    # "pattern too complex" appears at exactly the same nesting as in C
    for k in range(190, 206):
        c, port = HARNESS.both_code(
            f'return lib.find(("a"):rep({k}), ("a?"):rep({k}))', True)
        assert port == c, k
    c, _ = HARNESS.both_code('return lib.find(("a"):rep(205), ("a?"):rep(205))', True)
    assert c == "error: pattern too complex"


def test_errors_point_at_the_callers_line() -> None:
    for body in (
        'local r = lib.find("a", "%")\nreturn r',
        'local x = 1\nlocal r = lib.gsub("a", "a", "%9")\nreturn r',
        'local n = 0\nfor _ in lib.gmatch("abc", "(") do n = n + 1 end\nreturn n',
        'local r = lib.gsub("abc", "%w", function(c)\n'
        '  local v = lib.match(c, "[")\n  return v\nend)\nreturn r',
        'local r = lib.find("a", "a", {})\nreturn r',
        'local r = lib.gsub("a", "a", false)\nreturn r',
    ):
        c, port = HARNESS.both_code(body, False)
        assert c.startswith("error: case:")
        assert port == c


def test_high_bytes_are_in_no_class() -> None:
    # the C locale: bytes >= 128 are neither letters, digits, spaces nor punctuation
    for cl in "acdglpsuwx":
        high = "\x80\xe9\xff".encode("latin-1")
        assert PAT.find(high, f"%{cl}") is None
        assert PAT.gsub(high, f"%{cl.upper()}", "")[1] == 3


# --------------------------------------------------------------------------------
# property tests

SUBJECT = st.text(alphabet="ab()[]%.- ", max_size=10)
SINGLE = st.sampled_from([
    "a", "b", "a", "b", ".", " ", "-", "]",
    "%a", "%A", "%d", "%s", "%S", "%p", "%P", "%w", "%W",
    "%(", "%)", "%.", "%%", "%-", "%[", "%]",
    "[ab]", "[^a]", "[%a-]", "[a-c]", "[]]", "[^]a]", "[%]%[]", "[%(%)]", "[%p]",
])
SUFFIX = st.sampled_from(["", "", "", "*", "+", "-", "?"])
SPECIAL_ITEM = st.sampled_from([
    "%b()", "%bab", "%b[]", "%f[%a]", "%f[^a]", "%f[%(]", "%f[%z]", "%1", "%2", "()",
])
LEAF = st.one_of(st.tuples(SINGLE, SUFFIX).map("".join), SPECIAL_ITEM)
ITEM = st.recursive(
    LEAF, lambda inner: st.lists(inner, max_size=3).map(lambda xs: "(" + "".join(xs) + ")"),
    max_leaves=5,
)
PATTERN = st.builds(
    lambda a, xs, d: a + "".join(xs) + d,
    st.sampled_from(["", "", "^"]), st.lists(ITEM, max_size=4), st.sampled_from(["", "", "$"]),
)
RAW_PATTERN = st.text(alphabet="ab()[]%.-*+?^$1f", max_size=8)
INIT = st.one_of(st.none(), st.integers(-12, 12))
REPL = st.one_of(
    st.tuples(st.just("string"),
              st.lists(st.sampled_from(["x", "%0", "%1", "%2", "%%", "-", "%"]), max_size=3)
              .map("".join)),
    st.tuples(st.just("table"), st.integers(1, 2)),
    st.tuples(st.just("func"), st.integers(1, 3)),
)
MAX_N = st.one_of(st.none(), st.integers(-1, 4))

FAST = settings(max_examples=400, deadline=None,
                suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(s=SUBJECT, p=PATTERN, init=INIT, plain=st.sampled_from([None, False, True]))
def test_find_and_match_equal_c(s: str, p: str, init: int | None, plain: bool | None) -> None:
    c, port = both("find", s, p, init, plain)
    assert port == c
    c, port = both("match", s, p, init)
    assert port == c


@FAST
@given(s=SUBJECT, p=PATTERN, init=INIT)
def test_gmatch_equals_c(s: str, p: str, init: int | None) -> None:
    c, port = both("gmatch", s, p, init)
    assert port == c


@FAST
@given(s=SUBJECT, p=PATTERN, repl=REPL, n=MAX_N)
def test_gsub_equals_c(s: str, p: str, repl: tuple[str, Any], n: int | None) -> None:
    c, port = HARNESS.both_gsub(s, p, repl[0], repl[1], n)
    assert port == c


@FAST
@given(s=SUBJECT, p=RAW_PATTERN, init=INIT, repl=REPL)
def test_raw_patterns_equal_c(s: str, p: str, init: int | None, repl: tuple[str, Any]) -> None:
    # mostly malformed: the errors (and where they are noticed) must be C's
    for name in ("find", "match", "gmatch"):
        c, port = both(name, s, p, init)
        assert port == c, name
    c, port = HARNESS.both_gsub(s, p, repl[0], repl[1], None)
    assert port == c


# --------------------------------------------------------------------------------
# cost, and metering


@pytest.mark.parametrize(("pattern", "plain", "expected"), [
    ("hello", None, (0, 0, 0)),             # no special character
    (".-.-.-.-b", None, (4, 0, 0)),
    (".-.-.-.-b", True, (0, 0, 0)),         # plain search
    ("^%s*(.-)%s*$", None, (3, 0, 0)),
    ("(%w+)=(%w+)", None, (2, 0, 0)),
    ("%d+%.?%d*", None, (2, 1, 0)),        # '?' counts 0 in q
    ("[%a_][%w_]*", None, (1, 0, 0)),
    ("[*+-]", None, (0, 0, 0)),            # inside a set they are plain characters
    ("%b()%b[]", None, (2, 0, 0)),
    ("(a+)%1", None, (1, 0, 1)),           # back-references count 0 in q
    ("%f[%w]%w+", None, (1, 0, 0)),
    ("a%*b%+", None, (0, 0, 0)),           # escaped suffix characters
    ("x$", None, (0, 0, 0)),
    ("--", None, (1, 0, 0)),               # a literal '-' repeated lazily
    (".*%", None, (1, 0, 0)),              # malformed tail: what precedes still counts
    ("[a", None, (0, 0, 0)),
    (12.5, None, (0, 0, 0)),
])
def test_cost(pattern: str | float, plain: bool | None, expected: tuple[int, int, int]) -> None:
    assert tuple(PAT.cost(pattern, plain)) == expected


METERED = lua.execute(r"""
local PAT = ...
-- Run f() in a coroutine whose count hook fires every `every` instructions and
-- raises on call number `limit`; return whether it finished, its error, and the calls.
return function(f, every, limit)
  local calls = 0
  local co = coroutine.create(f)
  debug.sethook(co, function()
    calls = calls + 1
    if calls >= limit then error("budget exhausted", 0) end
  end, "", every)
  local ok, err = coroutine.resume(co)
  return ok, err, calls
end
""", PAT)


def test_catastrophic_pattern_is_metered() -> None:
    # hours of backtracking for the C matcher; the port is stopped by the hook
    make = lua.eval("""function(lib) return function()
      return lib.find(("a"):rep(1e5), ".-.-.-.-b") end end""")
    run = make(PAT)
    ok, err, calls = METERED(run, 1000, 50)
    assert ok is False
    assert err == "budget exhausted"
    assert calls == 50


def test_c_matcher_is_one_step_for_the_hook() -> None:
    # why the port exists: the hook counts a whole C match as almost nothing, while
    # the same backtracking in the port is many counted instructions
    make = lua.eval("""function(lib) return function()
      return lib.find(("a"):rep(50), ".-.-b") end end""")
    ok_c, _, calls_c = METERED(make(lua.globals().string), 10, 10**9)
    ok_l, _, calls_l = METERED(make(PAT), 10, 10**9)
    assert ok_c is True and ok_l is True
    assert calls_c < 5
    assert calls_l > 10_000
