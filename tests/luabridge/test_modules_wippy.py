"""Wippy's smaller semantics: imports of any Lua entry, process functions, ``security``,
``io``, ``os`` and ``hash``, including their failure paths."""

from __future__ import annotations

import hashlib
import hmac
import textwrap
from pathlib import Path
from typing import Any

import pytest
import trio
from hypothesis import given, settings
from hypothesis import strategies as st

from beamish import load_directory
from beamish.actors import Error, Node
from beamish.luabridge import LuaEntrySpec, LuaScripts, check_entry, spec_from_entry

MODULES = ("security", "hash", "io", "os", "funcs", "ctx", "time")


def add(scripts: LuaScripts, node: Node, entry_id: str, source: str, *,
        kind: str = "process.lua", modules: tuple[str, ...] = MODULES,
        meta: dict[str, Any] | None = None, imports: dict[str, str] | None = None) -> None:
    scripts.add(LuaEntrySpec(id=entry_id, kind=kind, source=textwrap.dedent(source),
                             chunkname=entry_id.split(":")[1] + ".lua",
                             method=None if kind == "library.lua" else "main",
                             modules=modules, meta=meta or {}, imports=imports or {}))
    if kind == "process.lua":
        node.register_process(entry_id, scripts.process_body(entry_id))
    elif kind == "function.lua":
        node.functions.register(entry_id, scripts.function(entry_id))


def run(body: str, *extra: tuple[str, str, dict[str, Any]],
        imports: dict[str, str] | None = None) -> Any:
    """Run ``body`` (the Lua of a process ``main``) on a fresh node and return its result;
    ``extra`` are more entries ``(id, source, options for add)``."""

    async def main() -> Any:
        async with Node() as node:
            scripts = LuaScripts(node=node)
            for entry_id, source, kw in extra:
                add(scripts, node, entry_id, source, **kw)
            add(scripts, node, "t:main", "return {main = function(...)\n" + body + "\nend}",
                imports=imports)
            return await node.exec("t:main")

    return trio.run(main)


# -- imports ------------------------------------------------------------------------------

def test_a_function_entry_imported_gives_its_exports():
    out = run("return require('fn').main(20) + require('fn').extra",
              ("t:fn", "return {main = function(n) return n * 2 end, extra = 2}",
               {"kind": "function.lua"}), imports={"fn": "t:fn"})
    assert out == 42


def test_import_of_a_non_lua_entry_is_refused_at_load(tmp_path: Path):
    (tmp_path / "app.yaml").write_text(textwrap.dedent("""
        namespace: app
        entries:
          - name: a
            kind: function.lua
            source: "return {main = function() end}"
            method: main
            imports: {h: host}
          - name: host
            kind: process.host
    """))
    registry = load_directory(tmp_path)
    specs = {e.id: spec_from_entry(e) for e in registry if e.kind.endswith(".lua")}
    with pytest.raises(Error, match="import 'h' refers to 'app:host', which is not a Lua"):
        check_entry(specs["app:a"], specs.get, owner=registry)


# -- process functions -------------------------------------------------------------------------

ECHO = ("t:echo", "return {main = function(a, b) return {a = a or 'none', b = b} end}",
        {"meta": {"default_host": "app:processes"}})
FAILING = ("t:bad", "return {main = function() error('deliberate failure') end}",
           {"meta": {"options": {"default_host": "app:processes"}}})
PLAIN = ("t:plain", "return {main = function() return 1 end}", {})


def test_a_process_with_default_host_is_callable_as_a_function():
    async def main() -> Any:
        async with Node() as node:
            node.add_host("app:processes")
            scripts = LuaScripts(node=node)
            for entry_id, source, kw in (ECHO, FAILING, PLAIN):
                add(scripts, node, entry_id, source, **kw)
            add(scripts, node, "t:main", """return {main = function()
              local funcs = require('funcs')
              local r1 = funcs.call('t:echo', 'x', 'y')
              local r2 = funcs.call('t:echo')
              local _, e3 = funcs.call('t:bad')
              local _, e4 = funcs.call('t:plain')
              local f = funcs.async('t:echo', 'z')
              local p = f:response():receive()
              return {r1 = r1, r2 = r2, e3 = tostring(e3),
                      k4 = e4:kind() == errors.NOT_FOUND, r5 = p:data()}
            end}""", meta={"default_host": "app:processes"})
            return await node.exec("t:main"), await node.call("t:echo", "py")

    out, direct = trio.run(main)
    assert out["r1"] == {"a": "x", "b": "y"} and out["r2"] == {"a": "none"}
    assert "deliberate failure" in out["e3"]
    assert out["k4"] is True  # no default_host: not a function
    assert out["r5"] == {"a": "z"}
    assert direct == {"a": "py"}


