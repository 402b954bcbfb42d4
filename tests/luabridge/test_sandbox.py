"""Escape attempts against the Lua sandbox: every one must be blocked.

Each test is one known way out of a Lua sandbox (or into the host), run as a script in
a fresh sandbox; the assertion states how it is blocked. Runaway loops and memory bombs
must end only the offending process.
"""

from __future__ import annotations

import pytest

from beamish.actors import Error, ErrorKind
from beamish.luabridge import LuaSyntaxError, Sandbox, install_modules


@pytest.fixture
def sb() -> Sandbox:
    s = Sandbox(max_memory=48 * 1024 * 1024, instruction_budget=2_000_000)
    install_modules(s)
    return s


def run(sb: Sandbox, src: str):
    return sb.execute(src)


# -- the host is out of reach -------------------------------------------------------------

@pytest.mark.parametrize(
    "name",
    ["python", "load", "loadstring", "dofile", "loadfile", "collectgarbage", "rawlen",
     "io", "debug", "package", "module", "newproxy", "setfenv", "getfenv"],
)
def test_dangerous_globals_are_absent(sb, name):
    assert run(sb, f"return type({name})") == "nil"


@pytest.mark.parametrize(
    "field", ["execute", "exit", "remove", "rename", "tmpname", "getenv", "setlocale"]
)
def test_os_keeps_only_clock_functions(sb, field):
    assert run(sb, f"return type(os.{field})") == "nil"
    assert run(sb, "return type(os.time), type(os.clock), type(os.date)") == (
        "function", "function", "function")


def test_string_dump_is_gone_from_the_module_and_from_string_methods(sb):
    assert run(sb, "return type(string.dump), type(('').dump)") == ("nil", "nil")


def test_bytecode_cannot_be_loaded(sb):
    # Sources are compiled in text mode only, behind a text prefix: a binary chunk is
    # just a syntax error, and there is no load() to try 'b' mode with.
    with pytest.raises(LuaSyntaxError, match=r"evil\.lua line 1"):
        sb.compile("\x1bLua\x55\x00\x19\x93", "evil.lua")
    with pytest.raises(TypeError):
        sb.compile(b"\x1bLua", "evil.lua")


def test_host_bytecode_is_refused_to_scripts(sb):
    # The host loads its own modules as precompiled bytecode; a script handed that very
    # bytecode still cannot run it (text-only compile, no load()).
    from beamish.luabridge._runtime import host_bytecode

    bc = host_bytecode("return 42", "probe")
    assert sb.eval_privileged("return 42", name="probe") == 42
    with pytest.raises(LuaSyntaxError):
        sb.compile(bc.decode("latin-1"), "evil.lua")
    assert run(sb, "return pcall(require, 'probe')")[0] is False


def test_python_eval_and_builtins_are_not_registered(sb):
    # Even the host's own globals have no python.eval / python.builtins.
    real = sb.lua.globals()
    assert real.python.eval is None
    assert real.python.builtins is None


def test_attribute_access_on_python_objects_is_denied(sb):
    # Scripts never get Python objects; if one ever leaked, the filter still denies
    # every attribute (no __globals__, __class__, __builtins__...).
    def callback():
        return 1

    probe = sb.lua.eval(
        "function(f) local ok, err = pcall(function() return f.__globals__ end) "
        "local ok2 = pcall(function() return f.__class__ end) return ok, ok2, tostring(err) end"
    )
    ok, ok2, err = probe(callback)
    assert ok is False and ok2 is False
    assert "may not access attributes" in err


def test_lua_functions_handed_to_scripts_have_no_python_inside(sb):
    assert run(sb, "return pcall(function() return print.__globals__ end)") == (
        False, "script:1: attempt to index a function value (global 'print')")


def test_getmetatable_of_userdata_is_hidden(sb):
    real_getmt = sb.lua.eval("function(u) return getmetatable(u) end")
    sandboxed_getmt = sb.host.BASE.getmetatable
    assert real_getmt(object()) is not None  # lupa's shared metatable for Python objects
    assert sandboxed_getmt(object()) is None


def test_debug_registry_and_upvalues_are_unreachable(sb):
    assert run(sb, "return pcall(function() return debug.getregistry() end)")[0] is False
    assert run(sb, "return pcall(function() return debug.getupvalue(print, 1) end)")[0] is False


# -- the shared string metatable and module tables are locked ----------------------------

