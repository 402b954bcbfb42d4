"""The ``crypto`` Lua module: random data, AES-GCM and ChaCha20-Poly1305 (layout, round
trips, tampering, key sizes), HMAC and PBKDF2 against published vectors, JWT, the bounds a
script cannot exceed, and a Lua workflow using it on real Temporal that replays
deterministically."""

from __future__ import annotations

import base64
import json
import os
import random
import sys
import textwrap
import uuid
from typing import Any

import pytest
import trio
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305
from hypothesis import given, settings
from hypothesis import strategies as st

from beamish.actors import Node
from beamish.luabridge import LuaEntrySpec, LuaScripts
from beamish.luabridge._lib_crypto import MAX_RANDOM, random_bytes, random_string

HELPERS = """
local crypto = require('crypto')
local function hex(s)
  return (s:gsub('.', function(c) return string.format('%02x', string.byte(c)) end))
end
local function fail(v, err)  -- (nil, err) as {kind, message}; a value as itself
  if err == nil then return {ok = v} end
  return {kind = err:kind(), msg = err:message(), retryable = err:retryable()}
end
"""


def run(body: str, *args: Any) -> Any:
    """Run ``body`` (the Lua of a function ``main(...)``, with ``crypto``, ``hex`` and
    ``fail`` in scope) on a fresh node and return its result."""
    src = HELPERS + "return {main = function(...)\n" + textwrap.dedent(body) + "\nend}"

    async def main() -> Any:
        async with Node() as node:
            scripts = LuaScripts(node=node)
            scripts.add(
                LuaEntrySpec(
                    id="t:crypto",
                    kind="function.lua",
                    source=src,
                    chunkname="crypto_test.lua",
                    method="main",
                    modules=("crypto",),
                )
            )
            node.functions.register("t:crypto", scripts.function("t:crypto"))
            return await node.call("t:crypto", *args)

    return trio.run(main)


# -- random -------------------------------------------------------------------------------


def test_random_values_have_the_requested_shape():
    out = run("""
      local b1 = crypto.random.bytes(16)
      local b2 = crypto.random.bytes(16)
      local s = crypto.random.string(200)
      local h = crypto.random.string(64, "ab")
      local u = crypto.random.uuid()
      return {n = #b1, differ = b1 ~= b2, s = s, h = h, u = u}
    """)
    assert out["n"] == 16 and out["differ"] is True
    assert len(out["s"]) == 200 and out["s"].isalnum() and out["s"].isascii()
    assert len(out["h"]) == 64 and set(out["h"]) <= {"a", "b"}
    assert uuid.UUID(out["u"]).version == 4 and len(out["u"]) == 36


@pytest.mark.parametrize(
    "call",
    [
        "crypto.random.bytes(0)",
        "crypto.random.bytes(-1)",
        "crypto.random.bytes(1.5)",
        "crypto.random.bytes(10^12)",
        "crypto.random.bytes('16')",
        "crypto.random.bytes()",
        f"crypto.random.bytes({MAX_RANDOM + 1})",
        "crypto.random.string(0)",
        "crypto.random.string(10^12)",
        "crypto.random.string(8, '')",
        "crypto.random.string(8, 42)",
    ],
)
def test_random_bounds_are_invalid_errors(call):
    out = run(f"return fail({call})")
    assert out["kind"] == "Invalid" and out["retryable"] is False, out


def test_random_at_the_bound_works():
    assert run(f"return #crypto.random.bytes({MAX_RANDOM})") == MAX_RANDOM


class _DurableCtx:
    """What random_bytes reads of a workflow context: ``durable`` and a seeded random()."""

    durable = True

    def __init__(self, seed: int) -> None:
        self._rng = random.Random(seed)

    def random(self) -> float:
        return self._rng.random()


def test_durable_randomness_is_a_function_of_the_recorded_seed():
    a, b, c = _DurableCtx(7), _DurableCtx(7), _DurableCtx(8)
    first = [random_bytes(a, 32), random_bytes(a, 5), random_string(a, 40, b"xyz")]
    again = [random_bytes(b, 32), random_bytes(b, 5), random_string(b, 40, b"xyz")]
    assert first == again
    assert random_bytes(c, 32) != first[0]
    assert first[0] != random_bytes(a, 32)  # successive draws differ
    assert set(first[2]) <= set(b"xyz") and len(first[2]) == 40


