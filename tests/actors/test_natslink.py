"""The trio NATS link against a real nats-server: order, big messages, reconnects,
credentials and TLS."""

from __future__ import annotations

import datetime
import ipaddress
import ssl

import pytest
import trio

from beamish.actors import ClusterConfig, Error, ErrorKind, NatsServer, Node
from beamish.actors._natslink import NatsLink


def collect(url: str, n: int, payloads: list[bytes], **kw) -> list[bytes]:
    return trio.run(lambda: _collect(url, n, payloads, **kw))


async def _collect(url: str, n: int, payloads: list[bytes], **kw) -> list[bytes]:
    got: list[bytes] = []
    done = trio.Event()

    def on_message(subject: str, data: bytes) -> None:
        assert subject == "t.x"
        got.append(data)
        if len(got) == n:
            done.set()

    async with trio.open_nursery() as nursery:
        rx = NatsLink([url], on_message, **kw)
        rx.subscribe("t.x")
        await rx.start(nursery)
        tx = NatsLink([url], lambda s, d: None, **kw)
        await tx.start(nursery)
        await trio.sleep(0.1)
        for p in payloads:
            tx.publish("t.x", p)
        with trio.fail_after(10):
            await done.wait()
        await tx.aclose()
        await rx.aclose()
        nursery.cancel_scope.cancel()
    return got


def test_messages_arrive_in_order_whatever_their_size():
    payloads = [b"%d" % i for i in range(2000)] + [b"x" * 700_000, b"\r\nMSG fake 1 3\r\n"]
    with NatsServer(jetstream=False) as server:
        got = collect(server.url, len(payloads), payloads)
    assert got == payloads


def test_publishes_while_the_server_is_down_go_out_after_the_reconnect(tmp_path):
    server = NatsServer(tmp_path, jetstream=False)
    server.start()
    got: list[bytes] = []
    states: list[str] = []

    async def main():
        async with trio.open_nursery() as nursery:
            rx = NatsLink([server.url], lambda s, d: got.append(d), reconnect_wait=0.05,
                          on_state=states.append)
            rx.subscribe("t.x")
            await rx.start(nursery)
            # the sender retries later than the receiver, which is subscribed again by
            # then (core NATS keeps nothing for a subject nobody listens to)
            tx = NatsLink([server.url], lambda s, d: None, reconnect_wait=1.0)
            await tx.start(nursery)
            await trio.to_thread.run_sync(server.stop)
            with trio.fail_after(10):
                while rx.connected or tx.connected:
                    await trio.sleep(0.02)
            tx.publish("t.x", b"while down")
            await trio.to_thread.run_sync(server.start)
            with trio.fail_after(15):
                while not got:
                    await trio.sleep(0.02)
            assert rx.reconnects == 1 and tx.reconnects == 1
            nursery.cancel_scope.cancel()

    try:
        trio.run(main)
    finally:
        server.stop()
    assert got == [b"while down"]
    assert states == ["disconnected", "reconnected"]


def test_user_and_password_are_sent_and_a_wrong_one_is_refused():
    with NatsServer(jetstream=False, args=["--user", "ada", "--pass", "s3cret"]) as server:
        assert collect(server.url, 1, [b"ok"], user="ada", password="s3cret") == [b"ok"]

        e = trio.run(start_error, server.url, {"user": "ada", "password": "nope"})
        assert e.kind is ErrorKind.PERMISSION_DENIED
        assert "Authorization Violation" in e.message and "credentials" in e.message


def test_a_token_is_sent():
    with NatsServer(jetstream=False, args=["--auth", "tok"]) as server:
        assert collect(server.url, 1, [b"ok"], token="tok") == [b"ok"]


async def start_error(url: str, kw: dict) -> Error:
    async with trio.open_nursery() as nursery:
        with pytest.raises(Error) as e:
            await NatsLink([url], lambda s, d: None, **kw).start(nursery)
        nursery.cancel_scope.cancel()
    return e.value


def test_an_unreachable_server_fails_clearly():
    e = trio.run(start_error, "nats://127.0.0.1:1", {})
    assert e.kind is ErrorKind.UNAVAILABLE and "cannot connect to NATS" in e.message


def _self_signed(tmp_path):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(
            [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_file, key_file


def test_tls_with_the_servers_ca_and_a_node_cluster_over_it(tmp_path):
    cert, key = _self_signed(tmp_path)
    args = ["--tls", "--tlscert", str(cert), "--tlskey", str(key)]
    with NatsServer(tmp_path / "srv", args=args) as server:
        ctx = ssl.create_default_context(cafile=str(cert))
        assert collect(server.url, 1, [b"secure"], tls=ctx) == [b"secure"]

        # without the CA, the server's certificate is not trusted
        e = trio.run(start_error, server.url, {"tls": ssl.create_default_context()})
        assert "CERTIFICATE_VERIFY_FAILED" in e.message

        async def two_nodes():
            cfg = ClusterConfig(url=server.url, tls_ca=str(cert), heartbeat=0.1)
            async with Node(name="a", cluster=cfg) as a, Node(name="b", cluster=cfg) as b:
                with trio.fail_after(10):
                    while "b" not in a.cluster.peers:
                        await trio.sleep(0.02)

                async def ping(ctx):
                    async def pong(ctx2):
                        msg = await ctx2.receive()
                        ctx2.send(msg.sender, "pong")

                    ctx.send(b.spawn(pong), "ping")
                    return (await ctx.receive(timeout=5)).topic

                return await a.exec(ping)

        assert trio.run(two_nodes) == "pong"
