"""Well-behaved TCP peers: echo, sink (counts + hashes what it receives), source (sends seeded data)."""

from __future__ import annotations

import functools
import hashlib
import random
import socket
from typing import Unpack

from host_harness.peers.base import Connection, StreamOptions, StreamPeer


class TcpEcho(StreamPeer):
    """Echoes every byte back on each connection until the client closes (then closes its side).

    Connections are served concurrently; `connections[i]` records bytes and SHA-256 both ways.
    """

    def handle(self, rec: Connection, conn: socket.socket) -> None:
        while data := self.recv_some(rec, conn):
            self.send_all(rec, conn, data)


class TcpSink(StreamPeer):
    """Reads and discards everything, recording per connection the byte count and SHA-256.

    Sends nothing.  After the client closes, ``sink.result(0).bytes_in`` / ``.sha256_in`` hold the
    totals; ``sink.wait(n, timeout)`` waits for n finished connections (PeerTimeout otherwise).
    """

    def handle(self, rec: Connection, conn: socket.socket) -> None:
        while self.recv_some(rec, conn):
            pass


def seeded_bytes(nbytes: int, seed: int) -> bytes:
    """Deterministic pseudo-random payload: the same (nbytes, seed) gives the same bytes anywhere."""
    return random.Random(seed).randbytes(nbytes)


@functools.lru_cache(maxsize=4)
def _payload(nbytes: int, seed: int) -> tuple[bytes, str]:
    # Made once per process and shared by the sources that send it (bytes: nobody can change it): the suite's
    # 16 MiB bulk payload took ~0.1 CPU s to make and hash for each case that reads it.
    data = seeded_bytes(nbytes, seed)
    return data, hashlib.sha256(data).hexdigest()


class TcpSource(StreamPeer):
    """On each connection sends `nbytes` of seeded random data, then shuts down its write side.

    For the download direction: a board reads until EOF and compares its SHA-256 with `.sha256`.
    After sending, the peer keeps reading (and discarding) until the client closes, so its close
    never turns into an RST over unread client bytes.
    """

    def __init__(self, bind_host: str = "127.0.0.1", *, nbytes: int = 65536, seed: int = 0, chunk: int = 16384,
                 **options: Unpack[StreamOptions]) -> None:
        self.data, self.sha256 = _payload(nbytes, seed)
        self.nbytes = nbytes
        self.chunk = max(1, chunk)
        super().__init__(bind_host, **options)

    def handle(self, rec: Connection, conn: socket.socket) -> None:
        view = memoryview(self.data)
        for off in range(0, self.nbytes, self.chunk):
            if self._stop.is_set():
                return
            self.send_all(rec, conn, view[off : off + self.chunk])
        conn.shutdown(socket.SHUT_WR)
        while self.recv_some(rec, conn):
            pass