@settings(max_examples=50, deadline=None)
@given(charset=st.binary(min_size=1, max_size=300), n=st.integers(1, 500))
def test_random_string_draws_only_from_the_charset(charset, n):
    out = random_string(_DurableCtx(n), n, charset)
    assert len(out) == n and set(out) <= set(charset)


# -- encryption -----------------------------------------------------------------------------

AEAD = """
  local alg, key, aad, pts = ...
  local out = {}
  for i, pt in ipairs(pts) do
    local c, err = crypto.encrypt[alg](pt, key, aad)
    if err then return fail(nil, err) end
    local p, err2 = crypto.decrypt[alg](c, key, aad)
    if err2 then return fail(nil, err2) end
    out[i] = {c = hex(c), same = (p == pt)}
  end
  return out
"""


@settings(max_examples=10, deadline=None)
@given(
    pts=st.lists(st.binary(max_size=300), min_size=1, max_size=8),
    aad=st.one_of(st.none(), st.text(max_size=20)),
)
def test_encrypt_round_trips_with_the_nonce_prefixed_layout(pts, aad):
    for alg, key, cls in (
        ("aes", b"k" * 16, AESGCM),
        ("aes", b"k" * 24, AESGCM),
        ("aes", b"k" * 32, AESGCM),
        ("chacha20", b"c" * 32, ChaCha20Poly1305),
    ):
        out = run(AEAD, alg, key.decode(), aad, pts)
        nonces = set()
        for pt, item in zip(pts, out, strict=True):
            assert item["same"] is True
            c = bytes.fromhex(item["c"])
            assert len(c) == 12 + len(pt) + 16
            # Wippy's layout: nonce (12) .. ciphertext .. tag (16)
            aad_b = aad.encode() if aad else None
            assert cls(key).decrypt(c[:12], c[12:], aad_b) == pt
            nonces.add(c[:12])
        assert len(nonces) == len(pts)


def test_decrypt_detects_tampering_wrong_keys_and_wrong_aad():
    out = run("""
      local k, k2 = string.rep('k', 32), string.rep('j', 32)
      local res = {}
      for _, alg in ipairs({'aes', 'chacha20'}) do
        local c = crypto.encrypt[alg]('attack at dawn', k, 'hdr')
        local flips = {}
        for i = 1, #c do
          local t = c:sub(1, i - 1) .. string.char(string.byte(c, i) ~ 1) .. c:sub(i + 1)
          flips[i] = fail(crypto.decrypt[alg](t, k, 'hdr'))
        end
        res[alg] = {
          flips = flips,
          wrong_key = fail(crypto.decrypt[alg](c, k2, 'hdr')),
          wrong_aad = fail(crypto.decrypt[alg](c, k, 'other')),
          no_aad = fail(crypto.decrypt[alg](c, k)),
          short = fail(crypto.decrypt[alg]('short', k)),
          ok = fail(crypto.decrypt[alg](c, k, 'hdr')),
        }
      end
      return res
    """)
    for alg in ("aes", "chacha20"):
        r = out[alg]
        assert len(r["flips"]) == 12 + 14 + 16
        for f in [*r["flips"], r["wrong_key"], r["wrong_aad"], r["no_aad"]]:
            assert f == {
                "kind": "Internal",
                "msg": "decrypt: message authentication failed",
                "retryable": False,
            }
        assert r["short"]["kind"] == "Invalid" and "too short" in r["short"]["msg"]
        assert r["ok"] == {"ok": "attack at dawn"}


@pytest.mark.parametrize(
    "call,msg",
    [
        ("crypto.encrypt.aes('x', string.rep('k', 15))", "key must be 16, 24, or 32 bytes"),
        ("crypto.encrypt.aes('x', string.rep('k', 33))", "key must be 16, 24, or 32 bytes"),
        ("crypto.decrypt.aes(string.rep('x', 40), '')", "key must be 16, 24, or 32 bytes"),
        ("crypto.encrypt.chacha20('x', string.rep('k', 16))", "key must be 32 bytes"),
        (
            "crypto.decrypt.chacha20(string.rep('x', 40), string.rep('k', 31))",
            "key must be 32 bytes",
        ),
        ("crypto.encrypt.aes(42, string.rep('k', 16))", "data must be a string"),
        ("crypto.encrypt.aes('x', {})", "key must be a string"),
        ("crypto.encrypt.chacha20('x', string.rep('k', 32), 7)", "aad must be a string"),
    ],
)
def test_bad_keys_and_arguments_are_invalid(call, msg):
    assert run(f"return fail({call})") == {"kind": "Invalid", "msg": msg, "retryable": False}