def test_a_cancelled_process_function_call_cancels_the_process():
    async def main() -> Any:
        async with Node() as node:
            node.add_host("app:processes")
            scripts = LuaScripts(node=node)
            add(scripts, node, "t:slow", """return {main = function()
              local ev = process.events():receive()
              process.send('watcher', 'seen', ev.kind)
              return 'ended'
            end}""", meta={"default_host": "app:processes"})
            add(scripts, node, "t:main", """return {main = function()
              process.registry.register('watcher')
              local f = require('funcs').async('t:slow')
              require('time').sleep('20ms')
              f:cancel()
              local msg = process.inbox():receive()
              return msg:payload():data()
            end}""")
            return await node.exec("t:main")

    assert trio.run(main) == "pid.cancel"


# -- security ---------------------------------------------------------------------------------

WHOAMI = ("t:who", """return {main = function()
  local s = require('security')
  local a, sc = s.actor(), s.scope()
  local deeper = nil
  if a and a:id() == 'u1' then deeper = process.exec('t:who2', nil) end
  return {id = a and a:id(), meta = a and a:meta(), scope = sc ~= nil,
          policies = sc and #sc:policies(), deeper = deeper, ctx = require('ctx').all()}
end}""", {})
WHOAMI2 = ("t:who2", """return {main = function()
  local a = require('security').actor()
  return a and a:id()
end}""", {})


def test_actor_and_scope_are_carried_to_children_and_grandchildren():
    out = run("""
      local s = require('security')
      local a = s.new_actor('u1', {role = 'admin', n = 2})
      return process.with_context({k = 1}):with_actor(a):with_scope(s.new_scope())
        :exec('t:who', nil)
    """, WHOAMI, WHOAMI2)
    assert out["id"] == "u1" and out["meta"] == {"role": "admin", "n": 2}
    assert out["scope"] is True and out["policies"] == 0
    assert out["deeper"] == "u1"            # inherited without with_actor
    assert out["ctx"] == {"k": 1}           # the pair is not a context value


def test_without_an_actor_there_is_none():
    out = run("return process.exec('t:who', nil)", WHOAMI, WHOAMI2)
    assert out == {"scope": False, "ctx": {}}


def test_functions_see_the_callers_actor_and_executor_overrides():
    fn = ("t:fn", "return {main = function() local a = require('security').actor() "
                  "return a and a:id() end}", {"kind": "function.lua"})
    out = run("""
      local s, funcs = require('security'), require('funcs')
      local none = funcs.call('t:fn')
      local ex = funcs.new():with_actor(s.new_actor('svc'))
      return {none = none, ex = ex:call('t:fn')}
    """, fn)
    assert out == {"ex": "svc"}


def test_security_has_no_policies_and_checks_its_arguments():
    out = run("""
      local s = require('security')
      local a, sc = s.new_actor('x'), s.new_scope({1, 'p'})
      local pol, perr = s.policy('app:p')
      local ns, nerr = s.named_scope('app:g')
      local ts, terr = s.token_store('app:t')
      local ok1 = pcall(s.new_actor, 42)
      local ok2 = pcall(process.with_context({}).with_actor, process.with_context({}), {})
      local ok3, e3 = pcall(sc.with, sc, {})
      local ok4 = pcall(s.new_actor, 'y', {f = function() end})
      return {can = s.can('read', 'r'), ev = sc:evaluate(a, 'read', 'r'),
              has = sc:contains('app:p'), same = sc:without('app:p') == sc,
              pol = pol == nil and perr:kind() == errors.INTERNAL,
              ns = ns == nil and nerr:kind() == errors.INTERNAL,
              ts = ts == nil and terr:kind() == errors.INTERNAL, ok1 = ok1, ok2 = ok2, ok3 = ok3,
              ok4 = ok4, meta = a:meta()}
    """)
    assert out["can"] is False and out["ev"] == "undefined" and out["has"] is False
    assert out["same"] is True
    assert out["pol"] is out["ns"] is out["ts"] is True
    assert not (out["ok1"] or out["ok2"] or out["ok3"] or out["ok4"])
    assert out["meta"] == {}


