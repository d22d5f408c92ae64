"""Misbehaving TCP peers, for the error paths of a socket layer.

netem is not available on the reference machine (see toolchain-notes §4), so faults are made by the
peer itself: an RST via SO_LINGER 0, a half-close, a throttled reader, a listener whose backlog is full.
"""

from __future__ import annotations

import select
import socket
import struct
import time
from typing import Unpack

from host_harness.peers.base import Connection, Peer, PeerError, PeerOptions, StreamOptions, StreamPeer


class ResetAfter(StreamPeer):
    """Echoes the first `n` bytes of each connection, then aborts it with a TCP RST.

    The abort is SO_LINGER {on, 0} + close, so the client's next recv/send fails with ECONNRESET
    (or reads EOF only if it never touches the socket again).  `n=0` resets right after accept.
    The record's `note` is "sent RST".
    """

    def __init__(self, bind_host: str = "127.0.0.1", *, n: int = 0, **options: Unpack[StreamOptions]) -> None:
        self.n = n
        super().__init__(bind_host, **options)

    def handle(self, rec: Connection, conn: socket.socket) -> None:
        while rec.bytes_in < self.n:
            data = self.recv_some(rec, conn, min(65536, self.n - rec.bytes_in))
            if not data:
                return  # client closed first: nothing to reset
            self.send_all(rec, conn, data)
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        conn.close()
        rec.note = "sent RST"


class HalfClose(StreamPeer):
    """Sends `data`, shuts down its write side (client reads EOF), and keeps reading until the client
    closes; what the client sent after the EOF is in `bytes_in` / `sha256_in`.
    """

    def __init__(self, bind_host: str = "127.0.0.1", *, data: bytes = b"half-close\n",
                 **options: Unpack[StreamOptions]) -> None:
        self.data = data
        super().__init__(bind_host, **options)

    def handle(self, rec: Connection, conn: socket.socket) -> None:
        self.send_all(rec, conn, self.data)
        conn.shutdown(socket.SHUT_WR)
        rec.note = "write side shut down"
        while self.recv_some(rec, conn):
            pass


class SlowReader(StreamPeer):
    """Reads at about `bytes_per_s` (in ten slices a second) from a small receive buffer, so a
    client that sends faster sees send() block / time out (back-pressure).  Records bytes and hash.
    """

    def __init__(self, bind_host: str = "127.0.0.1", *, bytes_per_s: int = 1024, rcvbuf: int = 4096,
                 **options: Unpack[StreamOptions]) -> None:
        if bytes_per_s <= 0:
            raise PeerError(f"SlowReader: bytes_per_s must be positive, got {bytes_per_s}")
        self.bytes_per_s = bytes_per_s
        self.rcvbuf = rcvbuf
        super().__init__(bind_host, **options)

    def _prepare(self, sock: socket.socket) -> None:
        # Set on the listener before listen(): accepted sockets inherit it, and the TCP window is
        # negotiated from it during the handshake.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, self.rcvbuf)

    def handle(self, rec: Connection, conn: socket.socket) -> None:
        slice_bytes = max(1, self.bytes_per_s // 10)
        while True:
            started = time.monotonic()
            data = self.recv_some(rec, conn, slice_bytes)
            if not data:
                return
            # Sleep the rest of the 100 ms slice; wakes early when the peer closes.
            self._stop.wait(max(0.0, 0.1 - (time.monotonic() - started)))


class NeverAccept(Peer):
    """A listener that never accepts and whose backlog is full, so new connects time out.

    listen(0) plus "filler" connections (made through the same socket_factory, so inside the same
    namespace) fill the accept queue; the kernel then drops further SYNs, so a client's connect()
    with a timeout fails with a timeout every time, even on loopback (no netem needed).
    `fillers` is how many connections it took.
    """

    def __init__(self, bind_host: str = "127.0.0.1", *, max_fillers: int = 8,
                 **options: Unpack[PeerOptions]) -> None:
        self._fillers: list[socket.socket] = []
        self.max_fillers = max_fillers
        super().__init__(bind_host, **options)
        try:
            self._fill()
        except BaseException:
            self.close()
            raise

    def _activate(self, sock: socket.socket) -> None:
        sock.listen(0)

    def _fill(self) -> None:
        # Connect until one connect does not complete quickly: that one's SYN was dropped because
        # the queue is full.  Abandon it (it must not complete later) and keep the completed ones.
        for _ in range(self.max_fillers):
            s = self.socket_factory(self._sock.family, socket.SOCK_STREAM)
            s.setblocking(False)
            s.connect_ex(self.address)
            _, w, _ = select.select([], [s], [], 0.3)
            if w and s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0:
                self._fillers.append(s)
                continue
            s.close()
            return
        raise PeerError(f"NeverAccept: backlog still not full after {self.max_fillers} connections")

    @property
    def fillers(self) -> int:
        return len(self._fillers)

    def _serve(self) -> None:
        while not self._stop.wait(1.0):  # nothing to do until close
            pass

    def _shutdown_clients(self) -> None:
        for s in self._fillers:
            s.close()
        self._fillers.clear()