# -- hmac, pbkdf2, compare --------------------------------------------------------------------

RFC4231 = [  # (key, data, sha256, sha512): test cases 1 and 2
    (
        "\x0b" * 20,
        "Hi There",
        "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
        "87aa7cdea5ef619d4ff0b4241a1d6cb02379f4e2ce4ec2787ad0b30545e17cde"
        "daa833b7d6b8a702038b274eaea3f4e4be9d914eeb61f1702e696c203a126854",
    ),
    (
        "Jefe",
        "what do ya want for nothing?",
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
        "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea250554"
        "9758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737",
    ),
]


@pytest.mark.parametrize("key,data,h256,h512", RFC4231)
def test_hmac_matches_rfc4231_as_hex(key, data, h256, h512):
    out = run(
        "local k, d = ... return {crypto.hmac.sha256(k, d), crypto.hmac.sha512(k, d)}", key, data
    )
    assert out == [h256, h512]


def test_hmac_refuses_an_empty_key_and_non_strings():
    out = run("return {fail(crypto.hmac.sha256('', 'x')), fail(crypto.hmac.sha512('k', nil))}")
    assert out[0] == {"kind": "Invalid", "msg": "key cannot be empty", "retryable": False}
    assert out[1]["kind"] == "Invalid" and out[1]["msg"] == "data must be a string"


# RFC 6070's inputs with HMAC-SHA256 (the PBKDF2-SHA256 vectors published for them) and
# RFC 7914 section 11's PBKDF2-HMAC-SHA256 vector.
PBKDF2_VECTORS = [
    (
        "password",
        "salt",
        1,
        32,
        "sha256",
        "120fb6cffcf8b32c43e7225256c4f837a86548c92ccc35480805987cb70be17b",
    ),
    (
        "password",
        "salt",
        4096,
        32,
        "sha256",
        "c5e478d59288c841aa530db6845c4c8d962893a001ce4e11a4963873aa98134a",
    ),
    (
        "passwd",
        "salt",
        1,
        64,
        "sha256",
        "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc"
        "49ca9cccf179b645991664b39d77ef317c71b845b1e30bd509112041d3a19783",
    ),
]


@pytest.mark.parametrize("pw,salt,it,n,h,expected", PBKDF2_VECTORS)
def test_pbkdf2_returns_raw_bytes_matching_known_vectors(pw, salt, it, n, h, expected):
    out = run("return hex(crypto.pbkdf2(...))", pw, salt, it, n, h)
    assert out == expected


def test_pbkdf2_defaults_to_sha256_and_supports_sha512():
    out = run("""return {hex(crypto.pbkdf2('password', 'salt', 4096, 32)),
                         #crypto.pbkdf2('password', 'salt', 10, 64, 'sha512')}""")
    assert out == [PBKDF2_VECTORS[1][5], 64]


@pytest.mark.parametrize(
    "args,msg",
    [
        ("'', 'salt', 1000, 32", "password cannot be empty"),
        ("'pw', '', 1000, 32", "salt cannot be empty"),
        ("'pw', 'salt', 0, 32", "iterations must be positive"),
        ("'pw', 'salt', 10000001, 32", "iterations exceeds maximum (10000000)"),
        ("'pw', 'salt', 10^40, 32", "iterations exceeds maximum (10000000)"),
        ("'pw', 'salt', 1000, 0", "key length must be positive"),
        ("'pw', 'salt', 1000, 1025", "key length exceeds maximum (1024 bytes)"),
        ("'pw', 'salt', 1000, 32, 'md5'", "unsupported hash function: md5 (use sha256 or sha512)"),
        ("'pw', 'salt', 1.5, 32", "iterations must be an integer"),
        ("'pw', 'salt', 1000, '32'", "key length must be an integer"),
        ("{}, 'salt', 1000, 32", "password must be a string"),
    ],
)
def test_pbkdf2_bounds_and_bad_input(args, msg):
    assert run(f"return fail(crypto.pbkdf2({args}))") == {
        "kind": "Invalid",
        "msg": msg,
        "retryable": False,
    }


