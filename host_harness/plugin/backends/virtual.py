"""virtual backend: a VirtualBoard (real MicroPython unix port behind a pty, in its own namespace pair),
driven through the same BoardSession and deploy path as a real serial board."""

from __future__ import annotations

from ...errors import HilError
from .serial import SerialBackend


class VirtualBackend(SerialBackend):
    def __init__(self, board, *, extra_libs=(), log=None) -> None:
        super().__init__(board, url="", extra_libs=extra_libs, log=log)
        self.vb = None

    def describe(self) -> str:
        return f"{self.board.name} (virtual)"

    def _hard_reset_action(self):
        return self.vb.hard_reset

    def start(self) -> None:
        try:
            from ...virtual import VirtualBoard
        except ImportError as exc:
            raise HilError(f"virtual boards are unavailable (host_harness.virtual: {exc})") from None
        from ...netns import netns_support

        network = self.board.has("network") and netns_support()[0]
        self.vb = VirtualBoard(self.board, network=network)
        self.vb.start()
        self.url = self.vb.port_url
        if network:
            self.ip, self.host_ip = self.vb.board_ip, self.vb.host_ip
            self.socket_factory = self.vb.netns.host_socket
        elif self.board.has("network"):
            # No namespaces here: the interpreter runs in this namespace, so board and peers meet on loopback.
            self.ip = self.host_ip = "127.0.0.1"
        super().start()

    def close(self) -> None:
        try:
            super().close()
        finally:
            if self.vb is not None:
                vb, self.vb = self.vb, None
                vb.close()
