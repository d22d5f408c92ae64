"""Run the real ser2net (Debian package, 4.x) to export serial ports as rfc2217://127.0.0.1:PORT.

Each export is one ser2net connection: accepter `telnet(rfc2217),tcp,127.0.0.1,PORT` (loopback only) and a
gensio connector:
- `serial_device(path)`: a tty, e.g. a real board's /dev/ttyUSB0 (`serialdev,PATH,115200n81,local`):
  ser2net sets baud and DTR/RTS on it as the RFC2217 client asks; a pty (a virtual board's) carries data
  only — the kernel's pty driver has no modem lines, so nothing can reset a board through one;
- `rfc2217_device(url)`: another RFC2217 port (`telnet(rfc2217),tcp,HOST,PORT`), e.g. the virtual ESP32's
  bridge, whose DTR/RTS then pass through ser2net as they would to a USB-UART.
ser2net runs in the foreground (-n) with UUCP locking off (-u: its lock directory is the system's), its
config in a private temp dir; close() stops it (SIGTERM, then SIGKILL) and removes the dir.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from ..errors import HilError
from .net import free_loopback_port, tcp_listening

START_TIMEOUT_S = 10.0


class Ser2NetError(HilError):
    """ser2net is missing, did not start, or its export is not listening."""


@dataclass(frozen=True)
class Export:
    name: str
    connector: str  # a gensio connector string
    port: int = 0  # 0: a free loopback port


def serial_device(path: str, baud: int = 115200) -> str:
    return f"serialdev,{path},{baud}n81,local"


def rfc2217_device(url: str) -> str:
    hostport = url.split("://", 1)[1].split("?", 1)[0]
    host, port = hostport.rsplit(":", 1)
    return f"telnet(rfc2217),tcp,{host},{port}"


def config_text(exports: list[Export]) -> str:
    lines = ["%YAML 1.1", "---"]
    for e in exports:
        lines += [f"connection: &{e.name}",
                  f"  accepter: telnet(rfc2217),tcp,127.0.0.1,{e.port}",
                  f"  connector: {e.connector}",
                  "  options:",
                  "    kickolduser: false",  # a second client is refused while one holds the port
                  "    mdns: false",
                  ""]
    return "\n".join(lines)


class Ser2Net:
    """`with Ser2Net([Export("b1", rfc2217_device(url))]) as s:` gives `s.url("b1")`."""

    def __init__(self, exports: list[Export], *, binary: str | None = None) -> None:
        self.binary = binary or shutil.which("ser2net") or ""
        self.exports = [e if e.port else Export(e.name, e.connector, free_loopback_port()) for e in exports]
        self.proc: subprocess.Popen[bytes] | None = None
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self.log_path = Path(os.devnull)

    def url(self, name: str) -> str:
        for e in self.exports:
            if e.name == name:
                return f"rfc2217://127.0.0.1:{e.port}"
        raise KeyError(name)

    def start(self) -> Ser2Net:
        if not self.binary:
            raise Ser2NetError("ser2net is not installed (`make` installs the Debian package; "
                               "or apt-get install ser2net)")
        self._tmp = tempfile.TemporaryDirectory(prefix="usocket-hil-ser2net-")
        cfg = Path(self._tmp.name) / "ser2net.yaml"
        cfg.write_text(config_text(self.exports))
        self.log_path = Path(self._tmp.name) / "ser2net.log"
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen([self.binary, "-n", "-u", "-c", str(cfg),
                                          "-P", str(Path(self._tmp.name) / "ser2net.pid")],
                                         stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                         start_new_session=True)
        try:
            self._wait_listening()
        except BaseException:
            self.close()
            raise
        return self

    def _wait_listening(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        waiting = {e.port for e in self.exports}
        while waiting and time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise Ser2NetError(f"ser2net exited with {self.proc.returncode}: {self.log_text().strip()[-300:]}")
            for port in list(waiting):
                if tcp_listening(port):
                    waiting.discard(port)
            time.sleep(0.05)
        if waiting:
            raise Ser2NetError(f"ser2net did not listen on 127.0.0.1:{sorted(waiting)} within "
                               f"{START_TIMEOUT_S:.0f} s: {self.log_text().strip()[-300:]}")

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def kill(self) -> None:
        """Stop ser2net abruptly (SIGKILL), as when its machine or process dies mid-test."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(5)

    def close(self) -> None:
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> Ser2Net:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

