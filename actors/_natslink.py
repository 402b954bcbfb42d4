"""A NATS connection spoken from trio: the cluster's data path.

What it is for
    Frames between nodes go through NATS on every message a process sends to another
    node, so the path from ``send`` to the socket decides the cluster's latency. This
    module speaks the NATS client protocol (``CONNECT``, ``PUB``, ``SUB``, ``MSG``,
    ``PING``/``PONG``) on a trio stream, in the kernel's own thread.

Why not nats-py for this
    ``nats-py`` is asyncio-only. Measured on a 2-core machine, from trio through the
    asyncio thread of ``_aio.py``: a trio->asyncio->trio hop costs ~140 µs, and a
    cross-node ping-pong through nats-py that way took ~780 µs per round trip, slower
    than Thespian's multiprocess base (~560 µs). The same round trip through this module
    is several times faster, because no message crosses a thread. trio-asyncio (an
    asyncio loop inside trio) was rejected because it replaces the process-wide event
    loop policy, which the Temporal thread's own loop depends on. nats-py stays for
    what is rare and richer: the JetStream key-value bucket of cluster-wide names, and
    ``beamish nodes``.

Design chosen
    * **One writer**: :meth:`publish` appends a ``PUB`` command to a buffer and wakes the
      writer task, which sends everything buffered in one ``send_all``. So a burst of
      sends from one scheduler pass costs one system call. The cluster layer batches
      further: one ``PUB`` per destination node per pass.
    * **One reader** parses ``MSG`` and calls ``on_message(subject, data)`` on the trio
      thread, synchronously (the cluster dispatches the frames there and then).
    * **Reconnects by itself**: on a lost connection (EOF, error, two unanswered
      PINGs) it reconnects with a back-off of ``reconnect_wait`` seconds, sends its
      subscriptions again, then what was published meanwhile (up to ``max_pending``
      bytes; older data beyond that is dropped and counted, as is a write that failed
      half-way: at most once, as NATS itself promises). ``on_state`` hears
      ``"disconnected"`` and ``"reconnected"``.
    * Authentication as NATS defines it: user and password, a token, or a ``.creds``
      file (signed with the ``nkeys`` package, which nats-py uses too); TLS when the
      URL is ``tls://``, a context is given, or the server requires it.

Invariants
    * Commands leave in the order :meth:`publish` was called (one buffer, one writer),
      so NATS's per-connection ordering gives per-pair FIFO between nodes.
    * After :meth:`aclose`, no task of this link runs and its socket is closed.
"""

from __future__ import annotations

import json
import logging
import ssl
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import trio

from ._errors import Error, ErrorKind

__all__ = ["NatsLink"]

log = logging.getLogger("beamish.cluster")

_CRLF = b"\r\n"