def test_actor_meta_is_a_copy():
    out = run("""
      local s = require('security')
      local m = {role = 'a'}
      local a = s.new_actor('x', m)
      m.role = 'changed'
      local got = a:meta(); got.role = 'mine'
      return a:meta().role
    """)
    assert out == "a"


# -- io and os --------------------------------------------------------------------------------

def test_io_has_no_terminal_and_touches_nothing(capfd):
    out = run("""
      local io = require('io')
      local r = {}
      for _, name in ipairs({'write', 'print', 'eprint', 'read', 'readline', 'raw', 'flush'}) do
        local v, err = io[name]('data')
        r[name] = {v == nil, err}
      end
      r.args = #io.args()
      r.open = io.open == nil and io.lines == nil and io.popen == nil
      return r
    """)
    assert out.pop("args") == 0 and out.pop("open") is True
    assert all(v == [True, "no terminal context"] for v in out.values())
    assert "data" not in capfd.readouterr().out


def test_os_is_the_clock_only():
    out = run("""
      local os2 = require('os')
      return {same = os2 == os, t = os2.time() > 0, d = type(os2.date('%Y')),
              c = type(os2.clock()), diff = os2.difftime(5, 2),
              bad = {os2.execute, os2.exit, os2.remove, os2.rename, os2.getenv,
                     os2.tmpname} }
    """)
    assert out == {"same": True, "t": True, "d": "string", "c": "number", "diff": 3.0,
                   "bad": []}


# -- hash -------------------------------------------------------------------------------------

def test_hash_digests_and_hmacs_match_python():
    out = run("""
      local h = require('hash')
      local r = {}
      for _, n in ipairs({'md5', 'sha1', 'sha256', 'sha512'}) do
        r[n] = h[n]('abc')
        r[n .. '_raw'] = #h[n]('abc', true)
        r['hmac_' .. n] = h['hmac_' .. n]('abc', 'key')
      end
      r.bin = h.sha256('\\0\\255\\1')
      r.raw_is_bytes = h.hmac_sha256('d', 'k', true) == h.hmac_sha256('d', 'k', true)
      return r
    """)
    for n in ("md5", "sha1", "sha256", "sha512"):
        assert out[n] == hashlib.new(n, b"abc").hexdigest()
        assert out[n + "_raw"] == hashlib.new(n, b"abc").digest_size
        assert out["hmac_" + n] == hmac.new(b"key", b"abc", n).hexdigest()
    assert out["bin"] == hashlib.sha256(b"\x00\xff\x01").hexdigest()


def test_hash_bad_arguments_and_oversize_inputs():
    out = run("""
      local h = require('hash')
      local _, e1 = h.sha256(42)
      local _, e2 = h.hmac_sha256('x', nil)
      local _, e3 = h.fnv32(string.rep('a', 1048577))
      local ok4, e4 = pcall(h.md5, string.rep('a', 17 * 1024 * 1024))
      return {e1 = tostring(e1:kind() == errors.INVALID) .. ':' .. e1:message(),
              e2 = e2:message(), e3 = e3:kind() == errors.INVALID,
              ok4 = ok4, e4 = tostring(e4)}
    """)
    assert out["e1"] == "true:data must be a string"
    assert out["e2"] == "secret must be a string"
    assert out["e3"] is True
    assert out["ok4"] is False and "too large" in out["e4"]


def _fnv1(bits: int, data: bytes) -> int:
    h, prime = (0x811C9DC5, 0x01000193) if bits == 32 else (0xCBF29CE484222325, 0x100000001B3)
    for b in data:
        h = (h * prime) % (1 << bits) ^ b
    return h


@settings(max_examples=25, deadline=None)
@given(st.binary(max_size=64))
def test_fnv_is_fnv1_over_any_bytes(data: bytes):
    lit = "".join(f"\\{b}" for b in data)
    out = run(f"local h = require('hash') return {{h.fnv32('{lit}'), h.fnv64('{lit}')}}")
    assert out[0] == _fnv1(32, data)
    assert out[1] == float(_fnv1(64, data))
