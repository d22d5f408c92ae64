"""A TCP relay peer: listens where the board reaches (socket_factory), forwards each connection to a server
on this host's loopback (e.g. a real mosquitto), byte for byte in both directions until either side closes.

Real servers run as processes in the root namespace on 127.0.0.1; a virtual board lives in its own namespace
and reaches only the host side of its pair, so the relay is bound there and connects out over loopback.
"""

from __future__ import annotations

import select
import socket
from typing import Unpack

from host_harness.peers.base import Connection, StreamOptions, StreamPeer

_CHUNK = 65536


class TcpRelay(StreamPeer):
    """Forwards every accepted connection to `target` (a loopback address); records bytes both ways."""

    def __init__(self, bind_host: str = "127.0.0.1", *, target: tuple[str, int],
                 **options: Unpack[StreamOptions]) -> None:
        if not target[0].startswith("127."):
            raise ValueError(f"relay target must be on loopback, got {target[0]}")
        self.target = target
        super().__init__(bind_host, **options)

    def handle(self, rec: Connection, conn: socket.socket) -> None:
        with socket.create_connection(self.target, timeout=5) as up:
            up.settimeout(self.idle_timeout)
            self._replace_socket(rec, conn)
            ends = {conn: up, up: conn}
            while not self._stop.is_set():
                r, _, _ = select.select(list(ends), [], [], 1.0)
                for src in r:
                    data = src.recv(_CHUNK)
                    if not data:
                        return  # one side closed: close both (the client sees EOF, mosquitto a disconnect)
                    if src is conn:
                        rec.got(data)
                    else:
                        rec.sent(data)
                    ends[src].sendall(data)