class NatsLink:
    """One NATS client connection on the trio loop (publish / subscribe only)."""

    def __init__(
        self,
        servers: list[str],
        on_message: Callable[[str, bytes], None],
        *,
        name: str = "beamish",
        user: str | None = None,
        password: str | None = None,
        token: str | None = None,
        creds: str | None = None,
        tls: ssl.SSLContext | None = None,
        on_state: Callable[[str], None] | None = None,
        reconnect_wait: float = 0.25,
        ping_interval: float = 2.0,
        connect_timeout: float = 10.0,
        max_pending: int = 64 * 1024 * 1024,
    ) -> None:
        self.servers = servers
        self.on_message = on_message
        self.on_state = on_state
        self.options = {"name": name, "user": user, "password": password, "token": token,
                        "creds": creds}
        self.tls = tls
        self.reconnect_wait = reconnect_wait
        self.ping_interval = ping_interval
        self.connect_timeout = connect_timeout
        self.max_pending = max_pending
        self.max_payload = 1024 * 1024
        #: Called by the writer before each write: a producer's last chance to publish
        #: into this write (the cluster's batches of the scheduler pass).
        self.before_write: Callable[[], None] | None = None
        self._subs: dict[str, int] = {}
        self._out = bytearray()
        self._writer: trio.lowlevel.Task | None = None
        self._writer_parked = False
        self._stream: trio.abc.Stream | None = None
        self._connected = False
        self._closed = False
        self._pings_out = 0
        self._nursery: trio.Nursery | None = None
        self.dropped_bytes = 0
        self.reconnects = 0

    # -- public ------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        return self._connected

    def subscribe(self, subject: str) -> None:
        if subject not in self._subs:
            sid = self._subs[subject] = len(self._subs) + 1
            if self._connected:
                self._write(b"SUB %s %d\r\n" % (subject.encode(), sid))

    def publish(self, subject: str, data: bytes) -> None:
        """Queue ``data`` for ``subject``; it leaves with the writer's next send."""
        self._write(b"PUB %s %d\r\n" % (subject.encode(), len(data)) + data + _CRLF)

    async def start(self, nursery: trio.Nursery) -> None:
        """Connect (raising what the first connection fails with), then serve in
        ``nursery`` until :meth:`aclose`."""
        self._nursery = nursery
        with trio.fail_after(self.connect_timeout):
            await self._connect()
        nursery.start_soon(self._serve)
        nursery.start_soon(self._write_loop)
        nursery.start_soon(self._ping_loop)

    async def aclose(self) -> None:
        """Send what is buffered (bounded: 2 s), then close."""
        if self._closed:
            return
        self._closed = True
        stream, self._stream = self._stream, None
        if stream is not None:
            with trio.move_on_after(2) as scope:
                scope.shield = True
                if self._out and self._connected:
                    data, self._out = bytes(self._out), bytearray()
                    try:
                        await stream.send_all(data)
                    except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
                        pass
                await stream.aclose()
        self._connected = False
        if self._writer_parked and self._writer is not None:
            self._writer_parked = False
            trio.lowlevel.reschedule(self._writer)

    # -- connecting ----------------------------------------------------------------------

    async def _connect(self) -> None:
        errors = []
        for url in self.servers:
            try:
                await self._connect_to(url)
                return
            except Error:
                raise
            except (OSError, trio.BrokenResourceError, ssl.SSLError, ValueError) as exc:
                errors.append(f"{url}: {exc.__cause__ or exc or type(exc).__name__}")
        raise Error(f"cannot connect to NATS ({'; '.join(errors)}); check the cluster URL "
                    "and that the server runs", kind=ErrorKind.UNAVAILABLE, retryable=True)

    async def _connect_to(self, url: str) -> None:
        parts = urlsplit(url if "://" in url else f"nats://{url}")
        host, port = parts.hostname or "127.0.0.1", parts.port or 4222
        stream: trio.abc.Stream = await trio.open_tcp_stream(host, port)
        self._buf = bytearray()
        self._raw = stream
        info = json.loads((await self._read_line(stream))[5:])
        self.max_payload = int(info.get("max_payload", self.max_payload))
        tls = self.tls
        if tls is None and (parts.scheme == "tls" or info.get("tls_required")):
            tls = ssl.create_default_context()
        if tls is not None:
            ssl_stream = trio.SSLStream(stream, tls, server_hostname=host)
            await ssl_stream.do_handshake()
            stream = ssl_stream
        connect: dict[str, Any] = {"verbose": False, "pedantic": False, "lang": "python-trio",
                                   "version": "beamish", "protocol": 1, "echo": False,
                                   "headers": False, "name": self.options["name"]}
        user = self.options["user"] or parts.username
        password = self.options["password"] or parts.password
        if user:
            connect["user"], connect["pass"] = user, password or ""
        if self.options["token"]:
            connect["auth_token"] = self.options["token"]
        if self.options["creds"]:
            connect.update(_sign_creds(self.options["creds"], info.get("nonce", "")))
        await stream.send_all(b"CONNECT " + json.dumps(connect).encode() + b"\r\nPING\r\n")
        while True:
            line = await self._read_line(stream)
            if line.startswith(b"PONG"):
                break
            if line.startswith(b"-ERR"):
                await stream.aclose()
                raise Error(f"NATS at {url} refused the connection: "
                            f"{line[5:].decode(errors='replace').strip()}; check the "
                            "cluster credentials", kind=ErrorKind.PERMISSION_DENIED,
                            retryable=False)
        subs = b"".join(b"SUB %s %d\r\n" % (s.encode(), sid) for s, sid in self._subs.items())
        if subs:
            await stream.send_all(subs)
        self._stream = stream
        self._connected = True
        self._pings_out = 0
        self._wake_writer()

    async def _read_line(self, stream: trio.abc.Stream) -> bytes:
        buf = self._buf
        while True:
            i = buf.find(_CRLF)
            if i >= 0:
                line = bytes(buf[:i])
                del buf[: i + 2]
                return line
            chunk = await stream.receive_some(65536)
            if not chunk:
                raise trio.BrokenResourceError("the NATS server closed the connection")
            buf += chunk

    # -- serving -------------------------------------------------------------------------

    async def _serve(self) -> None:
        while not self._closed:
            stream = self._stream
            try:
                if stream is None:
                    raise trio.BrokenResourceError("not connected")
                await self._read_loop(stream)
            except (trio.BrokenResourceError, trio.ClosedResourceError, OSError,
                    ssl.SSLError) as exc:
                if self._closed:
                    return
                await self._reconnect(exc)

    async def _reconnect(self, why: BaseException) -> None:
        self._connected = False
        stream, self._stream = self._stream, None
        if stream is not None:
            with trio.CancelScope(shield=True):
                try:
                    await stream.aclose()
                except Exception:  # pragma: no cover - already broken
                    pass
        if self.on_state is not None:
            self.on_state("disconnected")
        log.warning("beamish cluster: lost the NATS connection (%s); reconnecting", why)
        while not self._closed:
            await trio.sleep(self.reconnect_wait)
            try:
                with trio.fail_after(self.connect_timeout):
                    await self._connect()
            except (Error, trio.TooSlowError) as exc:
                log.debug("beamish cluster: reconnect failed: %s", exc)
                continue
            self.reconnects += 1
            log.warning("beamish cluster: reconnected to NATS")
            if self.on_state is not None:
                self.on_state("reconnected")
            return

    async def _read_loop(self, stream: trio.abc.Stream) -> None:
        buf = self._buf
        on_message = self.on_message
        while True:
            i = buf.find(_CRLF)
            if i < 0:
                chunk = await stream.receive_some(262144)
                if not chunk:
                    raise trio.BrokenResourceError("the NATS server closed the connection")
                buf += chunk
                continue
            if buf.startswith(b"MSG "):
                head = bytes(buf[4:i]).split()
                size = int(head[-1])
                end = i + 2 + size
                while len(buf) < end + 2:
                    chunk = await stream.receive_some(max(262144, end + 2 - len(buf)))
                    if not chunk:
                        raise trio.BrokenResourceError("the NATS server closed the connection")
                    buf += chunk
                data = bytes(buf[i + 2 : end])
                del buf[: end + 2]
                try:
                    on_message(head[0].decode(), data)
                except Exception:
                    log.exception("beamish cluster: handling a NATS message failed")
                continue
            line = bytes(buf[:i])
            del buf[: i + 2]
            if line.startswith(b"PING"):
                self._write(b"PONG\r\n")
            elif line.startswith(b"PONG"):
                self._pings_out = 0
            elif line.startswith(b"-ERR"):
                log.warning("beamish cluster: NATS error: %s",
                            line[5:].decode(errors="replace"))
            # +OK and INFO (cluster topology updates) need nothing

    def _write(self, data: bytes) -> None:
        out = self._out
        out += data
        if len(out) > self.max_pending:
            cut = len(out) - self.max_pending
            if not self.dropped_bytes:
                log.warning("beamish cluster: more than %d bytes waiting for the NATS "
                            "connection; the oldest are dropped", self.max_pending)
            self.dropped_bytes += cut
            # drop whole commands from the front: find the first PUB after the cut
            j = out.find(b"PUB ", cut)
            del out[: j if j >= 0 else len(out)]
        self._wake_writer()

    def _wake_writer(self) -> None:
        if self._writer_parked:
            self._writer_parked = False
            assert self._writer is not None
            trio.lowlevel.reschedule(self._writer)

    def _unpark(self, _: Any) -> trio.lowlevel.Abort:
        self._writer_parked = False
        return trio.lowlevel.Abort.SUCCEEDED

    async def _write_loop(self) -> None:
        self._writer = trio.lowlevel.current_task()
        try:
            while not self._closed:
                if self.before_write is not None:
                    self.before_write()
                if not self._out or not self._connected:
                    self._writer_parked = True
                    await trio.lowlevel.wait_task_rescheduled(self._unpark)
                    continue
                stream = self._stream
                data, self._out = bytes(self._out), bytearray()
                try:
                    assert stream is not None
                    await stream.send_all(data)
                except (trio.BrokenResourceError, trio.ClosedResourceError, OSError,
                        ssl.SSLError, AssertionError):
                    # How much of it the server got is unknown: dropped rather than
                    # sent twice (at most once, as NATS itself). The reader reconnects;
                    # what is published meanwhile waits for the new connection.
                    self.dropped_bytes += len(data)
                    self._writer_parked = True
                    await trio.lowlevel.wait_task_rescheduled(self._unpark)
        finally:
            self._writer_parked = False
            self._writer = None

    async def _ping_loop(self) -> None:
        while not self._closed:
            await trio.sleep(self.ping_interval)
            if not self._connected:
                continue
            if self._pings_out >= 2 and self._stream is not None:
                # the server stopped answering: drop the connection, the reader reconnects
                with trio.CancelScope(shield=True):
                    await self._stream.aclose()
                continue
            self._pings_out += 1
            self._write(b"PING\r\n")


def _sign_creds(path: str, nonce: str) -> dict[str, Any]:
    """The ``jwt`` and ``sig`` CONNECT fields from a ``.creds`` file."""
    try:
        import base64

        import nkeys
    except ImportError:
        raise Error("NATS .creds need the 'nkeys' package: pip install nkeys",
                    kind=ErrorKind.UNAVAILABLE, retryable=False) from None
    text = open(path, encoding="utf-8").read()

    def block(kind: str) -> str:
        start = text.index(f"-----BEGIN {kind}-----")
        body = text[start:].split("\n", 1)[1]
        return body.split("------END", 1)[0].split("-----END", 1)[0].strip()

    jwt, seed = block("NATS USER JWT"), block("USER NKEY SEED")
    kp = nkeys.from_seed(seed.encode())
    sig = base64.urlsafe_b64encode(kp.sign(nonce.encode())).decode().rstrip("=")
    return {"jwt": jwt, "sig": sig}
