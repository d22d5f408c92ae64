"""Peers bound inside a namespace pair's host side, with clients in the board namespace."""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from host_harness import netns, peers
from host_harness.netns import NetnsPair
from host_harness.peers import NeverAccept, TcpSink, TcpSource, TlsServer, UdpEcho, seeded_bytes

SUPPORTED, WHY = netns.netns_support()
pytestmark = pytest.mark.skipif(not SUPPORTED, reason=f"network namespaces unavailable: {WHY}")


@pytest.fixture(scope="module")
def pair() -> Iterator[NetnsPair]:
    p = NetnsPair.create()
    try:
        yield p
    finally:
        p.close()
    assert not p.exists()


@pytest.fixture(autouse=True)
def no_listener_survives() -> Iterator[None]:
    yield
    survivors = peers.registry.close_all()
    assert not survivors, f"peers left open: {survivors}"


def _micropython() -> str:
    exe = os.environ.get("MICROPYTHON") or shutil.which("micropython", path=str(Path(sys.executable).parent))
    if not exe:
        pytest.skip("no micropython interpreter (set MICROPYTHON=/path/to/micropython)")
    return exe


def test_sink_in_host_namespace_receives_from_board(pair: NetnsPair) -> None:
    payload = seeded_bytes(256 * 1024, seed=11)
    with TcpSink(pair.host_ip, socket_factory=pair.host_socket) as sink:
        c = pair.board_socket()
        c.settimeout(5)
        try:
            c.connect(sink.address)
            c.sendall(payload)
        finally:
            c.close()
        rec = sink.result(0)
        assert rec.client[0] == pair.board_ip
        assert (rec.bytes_in, rec.sha256_in) == (len(payload), hashlib.sha256(payload).hexdigest())


def test_udp_echo_across_the_veth(pair: NetnsPair) -> None:
    with UdpEcho(pair.host_ip, socket_factory=pair.host_socket) as udp:
        s = pair.board_socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(5)
        try:
            s.sendto(b"over the veth", udp.address)
            data, frm = s.recvfrom(100)
        finally:
            s.close()
        assert (data, frm) == (b"over the veth", udp.address)
        assert {addr[0] for addr in udp.senders} == {pair.board_ip}


def test_never_accept_in_namespace(pair: NetnsPair) -> None:
    with NeverAccept(pair.host_ip, socket_factory=pair.host_socket) as peer:
        c = pair.board_socket()
        c.settimeout(0.5)
        try:
            with pytest.raises(TimeoutError):
                c.connect(peer.address)
        finally:
            c.close()


def test_micropython_download_and_tls_from_board_namespace(pair: NetnsPair) -> None:
    mp = _micropython()
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
