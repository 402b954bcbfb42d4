"""The ``crypto`` Lua module (``require("crypto")``): randomness, AEAD encryption, HMAC,
PBKDF2, JWT and a constant-time compare.

Why a module of its own: it is the one module whose values must be secret *and* whose
random draws must replay identically in a workflow, so where its randomness comes from
is a decision made here, once. Wippy's API; every function returns ``value, err`` (``nil,
err`` of kind INVALID for bad input, INTERNAL for a failed operation), except
``constant_time_compare``, which returns a boolean:

=====================================================  ====================================
``crypto.random.bytes(n)``                             ``n`` random bytes (raw string)
``crypto.random.string(n, charset?)``                  ``n`` bytes drawn uniformly from
                                                       ``charset`` (bytes; default A-Z a-z
                                                       0-9)
``crypto.random.uuid()``                               a version 4 UUID (36 characters)
``crypto.hmac.sha256/sha512(key, data)``               lowercase hex digest; ``key`` not
                                                       empty
``crypto.encrypt.aes(data, key, aad?)``                AES-GCM, ``key`` 16/24/32 bytes;
                                                       ``nonce(12) .. ciphertext .. tag(16)``
``crypto.encrypt.chacha20(data, key, aad?)``           ChaCha20-Poly1305, ``key`` 32 bytes;
                                                       same layout
``crypto.decrypt.aes/chacha20(data, key, aad?)``       the plaintext; a tampered message, a
                                                       wrong key or ``aad`` -> INTERNAL
``crypto.pbkdf2(password, salt, iterations, len,       the derived key (raw string);
hash?)``                                               ``hash`` ``"sha256"`` | ``"sha512"``
``crypto.jwt.encode(claims, key, alg?)``               a signed compact JWT; ``alg``
                                                       HS256 (default), HS384, HS512 or
                                                       RS256 (``key`` a PEM private key);
                                                       ``claims._header`` adds header fields
``crypto.jwt.verify(token, key, alg?, require_exp?)``  the claims table; the header's
                                                       ``alg`` must be ``alg``; ``exp``
                                                       required unless ``require_exp`` is
                                                       ``false``, checked (and ``nbf``)
                                                       against the context's clock
``crypto.constant_time_compare(a, b)``                 ``true`` when equal (time does not
                                                       depend on where they differ)
=====================================================  ====================================

Where randomness comes from (``random.*`` and the encryption nonces): a kernel process
or a function reads the OS CSPRNG (:func:`secrets.token_bytes`). A workflow must replay
identically, so there the bytes come from the workflow's recorded randomness: a seed
drawn from :meth:`Context.random <beamish.actors.Context.random>` (seeded from the
workflow history) expanded with SHAKE-256, and UUIDs from ``Context.uuid4``. Those
values replay identically and can be recomputed by whoever can read the workflow's
history (as Wippy's recorded side effects can be read there): do not use them for keys
that must stay secret from history readers.

Bounds (a script cannot make the host allocate or compute without limit): ``random``
lengths 1..1,048,576 (Wippy's); PBKDF2 iterations 1..10,000,000 (Wippy's), key length
1..1024 bytes and ``iterations * blocks`` at most 10,000,000 (beamish's: the derivation
runs on the host's thread, and a step that takes longer than ``limits.step_timeout``
still ends the process afterwards); every string argument within ``limits.max_payload``
(the prelude's ``guard``). A JWT's key must be PEM text for RS256 (never a path: no file
is read). Differences from Wippy: an unknown JWT algorithm is ``nil, err`` (INVALID)
instead of a silent HS256, and ``_header`` cannot change the header's ``alg``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac as _hmac
import json
import math
import secrets
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305
from cryptography.x509 import load_pem_x509_certificate

from beamish.actors import Context

from ._callbacks import safe_callback
from ._commands import ArgumentError, LuaProcess, command
from ._lib_hash import lua_bytes
from ._lua_sources import HostLua

if TYPE_CHECKING:
    from ._runtime import Sandbox

__all__ = [
    "CRYPTO_LUA",
    "MAX_PBKDF2_ITERATIONS",
    "MAX_PBKDF2_KEY",
    "MAX_RANDOM",
    "crypto_callbacks",
    "random_bytes",
]

#: Privileged Lua, ``lua/crypto.lua``: called with (core, callbacks); returns the module.
CRYPTO_LUA = HostLua("beamish.luabridge", "crypto.lua")

#: Longest ``random.bytes``/``random.string`` (Wippy's bound).
MAX_RANDOM = 1 << 20
#: Most PBKDF2 iterations (Wippy's bound).
MAX_PBKDF2_ITERATIONS = 10_000_000
#: Longest PBKDF2 key, in bytes (beamish's bound).
MAX_PBKDF2_KEY = 1024
#: Most PBKDF2 hash-block computations (iterations times output blocks; beamish's bound).
MAX_PBKDF2_WORK = 10_000_000

NONCE_SIZE = 12
_AES_KEYS = (16, 24, 32)
_DEFAULT_CHARSET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
_PBKDF2_HASHES = {"sha256": 32, "sha512": 64}
_HMAC_HASHES = {"sha256": hashlib.sha256, "sha512": hashlib.sha512}
_JWT_HMAC = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}
_JWT_ALGS = (*_JWT_HMAC, "RS256")
_SEED_DRAWS = 5  # 5 x 53 bits of Context.random(): a 265-bit seed per draw

#: A failure as the Lua side turns it into an error: (nil, kind, message).
Failure = tuple[None, str, str]


def _invalid(msg: str) -> Failure:
    return (None, "INVALID", msg)


def _internal(msg: str) -> Failure:
    return (None, "INTERNAL", msg)


# -- randomness ----------------------------------------------------------------------------


def random_bytes(ctx: Context, n: int) -> bytes:
    """``n`` random bytes for code running in ``ctx``.

    Where ``ctx.durable`` (a workflow) they are derived from the context's recorded,
    seeded randomness (same bytes on replay; recomputable from the history); elsewhere
    they come from the OS CSPRNG. Raises ``ArgumentError`` (INVALID) unless
    ``1 <= n <= MAX_RANDOM``.
    """
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_RANDOM:
        raise ArgumentError(f"random length must be an integer in 1..{MAX_RANDOM}, got {n!r}")
    if not ctx.durable:
        return secrets.token_bytes(n)
    seed = b"".join(int(ctx.random() * (1 << 53)).to_bytes(7, "big") for _ in range(_SEED_DRAWS))
    return hashlib.shake_256(b"beamish.crypto.random\0" + seed).digest(n)


def random_string(ctx: Context, n: int, charset: bytes) -> bytes:
    """``n`` bytes each drawn uniformly from ``charset`` (rejection sampling, so no
    modulo bias). Raises ``ArgumentError`` for a bad ``n`` or an empty ``charset``."""
    if not charset:
        raise ArgumentError("charset cannot be empty")
    size = len(charset)
    if size > 256:  # rare: draw 4 bytes per character
        limit = (1 << 32) - (1 << 32) % size
        out = bytearray()
        while len(out) < n:
            buf = random_bytes(ctx, min(MAX_RANDOM, 4 * (n - len(out)) + 16))
            for i in range(0, len(buf) - 3, 4):
                v = int.from_bytes(buf[i : i + 4], "big")
                if v < limit and len(out) < n:
                    out.append(charset[v % size])
        return bytes(out)
    limit = 256 - 256 % size
    table = bytes(charset[i % size] for i in range(256))
    reject = bytes(range(limit, 256))
    out_b = b""
    while len(out_b) < n:
        want = n - len(out_b)
        buf = random_bytes(ctx, min(MAX_RANDOM, want + want // 2 + 16))
        out_b += buf.translate(table, reject)[:want]
    return out_b


@command("crypto_random")
def _cmd_random(drv: LuaProcess, tid: int, n: Any) -> tuple[Any, ...]:
    return (0, random_bytes(drv.ctx, n))


@command("crypto_random_string")
def _cmd_random_string(drv: LuaProcess, tid: int, n: Any, charset: Any) -> tuple[Any, ...]:
    chars = _DEFAULT_CHARSET if charset is None else lua_bytes(charset)
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_RANDOM:
        raise ArgumentError(f"random length must be an integer in 1..{MAX_RANDOM}, got {n!r}")
    return (0, random_string(drv.ctx, n, chars))


@command("crypto_now")
def _cmd_now(drv: LuaProcess, tid: int) -> tuple[Any, ...]:
    return (0, drv.ctx.now().timestamp())


# -- pure operations -----------------------------------------------------------------------


def _aead(alg: str, key: bytes) -> AESGCM | ChaCha20Poly1305 | None:
    if alg == "aes" and len(key) in _AES_KEYS:
        return AESGCM(key)
    if alg == "chacha20" and len(key) == 32:
        return ChaCha20Poly1305(key)
    return None


def _key_error(alg: str) -> Failure:
    return _invalid("key must be 16, 24, or 32 bytes" if alg == "aes" else "key must be 32 bytes")


def seal(alg: str, data: bytes, key: bytes, aad: bytes | None, nonce: bytes) -> bytes | Failure:
    """``nonce .. ciphertext .. tag`` of ``data`` under ``key`` (``alg`` ``"aes"`` for
    AES-GCM, ``"chacha20"`` for ChaCha20-Poly1305); a failure tuple for a bad key size."""
    cipher = _aead(alg, key)
    if cipher is None:
        return _key_error(alg)
    if len(nonce) != NONCE_SIZE:
        return _internal("encrypt: nonce generation failed")
    return nonce + cipher.encrypt(nonce, data, aad or None)


def open_sealed(alg: str, data: bytes, key: bytes, aad: bytes | None) -> bytes | Failure:
    """The plaintext of what :func:`seal` made; a failure tuple for a bad key size
    (INVALID), data shorter than a nonce (INVALID) or a failed authentication (INTERNAL:
    tampered data, wrong key or wrong ``aad``)."""
    cipher = _aead(alg, key)
    if cipher is None:
        return _key_error(alg)
    if len(data) < NONCE_SIZE:
        return _invalid("encrypted data too short")
    try:
        return cipher.decrypt(data[:NONCE_SIZE], data[NONCE_SIZE:], aad or None)
    except InvalidTag:
        return _internal("decrypt: message authentication failed")


def hmac_hex(name: str, key: bytes, data: bytes) -> str | Failure:
    """Lowercase hex HMAC of ``data`` (``name`` ``"sha256"`` | ``"sha512"``)."""
    if not key:
        return _invalid("key cannot be empty")
    return _hmac.new(key, data, _HMAC_HASHES[name]).hexdigest()


def pbkdf2(
    password: bytes, salt: bytes, iterations: Any, length: Any, hash_name: str
) -> bytes | Failure:
    """PBKDF2-HMAC of ``password`` and ``salt``: ``length`` raw bytes; a failure tuple
    (INVALID) for an empty input, an unsupported hash or a bound exceeded."""
    if not password:
        return _invalid("password cannot be empty")
    if not salt:
        return _invalid("salt cannot be empty")
    if not isinstance(iterations, int) or iterations <= 0:
        return _invalid("iterations must be positive")
    if iterations > MAX_PBKDF2_ITERATIONS:
        return _invalid(f"iterations exceeds maximum ({MAX_PBKDF2_ITERATIONS})")
    if not isinstance(length, int) or length <= 0:
        return _invalid("key length must be positive")
    if length > MAX_PBKDF2_KEY:
        return _invalid(f"key length exceeds maximum ({MAX_PBKDF2_KEY} bytes)")
    block = _PBKDF2_HASHES.get(hash_name)
    if block is None:
        return _invalid(f"unsupported hash function: {hash_name} (use sha256 or sha512)")
    if iterations * -(-length // block) > MAX_PBKDF2_WORK:
        return _invalid(
            f"pbkdf2 work too large: iterations x {block}-byte blocks of the key "
            f"exceeds {MAX_PBKDF2_WORK}; use fewer iterations or a shorter key"
        )
    return hashlib.pbkdf2_hmac(hash_name, password, salt, iterations, length)


# -- JWT -----------------------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    if "=" in text:
        raise ValueError("padded base64")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _json_value(value: Any) -> Any:
    """A claim as JSON: integral floats as integers (as Go writes them), finite only."""
    if isinstance(value, dict):
        return {str(k): _json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_value(v) for v in value]
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError("a claim is NaN or infinite")
        return int(value) if value.is_integer() and abs(value) < 1e21 else value
    if isinstance(value, bytes):
        raise ValueError("a claim is a binary string")
    if value is None or isinstance(value, str | int | bool):
        return value
    raise ValueError(f"a claim of type {type(value).__name__} cannot be JSON")


def _dumps(value: Any) -> bytes:
    return json.dumps(
        value, separators=(",", ":"), sort_keys=True, ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def jwt_encode(claims: Any, key: bytes, alg: str) -> str | Failure:
    """A compact JWT of ``claims`` (a dict; its ``_header`` dict adds header fields)."""
    if alg not in _JWT_ALGS:
        return _invalid(f"unsupported JWT algorithm {alg!r} (use {', '.join(_JWT_ALGS)})")
    if isinstance(claims, list) and not claims:
        claims = {}
    if not isinstance(claims, dict):
        return _invalid("payload must be a table of claims")
    claims = dict(claims)
    header: dict[str, Any] = {}
    extra = claims.pop("_header", None)
    if isinstance(extra, dict):
        header.update(extra)
    header.update({"alg": alg, "typ": header.get("typ", "JWT")})
    try:
        signing_input = f"{_b64(_dumps(_json_value(header)))}.{_b64(_dumps(_json_value(claims)))}"
    except ValueError as exc:
        return _invalid(f"payload cannot be encoded as JSON: {exc}")
    msg = signing_input.encode("ascii")
    if alg == "RS256":
        try:
            private = serialization.load_pem_private_key(key, password=None)
        except (ValueError, TypeError):
            return _invalid(
                "invalid RSA private key: not a PEM RSA private key (PKCS#1 or PKCS#8, unencrypted)"
            )
        if not isinstance(private, rsa.RSAPrivateKey):
            return _invalid("invalid RSA private key: key is not an RSA private key")
        sig = private.sign(msg, padding.PKCS1v15(), hashes.SHA256())
    else:
        if not key:
            return _internal("sign token: key is invalid (empty)")
        sig = _hmac.new(key, msg, _JWT_HMAC[alg]).digest()
    return f"{signing_input}.{_b64(sig)}"


def _rsa_public(key: bytes) -> rsa.RSAPublicKey | None:
    try:
        public: Any = load_pem_x509_certificate(key).public_key()
    except ValueError:
        try:
            public = serialization.load_pem_public_key(key)
        except (ValueError, TypeError):
            return None
    return public if isinstance(public, rsa.RSAPublicKey) else None


def jwt_verify(
    token: str, key: bytes, alg: str, require_exp: bool, now: float
) -> dict[str, Any] | Failure:
    """The claims of ``token`` if signed by ``key`` with ``alg`` and valid at ``now``
    (Unix seconds); else a failure tuple (INTERNAL, as Wippy reports every failure)."""

    def fail(why: str) -> Failure:
        return _internal(f"verify token: {why}")

    parts = token.split(".")
    if len(parts) != 3:
        return fail("token is malformed: token contains an invalid number of segments")
    try:
        header = json.loads(_unb64(parts[0]))
        claims = json.loads(_unb64(parts[1]))
        sig = _unb64(parts[2])
    except (ValueError, binascii.Error):
        return fail("token is malformed: could not base64-decode or JSON-decode a segment")
    if not isinstance(header, dict) or not isinstance(claims, dict):
        return fail("token is malformed: header and claims must be JSON objects")
    if header.get("alg") != alg or alg not in _JWT_ALGS:
        return fail(
            f"token signature is invalid: signing method {header.get('alg')!r} is "
            f"invalid (expected {alg!r})"
        )
    msg = f"{parts[0]}.{parts[1]}".encode("ascii")
    if alg == "RS256":
        public = _rsa_public(key)
        if public is None:
            return fail("invalid RSA public key: not a PEM RSA public key or certificate")
        try:
            public.verify(sig, msg, padding.PKCS1v15(), hashes.SHA256())
        except InvalidSignature:
            return fail("token signature is invalid")
    else:
        if not key:
            return fail("token signature is invalid: key is invalid (empty)")
        if not _hmac.compare_digest(_hmac.new(key, msg, _JWT_HMAC[alg]).digest(), sig):
            return fail("token signature is invalid: signature is invalid")
    exp = claims.get("exp")
    if exp is None:
        if require_exp:
            return fail("token is missing required claim: exp claim is required")
    elif isinstance(exp, bool) or not isinstance(exp, int | float):
        return fail("token has invalid claims: exp must be a number")
    elif not now < exp:
        return fail("token has invalid claims: token is expired")
    nbf = claims.get("nbf")
    if nbf is not None:
        if isinstance(nbf, bool) or not isinstance(nbf, int | float):
            return fail("token has invalid claims: nbf must be a number")
        if now < nbf:
            return fail("token has invalid claims: token is not valid yet")
    return claims


def crypto_callbacks(sb: Sandbox) -> dict[str, Callable[..., Any]]:
    """The Python helpers of ``lua/crypto.lua`` (pure: no process state). Each returns
    its value, or ``(nil, kind, message)``; none raises into Lua (an unexpected
    exception becomes an INTERNAL failure naming the operation, without its text)."""

    def unexpected(op: str) -> Callable[[Exception], Failure]:
        return lambda exc: _internal(f"crypto {op}: internal error ({type(exc).__name__})")

    def lua_seal(alg: str, data: Any, key: Any, aad: Any, nonce: Any) -> Any:
        return seal(
            alg,
            lua_bytes(data),
            lua_bytes(key),
            None if aad is None else lua_bytes(aad),
            lua_bytes(nonce),
        )

    def lua_open(alg: str, data: Any, key: Any, aad: Any) -> Any:
        return open_sealed(
            alg, lua_bytes(data), lua_bytes(key), None if aad is None else lua_bytes(aad)
        )

    def lua_hmac(name: str, key: Any, data: Any) -> Any:
        return hmac_hex(name, lua_bytes(key), lua_bytes(data))

    def lua_pbkdf2(password: Any, salt: Any, iterations: Any, length: Any, name: str) -> Any:
        return pbkdf2(lua_bytes(password), lua_bytes(salt), iterations, length, name)

    def lua_compare(a: Any, b: Any) -> bool:
        return _hmac.compare_digest(lua_bytes(a), lua_bytes(b))

    def lua_jwt_encode(claims: Any, key: Any, alg: str) -> Any:
        try:
            data = sb.from_lua(claims)
        except Exception:
            return _invalid(
                "payload cannot be converted: claims must be plain values "
                "(strings, numbers, booleans, tables)"
            )
        return jwt_encode(data, lua_bytes(key), alg)

    def lua_jwt_verify(token: Any, key: Any, alg: str, require_exp: bool, now: float) -> Any:
        try:
            text = lua_bytes(token).decode("ascii")
        except UnicodeDecodeError:
            return _internal("verify token: token is malformed: not ASCII")
        claims = jwt_verify(text, lua_bytes(key), alg, require_exp, now)
        if isinstance(claims, tuple):
            return claims
        return sb.to_lua(claims)

    fns: dict[str, Callable[..., Any]] = {
        "seal": lua_seal,
        "open": lua_open,
        "hmac": lua_hmac,
        "pbkdf2": lua_pbkdf2,
        "compare": lua_compare,
        "jwt_encode": lua_jwt_encode,
        "jwt_verify": lua_jwt_verify,
    }
    return {name: safe_callback(fn, unexpected(name)) for name, fn in fns.items()}
