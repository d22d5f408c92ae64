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

import shutil
from dataclasses import dataclass

from ..errors import HilError
from ..process import ManagedProcess
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


class Ser2Net(ManagedProcess):
    """`with Ser2Net([Export("b1", rfc2217_device(url))]) as s:` gives `s.url("b1")`."""

    error = Ser2NetError

    def __init__(self, exports: list[Export], *, binary: str | None = None) -> None:
        super().__init__("usocket-hil-ser2net-")
        self.binary = binary or shutil.which("ser2net") or ""
        self.exports = [e if e.port else Export(e.name, e.connector, free_loopback_port()) for e in exports]

    def url(self, name: str) -> str:
        for e in self.exports:
            if e.name == name:
                return f"rfc2217://127.0.0.1:{e.port}"
        raise KeyError(name)

    def start(self) -> Ser2Net:
        if not self.binary:
            raise Ser2NetError("ser2net is not installed (`make` installs the Debian package; "
                               "or apt-get install ser2net)")
        cfg = self.dir / "ser2net.yaml"
        cfg.write_text(config_text(self.exports))
        self.spawn([self.binary, "-n", "-u", "-c", str(cfg), "-P", str(self.dir / "ser2net.pid")])
        try:
            self.wait_ready(lambda: all(tcp_listening(e.port) for e in self.exports),
                            f"ser2net on 127.0.0.1:{','.join(str(e.port) for e in self.exports)}", START_TIMEOUT_S)
        except BaseException:
            self.close()
            raise
        return self

    def close(self, grace: float = 5.0) -> None:
        super().close(grace)

    def __enter__(self) -> Ser2Net:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()