def test_string_metatable_is_locked(sb):
    assert run(sb, "return getmetatable('')") is False
    ok, err = run(sb, "return pcall(function() getmetatable('').__index.upper = nil end)")
    assert ok is False and "index a boolean value" in err
    ok, err = run(sb, "return pcall(setmetatable, '', {})")
    assert ok is False


def test_module_tables_are_read_only(sb):
    ok, err = run(sb, "return pcall(function() string.upper = function() return 'pwned' end end)")
    assert ok is False and "read-only table 'string'" in err
    assert run(sb, "return pcall(rawset, string, 'upper', print)")[0] is False
    assert run(sb, "return pcall(setmetatable, string, {})")[0] is False
    assert run(sb, "return getmetatable(string), getmetatable(table), getmetatable(errors)") == (
        False, False, False)
    assert run(sb, "return ('abc'):upper()") == "ABC"


def test_pairs_over_a_module_never_leaks_the_real_table(sb):
    n, state = run(sb, """
        local n = 0
        for k, v in pairs(string) do n = n + 1 end
        local _, s = pairs(string)
        return n, s == string
    """)
    assert n > 10 and state is True
    assert run(sb, "return next(string)") is None


def test_one_script_cannot_change_what_another_sees(sb):
    run(sb, "x = 1; _G.y = 2; pcall(function() table.insert = nil end); "
            "pcall(function() getmetatable(_G).__index = {} end)")
    assert run(sb, "return x, y, type(table.insert)") == (None, None, "function")


def test_environment_metatable_is_protected(sb):
    assert run(sb, "return getmetatable(_G)") is False
    assert run(sb, "return pcall(setmetatable, _G, nil)")[0] is False


def test_gc_metamethods_are_refused(sb):
    ok, err = run(sb, "return pcall(setmetatable, {}, {__gc = function() while true do end end})")
    assert ok is False and "__gc" in err


def test_require_of_unknown_or_host_modules_fails(sb):
    for name in ("debug", "string", "ffi", "lupa", "package", "python"):
        ok, err = run(sb, f"return pcall(require, '{name}')")
        assert ok is False, name
        assert "not found" in err
    # `io` and `os` are Wippy's modules, not Lua's: io behind the allow-list, os the
    # sandbox's clock-only global (no execute, exit, remove, getenv).
    ok, err = run(sb, "return pcall(require, 'io')")
    assert ok is False and "not allowed" in err
    assert run(sb, "local o = require('os') return o == os and o.execute == nil "
                   "and o.exit == nil and o.remove == nil and o.getenv == nil") is True


def test_require_of_a_module_not_in_the_allow_list_fails():
    s = Sandbox()
    install_modules(s)
    s.install_module("secret", s.lua.table_from({"x": 1}))
    with pytest.raises(Error, match="module 'secret' is not allowed"):
        s.execute("return require('secret')")
    assert s.execute("return require('secret').x", modules=["secret"]) == 1


def test_a_lazy_module_is_built_once_on_first_allowed_require():
    s = Sandbox()
    install_modules(s)
    built = []

    def args():
        built.append(1)
        return (s.lua.table_from({"n": 7}),)

    s.install_lazy_modules(("lazy_a", "lazy_b"), "local t = ... "
                           "return {lazy_a = {n = t.n}, lazy_b = {twice = t.n * 2}}", args,
                           chunkname="lazy")
    with pytest.raises(Error, match="module 'lazy_a' is not allowed"):
        s.execute("return require('lazy_a')")
    assert built == []  # refusing a require builds nothing
    assert s.execute("return require('lazy_a').n", modules=["lazy_a"]) == 7
    assert s.execute("return require('lazy_b').twice", modules=["lazy_b"]) == 14
    assert built == [1]  # one chunk for the group, run once
    ok, err = s.execute("return pcall(function() require('lazy_a').n = 1 end)",
                        modules=["lazy_a"])
    assert ok is False and "read-only" in err
    assert s.module("lazy_b", "twice") == 14


def test_a_lazy_module_that_cannot_be_built_is_a_lua_error():
    s = Sandbox()
    install_modules(s)

    def broken():
        raise RuntimeError("no config")

    s.install_lazy_modules(("broken",), "return {}", broken, chunkname="broken")
    ok, err = s.execute("return pcall(require, 'broken')", modules=["broken"])
    assert ok is False
    assert "could not be built" in str(err) and "no config" in str(err)


