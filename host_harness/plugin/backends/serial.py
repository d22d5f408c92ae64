"""serial backend: a board on a port (--port URL) driven by host_harness.transport.BoardSession.

Deploys, in one host_harness.deploy call (hash skip, verify by import), usocket_port + glue plus what the
plugin adds: tests/device/cases, hilsync and --board-lib paths.  No real board was available where this
was written: the path is exercised against a virtual board's pty (the virtual backend is this class).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from .. import layout
from .base import Backend

if TYPE_CHECKING:
    from ...transport.result import ExecResult

# Asks the board for its IP without assuming a port: WLAN station, then LAN, then nothing.
_IP_PROBE = """
def _hil_ip():
    try:
        import network
    except ImportError:
        return None
    for make in (lambda: network.WLAN(network.STA_IF), lambda: network.LAN()):
        try:
            nic = make()
            if nic.isconnected():
                return nic.ifconfig()[0]
        except Exception:
            pass
    return None
print(repr(_hil_ip()))
del _hil_ip
"""


WLAN_TIMEOUT_MS = 20000  # station join + DHCP on a real board


class SerialBackend(Backend):
    def __init__(self, board, *, url: str, extra_libs=(), peer_host: str | None = None,
                 board_ip: str | None = None, wlan: tuple[str, str] | None = None, log=None) -> None:
        super().__init__(board=board)
        if log is not None:
            self.log = log
        self.url = url
        self._extra_libs = [Path(p) for p in extra_libs]
        self.host_ip = peer_host
        self.ip = board_ip
        self.wlan = wlan
        self.session = None
        from ...netrepl.url import board_ip_of, socket_factory_for

        self.ip = board_ip or board_ip_of(url)  # a board reached over the network has the URL's address
        factory = socket_factory_for(url)  # a network REPL URL with netns=: the peers listen in that namespace
        if factory is not None:
            self.socket_factory = factory

    def describe(self) -> str:
        return f"{self.board.name} on {self.url}"

    def _hard_reset_action(self):
        return "dtr-rts"

    def start(self) -> None:
        from ...transport import BoardSession

        self.session = BoardSession(self.url, hard_reset=self._hard_reset_action())
        self.deploy()
        self.bring_up_network()
        if self.ip is None:
            res = self.session.exec(_IP_PROBE, 10.0)
            if res.ok:
                text = res.text().strip()
                self.ip = text.strip("'\"") if text not in ("None", "") else None
        self.device_roots = layout.roots(self.board.target, self._extra_libs)

    def bring_up_network(self) -> None:
        """Join --wlan-ssid through the glue's connect_network (its own timeout); again after every reset,
        since some ports drop the station on soft reset."""
        if self.wlan is None:
            return
        from ...errors import HilError

        assert self.session is not None
        ssid, key = self.wlan
        code = (f"import usocket_target\nprint(repr(usocket_target.connect_network({ssid!r}, {key!r}, "
                f"{WLAN_TIMEOUT_MS})))")
        res = self.session.exec(code, WLAN_TIMEOUT_MS / 1000 + 10)
        if not res.ok:
            raise HilError(f"board {self.board.name}: joining Wi-Fi {ssid!r} failed: "
                           f"{res.summary()}")
        self.ip = res.text().strip().strip("'\"")
        self.log(f"[usocket-hil] {self.describe()} joined Wi-Fi {ssid!r} as {self.ip}\n".encode())

    def deploy(self) -> None:
        """usocket_port + glue (host_harness.deploy's set) plus cases, hilsync and --board-lib, in one go."""
        from ... import deploy as dep

        assert self.session is not None
        arch = None if self.board.mpy_arch == "none" else self.board.mpy_arch
        extra = [(src, dest) for src, dest in layout.expand(layout.extra_device_files(self._extra_libs))
                 if src.suffix == ".py"]
        files = dep.board_files(self.board) + dep.build_files(extra, mpy_arch=arch)
        writer = None
        if self.url.startswith("wipy://"):  # a WiPy over telnet takes its files over FTP
            from ...netrepl.ftp import deploy_writer

            writer = deploy_writer(self.url)
        report = dep.deploy(self.session, files, prune=dep.OWNED_DIRS,
                            verify=["usocket_port", "hilsync"], writer=writer)
        self.log(f"[usocket-hil] deploy to {self.describe()}: {report.summary()}\n".encode())

    # -- Backend ----------------------------------------------------------------------------------------
    def exec(self, code: str, timeout: float) -> ExecResult:
        assert self.session is not None
        return self.session.exec(code, timeout)

    def soft_reset(self) -> None:
        assert self.session is not None
        self.session.soft_reset()
        self.bring_up_network()

    def hard_reset(self) -> None:
        assert self.session is not None
        self.session.hard_reset()
        self.bring_up_network()

    def close(self) -> None:
        if self.session is not None:
            session, self.session = self.session, None
            session.close()
