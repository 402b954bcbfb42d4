"""The sandboxed runtime: version, environments per script, entries, imports, steps."""

from __future__ import annotations

import subprocess
import sys

import pytest

from beamish.actors import Error, ErrorKind
from beamish.luabridge import LUA_VERSION, Sandbox, install_modules


@pytest.fixture
def sb() -> Sandbox:
    s = Sandbox()
    install_modules(s)
    return s


def entry(sb: Sandbox, entry_id: str, src: str, **kw):
    return sb.register_entry(entry_id, sb.compile(src, entry_id + ".lua"), **kw)


def run_entry(sb: Sandbox, spec, method="main", *args):
    P = sb.new_process(spec)
    return sb.run(P, sb.start_entry(P, method, args))


def test_the_runtime_is_lua_5_5(sb):
    assert LUA_VERSION == (5, 5)
    assert sb.execute("return _VERSION") == "Lua 5.5"


_ORDER_SCRIPT = (
    "from beamish.luabridge import Sandbox;"
    "print(Sandbox(deterministic=True).execute("
    "\"local t = {} for i = 1, 40 do t['k' .. i] = i end "
    "local o = {} for k in pairs(t) do o[#o + 1] = k end return table.concat(o, ',')\"))"
)


def test_deterministic_runtimes_iterate_string_keys_in_the_same_order_everywhere():
    runs = {
        subprocess.run([sys.executable, "-c", _ORDER_SCRIPT], capture_output=True, text=True,
                       check=True).stdout
        for _ in range(3)
    }
    assert len(runs) == 1


def test_each_process_has_its_own_globals_even_for_the_same_entry(sb):
    spec = entry(sb, "app:counter", """
        count = 0
        local M = {}
        function M.main(n) count = count + n; coroutine.yield(); return count end
        return M
    """)
    p1, p2 = sb.new_process(spec), sb.new_process(spec)
    t1, t2 = sb.start_entry(p1, "main", [1]), sb.start_entry(p2, "main", [10])
    assert sb.step(p1, t1).kind == "pass"
    assert sb.step(p2, t2).kind == "pass"
    assert sb.step(p1, t1).values == (1,)
    assert sb.step(p2, t2).values == (10,)


def test_the_script_may_return_a_single_function(sb):
    spec = entry(sb, "app:single", "return function(a, b) return a + b end")
    assert run_entry(sb, spec, "ignored", 2, 3) == (5,)


def test_unknown_method_at_spawn_is_an_invalid_error(sb):
    spec = entry(sb, "app:m", "return {main = function() end}")
    with pytest.raises(Error, match="entry 'app:m' has no function 'nope'") as info:
        run_entry(sb, spec, "nope")
    assert info.value.kind is ErrorKind.INVALID


def test_arguments_and_results_are_converted(sb):
    spec = entry(sb, "app:echo",
                 "return {main = function(...) return {n = select('#', ...), ...} end}")
    assert run_entry(sb, spec, "main", 1, "two", [3], {"four": 4}) == (
        {"n": 4, 1: 1, 2: "two", 3: [3], 4: {"four": 4}},)


def test_imports_give_each_process_its_own_library_instance(sb):
    entry(sb, "app.lib:state",
          "local M = {n = 0} function M.bump() M.n = M.n + 1 return M.n end return M")
    spec = entry(sb, "app:user", """
        local lib = require("state")
        return {main = function()
          lib.bump(); lib.bump()
          return lib.bump(), require("state") == lib
        end}
    """, imports={"state": "app.lib:state"})
    assert run_entry(sb, spec) == (3, True)
    assert run_entry(sb, spec) == (3, True)  # a second process starts from scratch


def test_libraries_have_their_own_globals_and_allow_list(sb):
    entry(sb, "app.lib:g", "leaked = 'from lib' return {get = function() return leaked end}")
    spec = entry(sb, "app:g", """
        local lib = require("g")
        return {main = function() return leaked, lib.get() end}
    """, imports={"g": "app.lib:g"})
    assert run_entry(sb, spec) == (None, "from lib")


