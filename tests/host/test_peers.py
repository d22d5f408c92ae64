"""Host peers on loopback with real CPython clients: echo, sink, source, UDP, faults, registry."""

from __future__ import annotations

import hashlib
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from host_harness import peers
from host_harness.peers import (
    HalfClose,
    NeverAccept,
    PeerError,
    PeerTimeout,
    ResetAfter,
    SlowReader,
    TcpEcho,
    TcpSink,
    TcpSource,
    UdpEcho,
    seeded_bytes,
)


@pytest.fixture(autouse=True)
def no_listener_survives() -> Iterator[None]:
    yield
    survivors = peers.registry.close_all()
    assert not survivors, f"peers left open: {survivors}"


def _connect(peer: peers.Peer, timeout: float = 5.0) -> socket.socket:
    return socket.create_connection(peer.address, timeout=timeout)


def _recv_exactly(s: socket.socket, n: int) -> bytes:
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            break
        buf += chunk
    return buf


def _recv_all(s: socket.socket) -> bytes:
    parts = []
    while chunk := s.recv(65536):
        parts.append(chunk)
    return b"".join(parts)


def test_tcp_echo_serves_concurrent_clients() -> None:
    with TcpEcho() as echo:
        assert echo.address[0] == "127.0.0.1" and echo.port > 0
        clients = [_connect(echo) for _ in range(5)]  # all open at once
        try:
            for i, c in enumerate(clients):
                c.sendall(f"client {i}\n".encode() * 100)
            for i, c in enumerate(clients):
                assert _recv_exactly(c, 900) == f"client {i}\n".encode() * 100
        finally:
            for c in clients:
                c.close()
        records = echo.wait(5, timeout=10)
        assert [r.bytes_in for r in records] == [900] * 5
        assert all(r.bytes_out == 900 and r.error is None for r in records)


def test_tcp_echo_refuses_beyond_max_connections() -> None:
    with TcpEcho(max_connections=1) as echo:
        first = _connect(echo)
        try:
            first.sendall(b"a")
            assert first.recv(1) == b"a"  # the first connection is being served
            second = _connect(echo)
            try:
                assert second.recv(10) == b""  # closed at once
            finally:
                second.close()
            assert echo.result(1).error == "over capacity"
        finally:
            first.close()


def test_close_wakes_idle_connections() -> None:
    echo = TcpEcho()
    c = _connect(echo)
    try:
        c.sendall(b"x")
        assert c.recv(1) == b"x"
        echo.close()  # a client is still connected and idle: close must not wait for it
        assert c.recv(10) == b""
    finally:
        c.close()
    assert echo.closed and echo not in peers.registry.live()
    echo.close()  # idempotent


def test_tcp_sink_counts_and_hashes() -> None:
    payload = seeded_bytes(1 << 20, seed=7)
    with TcpSink() as sink:
        with _connect(sink) as c:
            c.sendall(payload)
        rec = sink.result(0, timeout=10)
        assert rec.bytes_in == len(payload)
        assert rec.sha256_in == hashlib.sha256(payload).hexdigest()
        assert rec.bytes_out == 0 and rec.error is None


def test_tcp_sink_wait_times_out_clearly() -> None:
    with TcpSink() as sink:
        with pytest.raises(PeerTimeout, match="0 connection"):
            sink.wait(1, timeout=0.2)


def test_tcp_source_sends_seeded_data() -> None:
    with TcpSource(nbytes=300_000, seed=3) as src:
        assert src.sha256 == hashlib.sha256(seeded_bytes(300_000, 3)).hexdigest()
        with _connect(src) as c:
            got = _recv_all(c)
        assert len(got) == 300_000
        assert hashlib.sha256(got).hexdigest() == src.sha256
        assert src.result(0).bytes_out == 300_000


def test_udp_echo() -> None:
    with UdpEcho() as udp:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(5)
        try:
            for i in range(3):
                s.sendto(b"dgram %d" % i, udp.address)
                data, frm = s.recvfrom(100)
                assert data == b"dgram %d" % i and frm == udp.address
        finally:
            s.close()
        assert udp.wait_datagrams(3, timeout=5) == 3
        assert len(udp.senders) == 1
        with pytest.raises(PeerTimeout):
            udp.wait_datagrams(4, timeout=0.2)


