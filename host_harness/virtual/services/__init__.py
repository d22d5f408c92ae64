"""Network services of a virtual board, served as its firmware does: WiPy telnet + FTP, ESP32 WebREPL.

Where they run -- host-side, in the supervisor process, listening inside the board's network namespace --
and why not inside the MicroPython interpreter like the firmware:
* On the real boards these servers are firmware, not user code: the cc3200's telnet/FTP run in their own RTOS
  task (serverstask.c) and survive a soft reset, which closes only user sockets
  (mptask.c modusocket_close_all_user_sockets); the network processor keeps the hidden /flash/sys and
  /flash/cert stores and the boot manager checks images on reset.  A virtual board's soft reset restarts the
  interpreter (a fresh VM), so servers inside it would die with every reset and need re-creating by a
  program the firmware does not have; in the supervisor they live as long as the board, as on hardware.
* The unix port has no os.dupterm-able telnet/_webrepl C modules; a Python server inside the VM would
  compete with the code under test for the interpreter (and for the socket model's budget without being
  counted as the firmware counts it).
* The supervisor already owns the board's console line and its resets, so a session is just another
  console attachment (base.py) and a reset can drop sessions and run the boot manager (nwp.py).
What is shared with the VM: the flash directory (FTP's /flash, WebREPL's files), and small files through
which the port models see the servers: <flash>/.nwp/sockets (its size: the WiPy servers' open sockets, listeners
and sessions, which the wipy model counts against SL_MAX_SOCKETS = 8 with the user's, docs/fidelity.md W8;
removed when the servers stop, so a board without them counts the two idle listeners), <flash>/.nwp/wlan
(WLAN events that drop WiPy sessions), <flash>/.webrepl.json (the esp32 model's webrepl.start()).

Only named namespaces (root) are supported: sockets are made in the board namespace with setns.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ...boards import Board
from ...netns import NETNS_DIR, socket_in_netns
from .base import Service, Stopper

if TYPE_CHECKING:
    from .nwp import NetworkProcessor  # (imported where a WiPy needs it: every supervisor imports this module)

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT_S = 300.0  # serverstask.h SERVERS_DEF_TIMEOUT_MS
TIMEOUT_ENV = "USOCKET_HIL_SERVERS_TIMEOUT"  # tests shorten the WiPy servers' idle timeout (network.Server.timeout)


def offered(board: Board) -> tuple[str, ...]:
    """The services a board's firmware offers (by its port model)."""
    return {"wipy": ("telnet", "ftp"), "esp32": ("webrepl",)}.get(board.model or "", ())


def _servers_timeout() -> float:
    try:
        return max(5.0, float(os.environ.get(TIMEOUT_ENV, DEFAULT_TIMEOUT_S)))  # SERVERS_MIN_TIMEOUT_MS
    except ValueError:
        return DEFAULT_TIMEOUT_S


def interpreter_version(micropython: str) -> str:
    """The interpreter's MICROPY_GIT_TAG-like version ("v1.28.0"), the virtual WiPy's factory image."""
    try:
        out = subprocess.run([micropython, "-c", "import sys;print(sys.implementation.version)"],
                             capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.TimeoutExpired):
        return "v?"
    m = re.search(r"\((\d+), (\d+), (\d+)", out)
    return f"v{m[1]}.{m[2]}.{m[3]}" if m else "v?"


class ServiceHost:
    """Starts a board's services, reports their URLs, and relays resets to them."""

    def __init__(self, board: Board, *, flash_dir: Path, netns_info: dict, console_port: int,
                 micropython: str) -> None:
        self.board = board
        self.flash_dir = flash_dir
        self.names = offered(board)
        self.board_ip: str = netns_info["board_ip"]
        self.host_ns: str = next(n for n in netns_info["names"] if n.endswith("-h"))
        board_ns = next(n for n in netns_info["names"] if n.endswith("-b"))
        self.board_socket: Callable[[], Any] = lambda: socket_in_netns(NETNS_DIR / board_ns)
        self.console_port = console_port
        self.services: dict[str, Service] = {}
        self._lock = threading.Lock()
        self.nwp: NetworkProcessor | None = None
        self.version = interpreter_version(micropython) if self.names else "v?"
        if "telnet" in self.names:
            from .nwp import NetworkProcessor

            self.nwp = NetworkProcessor(flash_dir, self.version)
            self.nwp.boot()
            self.nwp.clear_server_sockets()  # a count left by a supervisor killed -9; the servers publish theirs

    def _common(self) -> dict:
        return {"board_socket": self.board_socket, "board_ip": self.board_ip, "console_port": self.console_port,
                "stopper": Stopper(), "on_sockets": self._publish_sockets}

    def start(self) -> None:
        from .ftp import FtpServer
        from .telnet import TelnetServer
        from .webrepl import WebreplServer

        if self.nwp is not None:
            nwp = self.nwp
            timing = {"timeout": _servers_timeout, "wlan_events": nwp.wlan_events}
            self.services["telnet"] = TelnetServer(welcome=self.welcome, **timing, **self._common())
            self.services["ftp"] = FtpServer(flash_dir=self.flash_dir, nwp=nwp, **timing, **self._common())
        if "webrepl" in self.names:
            numbers = tuple(int(n) for n in re.findall(r"\d+", self.version)[:3]) or (0, 0, 0)
            web = WebreplServer(flash_dir=self.flash_dir, version=numbers, **self._common())
            web.clear()  # a fresh board has not called webrepl.start() yet
            self.services["webrepl"] = web
        for s in self.services.values():
            s.start()

    def welcome(self) -> bytes:
        """telnet.c telnet_welcome_msg for the running image."""
        version = self.nwp.running_version() if self.nwp else "v?"
        return f"MicroPython {version} on 2026-01-01; WiPy with CC3200\r\n".encode()

    def _publish_sockets(self) -> None:
        if self.nwp is not None:
            with self._lock, contextlib.suppress(OSError):  # the servers' threads share one file
                self.nwp.set_server_sockets(sum(s.sockets for s in self.services.values()))

    def urls(self) -> dict[str, str]:
        q = f"netns={self.host_ns}"
        out = {}
        for name in self.names:
            if name == "telnet":
                out[name] = f"wipy://{self.board_ip}:23?{q}"
            elif name == "ftp":
                out[name] = f"ftp://micro:python@{self.board_ip}:21/?{q}"
            elif name == "webrepl":
                out[name] = f"webrepl://{self.board_ip}:8266?{q}&password=PASSWORD"
        return out

    def on_reset(self, hard: bool) -> None:
        """The board reset: sessions end; a hard reset (power cycle) runs the boot manager first."""
        if hard and self.nwp is not None:
            outcome = self.nwp.boot()
            log.info("boot manager: %s (%s)", outcome, self.nwp.running_version())
        if "webrepl" in self.services:
            self.services["webrepl"].clear()  # type: ignore[attr-defined]
        if hard or "webrepl" in self.services:  # WiPy servers survive a soft reset (mptask.c)
            for s in self.services.values():
                s.stopper.kick()

    def close(self) -> None:
        for s in self.services.values():
            s.stopper.kick(stop=True)
        for s in self.services.values():
            s.join(5)
            s.stopper.close()
        if self.nwp is not None:
            with self._lock, contextlib.suppress(OSError):
                self.nwp.clear_server_sockets()
