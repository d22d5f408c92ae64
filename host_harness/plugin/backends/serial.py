"""serial backend: a board on a port (--port URL) driven by host_harness.transport.BoardSession.

Deploys, in one host_harness.deploy call (hash skip, verify by import), usocket_port + glue plus what the
plugin adds: tests/device/cases, hilsync and --board-lib paths.  No real board was available where this
was written: the path is exercised against a virtual board's pty (the virtual backend is this class).
"""

from __future__ import annotations

from pathlib import Path

from .. import layout
from .base import Backend, RunResult

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


class SerialBackend(Backend):
    def __init__(self, board, *, url: str, extra_libs=(), peer_host: str | None = None,
                 board_ip: str | None = None, log=None) -> None:
        super().__init__(board=board)
        if log is not None:
            self.log = log
        self.url = url
        self._extra_libs = [Path(p) for p in extra_libs]
        self.host_ip = peer_host
        self.ip = board_ip
        self.session = None

    def describe(self) -> str:
        return f"{self.board.name} on {self.url}"

    def _hard_reset_action(self):
        return "dtr-rts"

    def start(self) -> None:
        from ...transport import BoardSession

        self.session = BoardSession(self.url, hard_reset=self._hard_reset_action())
        self.deploy()
        if self.ip is None:
            res = self.session.exec(_IP_PROBE, 10.0)
            if res.ok:
                text = res.text().strip()
                self.ip = text.strip("'\"") if text not in ("None", "") else None
        self.device_roots = layout.roots(self.board.target, self._extra_libs)

    def deploy(self) -> None:
        """usocket_port + glue (host_harness.deploy's set) plus cases, hilsync and --board-lib, in one go."""
        from ... import deploy as dep

        assert self.session is not None
        arch = None if self.board.mpy_arch == "none" else self.board.mpy_arch
        extra = [(src, dest) for src, dest in layout.expand(layout.extra_device_files(self._extra_libs))
                 if src.suffix == ".py"]
        files = dep.board_files(self.board) + dep.build_files(extra, mpy_arch=arch)
        report = dep.deploy(self.session, files, prune=[f"{dep.REMOTE_LIB}/{dep.CORE_PACKAGE}"],
                            verify=["usocket_port", "hilsync"])
        self.log(f"[usocket-hil] deploy to {self.describe()}: {report.summary()}\n".encode())

    # -- Backend ----------------------------------------------------------------------------------------
    def exec(self, code: str, timeout: float) -> RunResult:
        assert self.session is not None
        return self.session.exec(code, timeout)

    def soft_reset(self) -> None:
        assert self.session is not None
        self.session.soft_reset()

    def hard_reset(self) -> None:
        assert self.session is not None
        self.session.hard_reset()

    def close(self) -> None:
        if self.session is not None:
            session, self.session = self.session, None
            session.close()
