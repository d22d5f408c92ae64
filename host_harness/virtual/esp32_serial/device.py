"""A virtual ESP32-DevKitC as a process: chip (chip.py) + USB-UART bridge served as RFC2217 (bridge.py).

    with VirtualEsp32() as dev:          # dev.url == "rfc2217://127.0.0.1:PORT"
        usocket-hil flash --board virtual-esp32 --port dev.url fw.bin

The process (`python -m host_harness.virtual.esp32_serial --state-file F`) writes F as JSON once it listens,
stops on SIGTERM/SIGINT or when its parent dies, and stops the MicroPython board it booted with it.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from ...errors import HilError

START_TIMEOUT_S = 20.0


class VirtualEsp32:
    """Host side: start the device process on a free loopback port, read its URL, stop it on close()."""

    def __init__(self, *, flash_file: Path | None = None, log_level: str = "info",
                 start_timeout: float = START_TIMEOUT_S) -> None:
        self.flash_file = flash_file
        self.log_level = log_level
        self.start_timeout = start_timeout
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = ""
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self.log_path = Path(os.devnull)

    def start(self) -> VirtualEsp32:
        self._tmp = tempfile.TemporaryDirectory(prefix="usocket-hil-esp32-")
        state = Path(self._tmp.name) / "state.json"
        self.log_path = Path(self._tmp.name) / "device.log"
        argv = [sys.executable, "-m", "host_harness.virtual.esp32_serial", "--state-file", str(state),
                "--log-level", self.log_level, "--parent-pid", str(os.getpid())]
        if self.flash_file is not None:
            argv += ["--flash-file", str(self.flash_file)]
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                         start_new_session=True)
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if state.exists():
                self.url = json.loads(state.read_text())["url"]
                return self
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        tail = self.log_text()[-300:]
        self.close()
        raise HilError(f"the virtual ESP32 did not start within {self.start_timeout:.0f} s: {tail.strip()}")

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def close(self) -> None:
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> VirtualEsp32:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


def _log(text: str) -> None:
    sys.stderr.write(f"{time.strftime('%H:%M:%S')} esp32[{os.getpid()}]: {text}\n")
    sys.stderr.flush()


def main(argv: list[str] | None = None) -> int:
    from .bridge import Rfc2217Bridge
    from .chip import Chip

    p = argparse.ArgumentParser(prog="python -m host_harness.virtual.esp32_serial",
                                description="A virtual ESP32-DevKitC served as rfc2217://127.0.0.1:PORT.")
    p.add_argument("--port", type=int, default=0, help="TCP port on 127.0.0.1 (default: a free one)")
    p.add_argument("--state-file", type=Path, help="written as JSON {url, pid} once the port listens")
    p.add_argument("--flash-file", type=Path, help="keep the 4 MiB flash in this file across runs")
    p.add_argument("--log-level", choices=("error", "warn", "info"), default="info",
                   help="ESP-IDF log level of the boot chain (MicroPython builds use warn)")
    p.add_argument("--parent-pid", type=int, help="stop when this process is gone")
    args = p.parse_args(argv)

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, lambda *_: stop.set())
    chip = Chip(flash_file=args.flash_file, log_level=args.log_level, log=_log)
    try:
        bridge = Rfc2217Bridge(chip, port=args.port, log=_log)
    except OSError as exc:
        chip.close()
        print(f"esp32_serial: error: cannot listen on 127.0.0.1:{args.port}: {exc}", file=sys.stderr)
        return 2
    server = threading.Thread(target=bridge.serve, name="rfc2217-accept", daemon=True)
    server.start()
    if args.state_file:
        tmp = args.state_file.with_name(args.state_file.name + ".tmp")
        tmp.write_text(json.dumps({"url": bridge.url, "pid": os.getpid()}))
        os.replace(tmp, args.state_file)
    _log(f"virtual ESP32 on {bridge.url}")
    try:
        while not stop.wait(0.5):
            if args.parent_pid and not _alive(args.parent_pid):
                _log(f"parent {args.parent_pid} is gone")
                break
    finally:
        bridge.close()
        chip.close()
        _log("stopped")
    return 0


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