def test_circular_imports_are_reported(sb):
    entry(sb, "app:a", "return require('b')", imports={"b": "app:b"})
    entry(sb, "app:b", "return require('a')", imports={"a": "app:a"})
    spec = entry(sb, "app:main", "local a = require('a') return {main = function() end}",
                 imports={"a": "app:a"})
    with pytest.raises(Error, match="circular import of 'app:a'"):
        run_entry(sb, spec)


def test_runtime_errors_keep_kind_retryable_and_a_lua_stack(sb):
    spec = entry(sb, "app:fail", """
        local function inner()
          error(errors.new{kind = errors.UNAVAILABLE, message = "db down", retryable = true})
        end
        return {main = function() inner() end}
    """)
    with pytest.raises(Error) as info:
        run_entry(sb, spec)
    err = info.value
    assert (err.kind, err.message, err.retryable) == (ErrorKind.UNAVAILABLE, "db down", True)
    assert "app:fail.lua:3: in upvalue 'inner'" in err.stack
    assert "prelude" not in err.stack


def test_string_errors_carry_the_file_and_line(sb):
    spec = entry(sb, "app:oops", "return {main = function()\n local x = nil\n return x.y\nend}")
    with pytest.raises(Error, match=r"app:oops.lua:3: attempt to index a nil value") as info:
        run_entry(sb, spec)
    assert info.value.kind is ErrorKind.UNKNOWN


def test_non_string_error_values_are_described(sb):
    with pytest.raises(Error, match=r"Lua error: \{'code': 7\}"):
        sb.execute("error({code = 7})")


def test_commands_outside_a_driver_are_reported(sb):
    sb.install_module("fx", sb.eval_privileged(
        "local CMD = ... return {go = function() return coroutine.yield(CMD, 'go', 1) end}",
        sb.CMD), is_global=True)
    with pytest.raises(Error, match="called 'go', which needs a running process"):
        sb.execute("return fx.go()")


def test_step_reports_commands_with_their_arguments(sb):
    sb.install_module("fx", sb.eval_privileged(
        "local CMD = ... return {go = function(...) return coroutine.yield(CMD, 'go', ...) end}",
        sb.CMD), is_global=True)
    spec = entry(sb, "app:fx", "return {main = function() return fx.go(1, 'a', '\\xff') + 1 end}")
    P = sb.new_process(spec)
    tid = sb.start_entry(P, "main")
    res = sb.step(P, tid)
    assert res.kind == "yield" and res.op == "go"
    assert [sb.from_lua(a) for a in res.args] == [1, "a", b"\xff"]
    done = sb.step(P, tid, 41)
    assert done.kind == "return" and done.values == (42,)


def test_commands_inside_user_coroutines_are_forwarded_to_the_driver(sb):
    sb.install_module("fx", sb.eval_privileged(
        "local CMD = ... return {go = function(x) return coroutine.yield(CMD, 'go', x) end}",
        sb.CMD), is_global=True)
    spec = entry(sb, "app:gen", """
        return {main = function()
          local gen = coroutine.wrap(function() for i = 1, 2 do coroutine.yield(fx.go(i)) end end)
          return gen() + gen()
        end}
    """)
    P = sb.new_process(spec)
    tid = sb.start_entry(P, "main")
    first = sb.step(P, tid)
    assert (first.op, first.args) == ("go", (1,))
    second = sb.step(P, tid, 100)
    assert (second.op, second.args) == ("go", (2,))
    assert sb.step(P, tid, 200).values == (300,)


def test_memory_used_is_reported(sb):
    assert sb.memory_used() > 0


def test_budget_below_the_hook_step_is_refused():
    with pytest.raises(ValueError, match="at least"):
        Sandbox(instruction_budget=10)
