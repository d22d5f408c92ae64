"""serial backend: a board on a port (--port URL) driven by host_harness.transport.BoardSession.

Deploys usocket_port + glue + cases with host_harness.deploy, then the plugin's own device helpers
(hilsync, --board-lib paths) with a hash check so an unchanged file is not rewritten.
Real boards are not available where this was written: this path is exercised against a virtual board's pty.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from ...errors import HilError
from .. import layout
from .base import Backend, RunResult

_LIB = "/lib"
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
        assert self.session is not None
        try:
            from ... import deploy as deploy_mod
        except ImportError:
            deploy_mod = None
        items = layout.plugin_files(self._extra_libs)
        if deploy_mod is not None and hasattr(deploy_mod, "deploy"):
            report = deploy_mod.deploy(self.session, self.board)
            self.log(f"[usocket-hil] deploy: {report}\n".encode())
        else:
            # No deploy module yet: copy the whole /lib layout as plain .py files.
            items = layout.all_device_files(self.board.target, self._extra_libs)
        put_files(self.session, layout.expand(items), self.log)

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


def put_files(session, items: list[tuple[Path, str]], log) -> None:
    """Copy (host file, path under /lib) pairs, skipping files whose sha256 already matches."""
    made: set[str] = set()
    for src, dest in items:
        remote = f"{_LIB}/{dest}"
        parent = remote.rsplit("/", 1)[0]
        if parent not in made:
            _mkdirs(session, parent)
            made.add(parent)
        data = src.read_bytes()
        if session.sha256(remote) == hashlib.sha256(data).digest():
            continue
        session.put_file(remote, data)
        log(f"[usocket-hil] put {remote} ({len(data)} bytes)\n".encode())


def _mkdirs(session, path: str) -> None:
    code = ("import os\n"
            f"p = ''\nfor part in {path!r}.strip('/').split('/'):\n"
            "    p += '/' + part\n"
            "    try:\n        os.mkdir(p)\n    except OSError:\n        pass\n")
    res = session.exec(code, 10.0)
    if not res.ok:
        raise HilError(f"cannot create {path} on the board: {res.error.strip().splitlines()[-1:]}")
