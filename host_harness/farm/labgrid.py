"""labgrid (PyPI `labgrid`, pinned in pyproject.toml) as the farm engine: coordinator, exporter, places.

We run labgrid's own programs and client; nothing here schedules or locks anything itself:
- `Coordinator`: `labgrid-coordinator --listen 127.0.0.1:PORT` (its places.yaml / resources.yaml live in a
  private temp dir, its working directory);
- `Exporter`: `labgrid-exporter` publishing one resource group per board, each a `NetworkSerialPort` (host,
  port, speed, protocol rfc2217) — the board's RFC2217 port (the virtual ESP32's bridge, or ser2net in
  front of a real board).  labgrid's own RawSerialPort/USBSerialPort exports start ser2net listening on
  every interface, so for loopback tests the serial servers are started by us and exported as they are;
- `client(...)`: one `labgrid-client` call (places, matches, tags, acquire/release, reservations) with a
  deadline and labgrid's one-line error text.
Every process is started in its own session and stopped by close() (SIGTERM, then SIGKILL).
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from ..errors import HilError
from ..process import ManagedProcess
from .net import free_loopback_port, tcp_listening

START_TIMEOUT_S = 30.0
CLIENT_TIMEOUT_S = 30.0


class LabgridError(HilError):
    """A labgrid program is missing, did not start, or a client call failed (the message is labgrid's)."""


def labgrid_bin(name: str) -> str:
    here = Path(sys.executable).parent / name
    if here.exists():
        return str(here)
    raise LabgridError(f"{name} is not installed next to {sys.executable} (pip install 'usocket-hil[dev]')")


def client(coordinator: str, *args: str, timeout: float = CLIENT_TIMEOUT_S,
           user: str | None = None, token: str | None = None) -> str:
    """Run `labgrid-client -x COORDINATOR ARGS...`; its stdout, or LabgridError with its error line."""
    env = dict(os.environ)
    env.pop("LG_PLACE", None)
    if user:
        env["LG_USERNAME"] = user
    if token:
        env["LG_TOKEN"] = token
    try:
        r = subprocess.run([labgrid_bin("labgrid-client"), "-x", coordinator, *args], capture_output=True, text=True,
                           timeout=timeout, env=env, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise LabgridError(f"labgrid-client {' '.join(args)}: no answer from the coordinator {coordinator} "
                           f"within {timeout:.0f} s") from None
    if r.returncode != 0:
        text = (r.stderr.strip() or r.stdout.strip() or f"exit {r.returncode}").splitlines()[-1]
        raise LabgridError(text.removeprefix("labgrid-client: ").removeprefix("Error: "))
    return r.stdout


class _Process(ManagedProcess):
    """A labgrid program: its working directory (coordinator state) is the private temp dir."""

    error = LabgridError

    def _spawn(self, argv: list[str]) -> None:
        self.spawn(argv, env=dict(os.environ, PYTHONUNBUFFERED="1"))

    def _wait(self, ready, what: str) -> None:
        self.wait_ready(ready, what, START_TIMEOUT_S)


class Coordinator(_Process):
    def __init__(self, port: int = 0) -> None:
        super().__init__("usocket-hil-lg-coordinator-")
        self.port = port or free_loopback_port()
        self.address = f"127.0.0.1:{self.port}"

    def start(self) -> Coordinator:
        self._spawn([labgrid_bin("labgrid-coordinator"), "--listen", self.address])
        try:
            self._wait(lambda: tcp_listening(self.port), f"labgrid-coordinator on {self.address}")
        except BaseException:
            self.close()
            raise
        return self

    def __enter__(self) -> Coordinator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass(frozen=True)
class SerialExport:
    group: str  # the resource group, and the place name farm tests give it
    url: str  # rfc2217://HOST:PORT


def exporter_config(exports: list[SerialExport]) -> str:
    lines = []
    for e in exports:
        host, port = e.url.split("://", 1)[1].split("?", 1)[0].rsplit(":", 1)
        lines += [f"{e.group}:", "  NetworkSerialPort:", f"    host: {host}", f"    port: {port}",
                  "    speed: 115200", "    protocol: rfc2217"]
    return "\n".join(lines) + "\n"


class Exporter(_Process):
    def __init__(self, coordinator: str, name: str, exports: list[SerialExport]) -> None:
        super().__init__("usocket-hil-lg-exporter-")
        self.coordinator = coordinator
        self.name = name
        self.exports = exports

    def start(self) -> Exporter:
        cfg = self.dir / "exporter.yaml"
        cfg.write_text(exporter_config(self.exports))
        self._spawn([labgrid_bin("labgrid-exporter"), "--coordinator", self.coordinator, "--name", self.name,
                     "--hostname", "127.0.0.1", str(cfg)])
        try:
            self._wait(self._published, f"labgrid-exporter {self.name}")
        except BaseException:
            self.close()
            raise
        return self

    def _published(self) -> bool:
        try:
            out = client(self.coordinator, "resources", timeout=10)
        except LabgridError:
            return False
        return all(f"{self.name}/{e.group}/NetworkSerialPort" in out for e in self.exports)

    def __enter__(self) -> Exporter:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


def create_place(coordinator: str, name: str, *, exporter: str, group: str, tags: dict[str, str]) -> None:
    """A place holding one exported group, tagged (board=<board file>, ...)."""
    client(coordinator, "-p", name, "create")
    client(coordinator, "-p", name, "add-match", f"{exporter}/{group}/*")
    if tags:
        client(coordinator, "-p", name, "set-tags", *(f"{k}={v}" for k, v in tags.items()))

