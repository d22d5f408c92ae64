"""UDP echo peer."""

from __future__ import annotations

import socket
import threading
from typing import Unpack

from host_harness.peers.base import Peer, PeerOptions, wait_until


class UdpEcho(Peer):
    """Sends every datagram back to its sender, unchanged.

    `datagrams` counts datagrams received (each is echoed once), `senders` the distinct source
    addresses seen; ``wait_datagrams(n, timeout)`` waits until n have arrived (PeerTimeout otherwise).
    """

    socktype = socket.SOCK_DGRAM

    def __init__(self, bind_host: str = "127.0.0.1", *, max_datagram: int = 65535,
                 **options: Unpack[PeerOptions]) -> None:
        self.max_datagram = max_datagram
        self.datagrams = 0
        self.senders: set[tuple] = set()
        self._seen = threading.Condition()
        super().__init__(bind_host, **options)

    def _activate(self, sock: socket.socket) -> None:
        sock.setblocking(False)

    def _on_readable(self) -> None:
        try:
            data, sender = self._sock.recvfrom(self.max_datagram)
        except OSError:
            return  # EAGAIN/EINTR, or e.g. ECONNREFUSED left by an earlier ICMP error: nothing to echo
        # Count before replying, so a client that has its echo also sees it counted.
        with self._seen:
            self.datagrams += 1
            self.senders.add(tuple(sender))
            self._seen.notify_all()
        try:
            self._sock.sendto(data, sender)
        except OSError:
            pass  # buffer full / unreachable sender: dropped, as UDP would

    def wait_datagrams(self, count: int = 1, timeout: float = 10.0) -> int:
        return wait_until(
            self._seen,
            lambda: self.datagrams if self.datagrams >= count else None,
            timeout,
            lambda: f"{self!r}: {self.datagrams} of {count} datagrams within {timeout:.1f} s",
        )