def test_standard_modules_are_built_on_first_require():
    s = Sandbox()
    install_modules(s)

    def heap() -> int:
        s.eval_privileged("collectgarbage() collectgarbage()", name="gc")
        return s.memory_used()

    before = heap()
    assert s.execute("return type(process.send), type(channel.new), payload.new(3):data()") == (
        "function", "function", 3)
    globals_only = heap() - before
    assert s.execute("local t = require('time') return t.SECOND", modules=["time"]) == 10**9
    with_time = heap() - before
    assert globals_only < 8 * 1024 < 16 * 1024 < with_time  # ~2 KB vs ~30 KB


def test_commands_cannot_be_forged(sb):
    # The command sentinel is private: a user yield is a plain requeue, never a command.
    assert run(sb, "coroutine.yield('send', 'x') return 'resumed'") == "resumed"


def test_scheduler_threads_cannot_be_resumed_or_closed_by_scripts(sb):
    ok, err = run(sb, "local me = coroutine.running() return pcall(coroutine.resume, me)")
    assert ok is False and "managed by the scheduler" in err
    ok, err = run(sb, "local me = coroutine.running() return pcall(coroutine.close, me)")
    assert ok is False and "managed by the scheduler" in err


# -- runaway loops and memory bombs end only their process --------------------------------

@pytest.mark.parametrize(
    "src",
    [
        "while true do end",
        "while true do pcall(function() while true do end end) end",
        "while true do xpcall(function() while true do end end, "
        "function() while true do end end) end",
        "while true do xpcall(function() error('x') end, function() while true do end end) end",
        "local co = coroutine.wrap(function() while true do end end) co()",
        "local co = coroutine.create(function() while true do end end) coroutine.resume(co)",
        "table.sort({3, 2, 1, 5, 4}, function(a, b) while true do end end)",
        "local t = setmetatable({}, {__index = function(t, k) while true do end end}) return t.x",
        "return tostring(setmetatable({}, {__tostring = function() while true do end end}))",
        "local function f() return f() end return f()",
    ],
)
def test_runaway_loops_are_stopped_by_the_instruction_budget(sb, src):
    with pytest.raises(Error, match="instruction budget exceeded") as info:
        run(sb, src)
    assert info.value.kind is ErrorKind.INTERNAL
    assert run(sb, "return 'still alive'") == "still alive"


def test_budget_is_per_resume_not_per_lifetime(sb):
    # 3 x ~1.2M instructions with yields in between: never more than the budget at once.
    assert run(sb, """
        local n = 0
        for round = 1, 3 do
          for i = 1, 300000 do n = n + 1 end
          coroutine.yield()
        end
        return n
    """) == 900000


@pytest.mark.parametrize(
    "src",
    [
        "local t = {} for i = 1, 1e9 do t[i] = string.rep('x', 1000) .. i end",
        "local s = 'x' while true do s = s .. s end",
        "return string.rep('x', 2^40)",
    ],
)
def test_memory_bombs_end_the_process_and_the_runtime_recovers(sb, src):
    with pytest.raises(Error) as info:
        run(sb, src)
    assert "memory" in info.value.message or "too large" in info.value.message
    assert run(sb, "local t = {} for i = 1, 1000 do t[i] = i end return #t") == 1000


def test_a_memory_bomb_in_one_process_leaves_another_running(sb):
    chunk = sb.compile("return {main = function(n) local s = 0 for i = 1, n do s = s + i "
                       "coroutine.yield() end return s end}", "counter.lua")
    spec = sb.register_entry("app:counter", chunk)
    quiet = sb.new_process(spec)
    tid = sb.start_entry(quiet, "main", [3])
    assert sb.step(quiet, tid).kind == "pass"
    with pytest.raises(Error, match="memory"):
        run(sb, "local t = {} while true do t[#t + 1] = string.rep('y', 4096) end")
    assert sb.step(quiet, tid).kind == "pass"
    assert sb.step(quiet, tid).kind == "pass"
    res = sb.step(quiet, tid)
    assert res.kind == "return" and res.values == (6,)


def test_deep_recursion_is_an_error_not_a_crash(sb):
    with pytest.raises(Error, match="stack overflow"):
        run(sb, "local function f(n) return 1 + f(n + 1) end return f(1)")


def test_print_never_leaks_python_exceptions(sb):
    seen = []
    sb.print_handler = lambda proc, text: seen.append(text)
    assert run(sb, "print('a', 1, nil, '\\xff') return 'ok'") == "ok"
    assert seen == ["a\t1\tnil\t?"]