def test_pbkdf2_bounds_total_work():
    out = run("return fail(crypto.pbkdf2('pw', 'salt', 10000000, 64))")
    assert out["kind"] == "Invalid" and "work too large" in out["msg"]


@settings(max_examples=10, deadline=None)
@given(a=st.binary(max_size=40), b=st.binary(max_size=40))
def test_constant_time_compare_is_equality(a, b):
    out = run(
        "local a, b = ... return {crypto.constant_time_compare(a, b),"
        " crypto.constant_time_compare(a, a), crypto.constant_time_compare(a, 1)}",
        a,
        b,
    )
    assert out == [a == b, True, False]


# -- jwt ------------------------------------------------------------------------------------


def _segment(token: str, i: int) -> dict[str, Any]:
    part = token.split(".")[i]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def test_jwt_round_trips_and_rejects_what_it_should():
    out = run("""
      local exp = os.time() + 3600
      local t = crypto.jwt.encode({sub = 'user123', n = 3, exp = exp, _header = {kid = 'k1'}},
                                  'secret')
      local t384 = crypto.jwt.encode({sub = 'x', exp = exp}, 'secret', 'HS384')
      local old = crypto.jwt.encode({sub = 'x', exp = os.time() - 10}, 'secret')
      local noexp = crypto.jwt.encode({sub = 'x'}, 'secret', 'HS512')
      local early = crypto.jwt.encode({exp = exp, nbf = os.time() + 600}, 'secret')
      return {
        t = t,
        ok = fail(crypto.jwt.verify(t, 'secret')),
        ok384 = fail(crypto.jwt.verify(t384, 'secret', 'HS384')),
        wrong_key = fail(crypto.jwt.verify(t, 'wrong')),
        mismatch = fail(crypto.jwt.verify(t384, 'secret', 'HS256')),
        garbage = fail(crypto.jwt.verify('invalid.token.here', 'secret')),
        two = fail(crypto.jwt.verify('a.b', 'secret')),
        expired = fail(crypto.jwt.verify(old, 'secret')),
        missing = fail(crypto.jwt.verify(noexp, 'secret', 'HS512')),
        optional = fail(crypto.jwt.verify(noexp, 'secret', 'HS512', false)),
        early = fail(crypto.jwt.verify(early, 'secret')),
        bad_alg = fail(crypto.jwt.encode({}, 'secret', 'none')),
        not_table = fail(crypto.jwt.encode('x', 'secret')),
      }
    """)
    assert _segment(out["t"], 0) == {"alg": "HS256", "typ": "JWT", "kid": "k1"}
    assert "_header" not in _segment(out["t"], 1)
    assert out["ok"]["ok"]["sub"] == "user123" and out["ok"]["ok"]["n"] == 3
    assert out["ok384"]["ok"]["sub"] == "x"
    assert out["optional"]["ok"] == {"sub": "x"}
    for name, words in [
        ("wrong_key", "signature is invalid"),
        ("mismatch", "signing method"),
        ("garbage", "malformed"),
        ("two", "malformed"),
        ("expired", "expired"),
        ("missing", "exp claim is required"),
        ("early", "not valid yet"),
    ]:
        assert out[name]["kind"] == "Internal" and words in out[name]["msg"], (name, out[name])
    assert out["bad_alg"]["kind"] == "Invalid" and out["not_table"]["kind"] == "Invalid"


def test_jwt_rs256_with_pem_keys():
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
    other_pem = other.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()
    out = run(
        """
      local priv, pub, other = ...
      local t = crypto.jwt.encode({sub = 'r', exp = os.time() + 60}, priv, 'RS256')
      return {ok = fail(crypto.jwt.verify(t, pub, 'RS256')),
              other = fail(crypto.jwt.verify(t, other, 'RS256')),
              bad_pub = fail(crypto.jwt.verify(t, 'not a key', 'RS256')),
              bad_priv = fail(crypto.jwt.encode({}, 'not a key', 'RS256'))}
    """,
        private,
        public,
        other_pem,
    )
    assert out["ok"]["ok"]["sub"] == "r"
    assert out["other"]["kind"] == "Internal"
    assert out["bad_pub"]["kind"] == "Internal" and "RSA public key" in out["bad_pub"]["msg"]
    assert out["bad_priv"]["kind"] == "Invalid" and "RSA private key" in out["bad_priv"]["msg"]