def test_reset_after_n_bytes() -> None:
    with ResetAfter(n=5) as peer:
        with _connect(peer) as c:
            c.sendall(b"12345")
            assert _recv_exactly(c, 5) == b"12345"
            with pytest.raises(ConnectionResetError):
                c.recv(10)
        assert peer.result(0).note == "sent RST"


def test_reset_right_after_accept() -> None:
    with ResetAfter(n=0) as peer:
        # Under load the RST can land before connect() returns: the kernel then reports the reset there.
        with pytest.raises(ConnectionResetError):
            with _connect(peer) as c:
                assert peer.result(0).note == "sent RST"
                c.recv(10)
        assert peer.result(0).note == "sent RST"


def test_half_close_sends_then_keeps_reading() -> None:
    with HalfClose(data=b"bye for now\n") as peer:
        with _connect(peer) as c:
            assert _recv_all(c) == b"bye for now\n"  # EOF after the data
            c.sendall(b"still talking")  # the peer's read side is still open
        rec = peer.result(0)
        assert rec.bytes_in == len(b"still talking") and rec.error is None


def test_slow_reader_pushes_back() -> None:
    with SlowReader(bytes_per_s=2000) as peer:
        c = socket.socket()
        # A small client send buffer makes the back-pressure show quickly.
        c.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 8192)
        c.settimeout(5)
        c.connect(peer.address)
        c.setblocking(False)
        sent = 0
        try:
            with pytest.raises(BlockingIOError):
                for _ in range(1000):  # 16 MB if nothing pushed back
                    sent += c.send(b"\0" * 16384)
            assert 0 < sent < 1000 * 16384
            rec = peer.wait_accepted(1)[0]
            deadline = time.monotonic() + 10
            while rec.bytes_in == 0 and time.monotonic() < deadline:
                time.sleep(0.05)
            # It does read, slowly: something arrived, but not all that the client has queued.
            assert 0 < rec.bytes_in < sent
        finally:
            c.close()
    # close() stopped the reader at once: it did not drain what the client still had queued (at
    # 2000 B/s that would take far longer), and the connection's record is final.
    assert rec.done.is_set()
    assert rec.bytes_in < sent


def test_never_accept_makes_connect_time_out() -> None:
    with NeverAccept() as peer:
        assert peer.fillers >= 1
        with pytest.raises(TimeoutError):
            socket.create_connection(peer.address, timeout=0.5)
        with pytest.raises(TimeoutError):  # still full: deterministic, not a one-off
            socket.create_connection(peer.address, timeout=0.5)


def test_bind_conflict_is_a_peer_error() -> None:
    with TcpEcho() as echo:
        with pytest.raises(PeerError, match="cannot listen on 127.0.0.1"):
            TcpSink("127.0.0.1", port=echo.port)
    assert peers.registry.live() == []


def test_ipv6_loopback() -> None:
    if not socket.has_ipv6:
        pytest.skip("no IPv6 in this Python build")
    try:
        echo = TcpEcho("::1")
    except PeerError as exc:
        pytest.skip(f"IPv6 loopback unavailable here: {exc}")
    with echo, socket.create_connection(echo.address, timeout=5) as c:
        c.sendall(b"six")
        assert _recv_exactly(c, 3) == b"six"


def test_registry_tracks_live_peers() -> None:
    a, b = TcpEcho(), UdpEcho()
    try:
        assert {id(p) for p in peers.registry.live()} >= {id(a), id(b)}
    finally:
        a.close()
    assert [p for p in peers.registry.live() if p is a] == []
    assert peers.registry.close_all() == [repr(b)] and b.closed


def test_peer_threads_stop_on_close() -> None:
    before = {t.ident for t in threading.enumerate()}
    with TcpEcho() as echo, _connect(echo) as c:
        c.sendall(b"z")
        assert c.recv(1) == b"z"
    leftover = [t for t in threading.enumerate() if t.ident not in before and t.is_alive()]
    assert leftover == []
