"""A minimal HTTP/1.0 server peer, for the seed-only "HTTP GET client" program."""

from __future__ import annotations

import socket

from host_harness.peers.base import Connection, StreamPeer

_MAX_REQUEST = 8192


class HttpHello(StreamPeer):
    """HTTP/1.0: `GET /hello` → 200 with body `BODY`; any other path → 404; closes after each reply."""

    BODY = b"hello from usocket-hil\n"

    def handle(self, rec: Connection, conn: socket.socket) -> None:
        request = b""
        while b"\r\n\r\n" not in request:
            if len(request) > _MAX_REQUEST:
                rec.error = "request head too long"
                return
            data = self.recv_some(rec, conn, 1024)
            if not data:
                return
            request += data
        parts = request.split(b" ", 2)
        if len(parts) == 3 and parts[0] == b"GET" and parts[1] == b"/hello":
            head = b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n" % len(
                self.BODY)
            self.send_all(rec, conn, head + self.BODY)
        else:
            self.send_all(rec, conn, b"HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\n\r\n")