def test_errors_never_carry_python_text():
    out = run("""
      return {fail(crypto.decrypt.aes(string.rep('x', 40), string.rep('k', 16))),
              fail(crypto.jwt.verify('\\255\\254.x.y', 'k')),
              fail(crypto.jwt.encode({f = function() end}, 'k'))}
    """)
    for item in out:
        assert "Traceback" not in item["msg"] and "Exception" not in item["msg"], item
        assert item["kind"] in {"Invalid", "Internal"}


# -- workflows --------------------------------------------------------------------------------

WORKFLOW = """
local crypto = require('crypto')
local time = require('time')
local funcs = require('funcs')
local function hex(s)
  return (s:gsub('.', function(c) return string.format('%02x', string.byte(c)) end))
end
local function main(msg)
  local key = '0123456789abcdef'
  local b = crypto.random.bytes(16)
  local s = crypto.random.string(20)
  local u = crypto.random.uuid()
  local c = crypto.encrypt.aes(msg, key)
  local c2 = crypto.encrypt.chacha20(msg, string.rep('k', 32))
  -- the recorded history depends on the random values: a replay that drew other
  -- values would issue other commands (timer vs activity) and fail as nondeterministic
  for i = 1, #b do
    if string.byte(b, i) % 2 == 0 then time.sleep('1ms') else funcs.call('app:noop') end
  end
  return {b = hex(b), s = s, u = u, c = hex(c), c2 = hex(c2),
          d = crypto.decrypt.aes(c, key),
          d2 = crypto.decrypt.chacha20(c2, string.rep('k', 32)),
          h = crypto.hmac.sha256('secret', msg),
          p = #crypto.pbkdf2('password', 'salt', 1000, 32)}
end
return {main = main}
"""


async def test_a_lua_workflow_uses_crypto_and_replays_deterministically(
    temporal_server, monkeypatch
):
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(__file__)), "durable"))
    from durable_harness import harness
    from temporalio.worker import Replayer

    from beamish.durable import DATA_CONVERTER, WorkflowEntry, WorkflowEnv
    from beamish.durable._interceptors import ContextInterceptor
    from beamish.durable._lua import lua_workflow_body
    from beamish.durable._workflow import workflow_class

    modules = ("crypto", "time", "funcs")
    body = lua_workflow_body("app:crypto_wf", WORKFLOW, modules=modules)
    tq = f"tq-crypto-{uuid.uuid4().hex[:10]}"
    async with harness(
        temporal_server, tq, {"app:crypto_wf": body}, functions={"app:noop": lambda: None}
    ) as h:
        handle = await h.start("app:crypto_wf", "Hello, Temporal!")
        out = await h.result(handle)
        history = await h.on_loop(handle.fetch_history)

        assert len(bytes.fromhex(out["b"])) == 16 and len(out["s"]) == 20
        assert uuid.UUID(out["u"]).version == 4
        assert out["d"] == out["d2"] == "Hello, Temporal!" and out["p"] == 32
        c = bytes.fromhex(out["c"])
        assert AESGCM(b"0123456789abcdef").decrypt(c[:12], c[12:], None) == b"Hello, Temporal!"
        env = WorkflowEnv(client="app:temporal", worker="app:worker", task_queue=tq)
        replayer = Replayer(
            workflows=[
                workflow_class(WorkflowEntry("app:crypto_wf", body, kind="workflow.lua"), env)
            ],
            interceptors=[ContextInterceptor()],
            data_converter=DATA_CONVERTER,
        )
        result = await h.on_loop(replayer.replay_workflow, history, raise_on_replay_failure=False)
        assert result.replay_failure is None, result.replay_failure

        # the check has teeth: bytes that are not replay-safe make the replay fail
        # (16 coin flips must all agree for it to pass by chance)
        import beamish.luabridge._lib_crypto as lib

        monkeypatch.setattr(lib, "random_bytes", lambda ctx, n: os.urandom(n))
        bad = await h.on_loop(replayer.replay_workflow, history, raise_on_replay_failure=False)
        assert bad.replay_failure is not None
