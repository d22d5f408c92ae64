"""A dial-back peer: the board runs a server, the host connects to it (the "accept-loop echo server" program).

Protocol on the control connection: the board sends b"<ip> <port> <count> <size>\\n"; the peer connects
to (ip, port) `count` times, sends `size` random bytes on each, expects them echoed back, closes, and
finally answers b"OK <count>\\n" or b"FAIL <why>\\n".  It dials only addresses in `allowed_hosts`
(the board's own address): the network rule forbids traffic anywhere else.
"""

from __future__ import annotations

import os
import socket
from typing import Unpack

from host_harness.peers.base import Connection, StreamOptions, StreamPeer

_MAX_COUNT = 64
_MAX_SIZE = 1 << 20
_DIAL_TIMEOUT_S = 10.0


class DialBack(StreamPeer):
    def __init__(self, bind_host: str = "127.0.0.1", *, allowed_hosts: tuple[str, ...] = ("127.0.0.1",),
                 **options: Unpack[StreamOptions]) -> None:
        self.allowed_hosts = tuple(allowed_hosts)
        super().__init__(bind_host, **options)

    def _read_line(self, rec: Connection, conn: socket.socket) -> bytes:
        line = b""
        while not line.endswith(b"\n") and len(line) < 200:
            data = self.recv_some(rec, conn, 1)
            if not data:
                break
            line += data
        return line

    def _echo_once(self, ip: str, port: int, size: int) -> int:
        payload = os.urandom(size)
        # socket_factory: the dial-out sockets live in the same namespace as the listener
        with self.socket_factory(socket.AF_INET, socket.SOCK_STREAM) as c:
            c.settimeout(_DIAL_TIMEOUT_S)
            c.connect((ip, port))
            c.sendall(payload)
            c.shutdown(socket.SHUT_WR)
            got = bytearray()
            while len(got) <= size:
                data = c.recv(65536)
                if not data:
                    break
                got += data
        return len(got) if bytes(got) == payload else -len(got)

    def handle(self, rec: Connection, conn: socket.socket) -> None:
        fields = self._read_line(rec, conn).split()
        try:
            ip, port, count, size = fields[0].decode(), int(fields[1]), int(fields[2]), int(fields[3])
        except (IndexError, ValueError, UnicodeDecodeError):
            self.send_all(rec, conn, b"FAIL bad control line\n")
            return
        if ip not in self.allowed_hosts:
            self.send_all(rec, conn, b"FAIL refusing to dial %s\n" % ip.encode())
            return
        if not (0 < count <= _MAX_COUNT and 0 < size <= _MAX_SIZE and 0 < port < 65536):
            self.send_all(rec, conn, b"FAIL count/size/port out of range\n")
            return
        for i in range(count):
            try:
                echoed = self._echo_once(ip, port, size)
            except OSError as exc:
                self.send_all(rec, conn, b"FAIL connection %d: %s\n" % (i, str(exc).encode()))
                return
            if echoed != size:
                self.send_all(rec, conn, b"FAIL connection %d: %d of %d bytes echoed intact\n"
                              % (i, abs(echoed), size))
                return
        rec.note = f"dialed {ip}:{port} {count} times"
        self.send_all(rec, conn, b"OK %d\n" % count)
