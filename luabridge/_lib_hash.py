"""The ``hash`` Lua module (``require("hash")``): digests, HMACs and FNV hashes.

Wippy's API, every function ``value, err`` (``nil, err`` of kind INVALID when ``data`` or
``secret`` is not a string; strings may hold any bytes):

==============================================  =========================================
``hash.md5/sha1/sha256/sha512(data, raw?)``      lowercase hex digest; the raw bytes when
                                                 ``raw`` is ``true``
``hash.hmac_md5/hmac_sha1/hmac_sha256/           HMAC of ``data`` keyed by ``secret``, hex
hmac_sha512(data, secret, raw?)``                or raw as above
``hash.fnv32(data)`` / ``hash.fnv64(data)``      FNV-1 (not 1a: what Wippy computes) as a
                                                 number; ``fnv64`` is a float, as Wippy's
                                                 (its values can exceed a Lua integer)
==============================================  =========================================

Inputs cross to Python through the prelude's ``guard``: a string longer than the host's
``limits.max_payload`` is refused (kind INVALID) before any work, so a script cannot make
the host hash more than it could send in a message. FNV (computed byte by byte in
Python) takes at most 1 MiB (``nil, err`` of kind INVALID beyond), a beamish bound.
"""

from __future__ import annotations

import hashlib
import hmac as _hmac
from collections.abc import Callable
from typing import Any

from ._lua_sources import HostLua

__all__ = ["HASH_LUA", "hash_callbacks", "lua_bytes"]

#: Privileged Lua, ``lua/hash.lua``: called with (callbacks); returns the module table.
HASH_LUA = HostLua("beamish.luabridge", "hash.lua")

_ALGORITHMS = {"md5": hashlib.md5, "sha1": hashlib.sha1, "sha256": hashlib.sha256,
               "sha512": hashlib.sha512}
_FNV = {32: (0x811C9DC5, 0x01000193, (1 << 32) - 1),
        64: (0xCBF29CE484222325, 0x100000001B3, (1 << 64) - 1)}


def lua_bytes(value: Any) -> bytes:
    """The bytes of a Lua string as a guarded callback receives it: a ``str`` (UTF-8
    text) or the prelude's box of a binary string (a table with its ``hex``)."""
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, bytes):
        return value
    return bytes.fromhex(str(value["hex"]))


def _digest(name: str, data: Any, raw: bool) -> bytes | str:
    h = _ALGORITHMS[name](lua_bytes(data))
    return h.digest() if raw else h.hexdigest()


def _hmac_of(name: str, data: Any, secret: Any, raw: bool) -> bytes | str:
    h = _hmac.new(lua_bytes(secret), lua_bytes(data), _ALGORITHMS[name])
    return h.digest() if raw else h.hexdigest()


def fnv1(bits: int, data: bytes) -> int:
    """FNV-1 of ``data`` on ``bits`` (32 or 64) bits: multiply, then xor each byte."""
    h, prime, mask = _FNV[bits]
    for byte in data:
        h = ((h * prime) & mask) ^ byte
    return h


def _fnv(bits: int, data: Any) -> int | float:
    h = fnv1(int(bits), lua_bytes(data))
    return h if bits == 32 else float(h)


def hash_callbacks() -> dict[str, Callable[..., Any]]:
    """The Python helpers of ``lua/hash.lua`` (pure: no process state)."""
    return {"digest": _digest, "hmac": _hmac_of, "fnv": _fnv}
