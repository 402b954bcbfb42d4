"""Connecting a Temporal client the way every beamish component expects it.

What it is for
    Every ``Client`` beamish makes must use the same data converter (JSON with PIDs and
    errors, ``_convert.py``) and the ``wippy-context`` interceptor
    (``_interceptors.py``), or context values and signal senders silently go missing.
    :func:`connect_client` is that one place; :class:`ClientConfig` holds and validates
    a ``temporal.client`` entry's fields.

``temporal.client`` fields (Wippy's): ``address`` (``host:port``; empty or
``"embedded"`` = start the dev server), ``namespace`` (``"default"``),
``connection_timeout`` (10 s), ``auth`` = {``type``: ``none`` | ``api_key`` | ``mtls``,
``api_key``, ``api_key_file``, ``cert_file``, ``key_file``, ``cert_pem``, ``key_pem``},
``tls`` = {``enabled``, ``ca_file``, ``server_name``}, ``connection_timeout`` (how long the
first connection is retried; a duration, bare numbers are milliseconds).
``insecure_skip_verify`` is not supported by the Python SDK and is refused rather than
ignored.

Runs on the bridge loop (``connect_client`` is asyncio code); trio-free.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import temporalio.client
import temporalio.service

from beamish.actors._errors import Error, ErrorKind

from ._convert import DATA_CONVERTER
from ._interceptors import ContextInterceptor

__all__ = ["EMBEDDED", "ClientConfig", "connect_client"]

#: The address value meaning "start the embedded dev server".
EMBEDDED = "embedded"
#: Seconds a client keeps retrying its first connection.
DEFAULT_CONNECTION_TIMEOUT = 10.0


@dataclass(frozen=True)
class ClientConfig:
    """A validated ``temporal.client`` entry."""

    address: str = EMBEDDED
    namespace: str = "default"
    auth: Mapping[str, Any] = field(default_factory=dict)
    tls: Mapping[str, Any] = field(default_factory=dict)
    #: Seconds to keep retrying the first connection (Wippy's default: 10 s).
    connection_timeout: float = DEFAULT_CONNECTION_TIMEOUT

    @property
    def embedded(self) -> bool:
        return not self.address or self.address == EMBEDDED

    @classmethod
    def from_entry(cls, entry_id: str, data: Mapping[str, Any]) -> ClientConfig:
        def bad(msg: str) -> Error:
            return Error(
                f"temporal.client {entry_id!r}: {msg}", kind=ErrorKind.INVALID, retryable=False
            )

        address = str(data.get("address") or EMBEDDED)
        if address != EMBEDDED and ":" not in address:
            raise bad(f"address {address!r} must be host:port (or 'embedded')")
        auth = dict(data.get("auth") or {})
        kind = str(auth.get("type", "none"))
        if kind not in ("none", "api_key", "mtls"):
            raise bad(f"auth.type {kind!r} must be one of none, api_key, mtls")
        if kind == "api_key" and not (auth.get("api_key") or auth.get("api_key_file")):
            raise bad("auth.type api_key needs api_key or api_key_file")
        if kind == "mtls" and not (
            (auth.get("cert_file") or auth.get("cert_pem"))
            and (auth.get("key_file") or auth.get("key_pem"))
        ):
            raise bad("auth.type mtls needs a certificate and a key (cert_*/key_*)")
        tls = dict(data.get("tls") or {})
        if tls.get("insecure_skip_verify"):
            raise bad("tls.insecure_skip_verify is not supported by the Python Temporal SDK")
        timeout = DEFAULT_CONNECTION_TIMEOUT
        if data.get("connection_timeout") is not None:
            from ._context import parse_duration

            try:
                td = parse_duration(data["connection_timeout"])
            except Error as e:
                raise bad(f"connection_timeout: {e}") from e
            assert td is not None
            timeout = td.total_seconds()
        return cls(address, str(data.get("namespace") or "default"), auth, tls, timeout)


#: Seconds a just-started frontend may answer "not healthy yet" before connect gives up.
_WARMUP = 10.0


def _read(value: Any, path: Any) -> bytes | None:
    if value:
        return str(value).encode()
    if path:
        return Path(str(path)).read_bytes()
    return None


async def connect_client(
    address: str, config: ClientConfig | None = None
) -> temporalio.client.Client:
    """Connect to ``address`` with beamish's converter and interceptor (asyncio)."""
    config = config or ClientConfig(address=address)
    auth, tls_cfg = config.auth, config.tls
    kind = auth.get("type", "none")
    api_key = None
    if kind == "api_key":
        key = _read(auth.get("api_key"), auth.get("api_key_file"))
        api_key = key.decode().strip() if key else None
    tls: bool | temporalio.service.TLSConfig = False
    if kind == "mtls" or tls_cfg.get("enabled") or api_key:
        tls = temporalio.service.TLSConfig(
            server_root_ca_cert=_read(None, tls_cfg.get("ca_file")),
            domain=tls_cfg.get("server_name"),
            client_cert=_read(auth.get("cert_pem"), auth.get("cert_file"))
            if kind == "mtls"
            else None,
            client_private_key=_read(auth.get("key_pem"), auth.get("key_file"))
            if kind == "mtls"
            else None,
        )
    # A frontend that has just started accepts connections a little before it answers
    # (``Frontend is not healthy yet``): that one answer is retried, briefly.
    deadline = asyncio.get_running_loop().time() + _WARMUP
    delay = 0.05
    while True:
        try:
            return await temporalio.client.Client.connect(
                address,
                namespace=config.namespace,
                data_converter=DATA_CONVERTER,
                interceptors=[ContextInterceptor()],
                api_key=api_key,
                tls=tls,
            )
        except RuntimeError as e:
            if "not healthy yet" in str(e) and asyncio.get_running_loop().time() < deadline:
                await asyncio.sleep(delay)
                delay = min(delay * 2, 0.5)
                continue
            raise Error(
                f"cannot connect to Temporal at {address} (namespace {config.namespace!r}): "
                f"{e}",
                kind=ErrorKind.UNAVAILABLE,
                retryable=True,
            ) from e
