"""The HTTP server of the application tier: Python's http.server request handler on each connection of a
StreamPeer (so it binds where the board reaches, and closes with the other peers).

GET /big → `BIG_NBYTES` seeded bytes (SHA-256 in `.big_sha256`); GET /hello → a short text; POST /json →
the JSON body echoed as {"got": body, "n": len}; GET /redirect → 302 to /hello on this server; else 404.
HTTP/1.0, one request per connection (what micropython-urequests speaks).
"""

from __future__ import annotations

import hashlib
import json
import socket
from http.server import BaseHTTPRequestHandler
from typing import Any, Unpack

from host_harness.peers.base import Connection, StreamOptions, StreamPeer
from host_harness.peers.tcp import seeded_bytes

BIG_NBYTES = 100 * 1024
HELLO = b"hello from usocket-hil\n"
_MAX_BODY = 65536


class _Handler(BaseHTTPRequestHandler):
    server: AppHttp  # type: ignore[assignment]

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's signature
        pass  # one line per request on stderr would drown the test output

    def _reply(self, code: int, body: bytes, ctype: str = "text/plain", extra: dict[str, str] | None = None) -> None:
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802 - http.server's hook name
        if self.path == "/big":
            self._reply(200, self.server.big, "application/octet-stream")
        elif self.path == "/hello":
            self._reply(200, HELLO)
        elif self.path == "/redirect":
            host, port = self.server.address
            self._reply(302, b"", extra={"Location": f"http://{host}:{port}/hello"})
        else:
            self._reply(404, b"not found\n")

    def do_POST(self) -> None:  # noqa: N802
        n = int(self.headers.get("Content-Length") or 0)
        if self.path != "/json" or not 0 <= n <= _MAX_BODY:
            self._reply(404, b"not found\n")
            return
        raw = self.rfile.read(n)
        try:
            body = json.loads(raw)
        except ValueError:
            self._reply(400, b"bad json\n")
            return
        self._reply(200, json.dumps({"got": body, "n": n}).encode(), "application/json")


class AppHttp(StreamPeer):
    def __init__(self, bind_host: str = "127.0.0.1", **options: Unpack[StreamOptions]) -> None:
        self.big = seeded_bytes(BIG_NBYTES, 23)
        self.big_sha256 = hashlib.sha256(self.big).hexdigest()
        super().__init__(bind_host, **options)

    def handle(self, rec: Connection, conn: socket.socket) -> None:
        _Handler(conn, rec.client, self)  # handles one request (HTTP/1.0), then returns
        rec.note = "served"
