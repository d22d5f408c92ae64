"""Peers bound inside a namespace pair's host side, with clients in the board namespace."""

from __future__ import annotations

import hashlib
import socket
import subprocess
import textwrap
from collections.abc import Iterator

import pytest
from peer_helpers import micropython_or_skip, no_listener_survives  # noqa: F401  (autouse fixture)

from host_harness import netns
from host_harness.netns import NetnsPair
from host_harness.peers import NeverAccept, TcpSink, TcpSource, TlsServer, UdpEcho, seeded_bytes

SUPPORTED, WHY = netns.netns_support()
pytestmark = pytest.mark.skipif(not SUPPORTED, reason=f"network namespaces unavailable: {WHY}")


@pytest.fixture(scope="module")
def pair() -> Iterator[NetnsPair]:
    p = netns.create_pair()
    try:
        yield p
    finally:
        p.close()
    assert not p.exists()


def test_sink_in_host_namespace_receives_from_board(pair: NetnsPair) -> None:
    payload = seeded_bytes(256 * 1024, seed=11)
    with TcpSink(pair.host_ip, socket_factory=pair.host_socket) as sink:
        with pair.board_socket() as c:
            c.settimeout(5)
            c.connect(sink.address)
            c.sendall(payload)
        rec = sink.result(0)
        assert rec.client[0] == pair.board_ip
        assert (rec.bytes_in, rec.sha256_in) == (len(payload), hashlib.sha256(payload).hexdigest())


def test_udp_echo_across_the_veth(pair: NetnsPair) -> None:
    with UdpEcho(pair.host_ip, socket_factory=pair.host_socket) as udp:
        with pair.board_socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(5)
            s.sendto(b"over the veth", udp.address)
            data, frm = s.recvfrom(100)
        assert (data, frm) == (b"over the veth", udp.address)
        assert {addr[0] for addr in udp.senders} == {pair.board_ip}


def test_never_accept_in_namespace(pair: NetnsPair) -> None:
    with NeverAccept(pair.host_ip, socket_factory=pair.host_socket) as peer:
        with pair.board_socket() as c, pytest.raises(TimeoutError):
            c.settimeout(0.5)
            c.connect(peer.address)


def test_micropython_download_and_tls_from_board_namespace(pair: NetnsPair) -> None:
    mp = micropython_or_skip()
    with (
        TcpSource(pair.host_ip, socket_factory=pair.host_socket, nbytes=100_000, seed=5) as src,
        TlsServer(pair.host_ip, socket_factory=pair.host_socket) as tls_peer,
    ):
        code = textwrap.dedent(f"""
            import socket, ssl, hashlib, binascii
            s = socket.socket()
            s.connect(socket.getaddrinfo({pair.host_ip!r}, {src.port})[0][-1])
            h = hashlib.sha256()
            n = 0
            while True:
                b = s.recv(4096)
                if not b:
                    break
                h.update(b)
                n += len(b)
            s.close()
            print(n, binascii.hexlify(h.digest()).decode())
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.verify_mode = ssl.CERT_REQUIRED
            ctx.load_verify_locations(cadata={tls_peer.ca_der!r})
            s = socket.socket()
            s.connect(socket.getaddrinfo({pair.host_ip!r}, {tls_peer.port})[0][-1])
            t = ctx.wrap_socket(s, server_hostname={pair.host_ip!r})
            t.write(b"netns tls")
            print(t.read(9).decode())
            t.close()
        """)
        res = subprocess.run(pair.board_argv([mp, "-c", code]), capture_output=True, text=True, timeout=30)
        assert res.returncode == 0, res.stdout + res.stderr
        lines = res.stdout.split("\n")
        assert lines[0] == f"100000 {src.sha256}"
        assert lines[1] == "netns tls"
        assert tls_peer.result(0).client[0] == pair.board_ip
