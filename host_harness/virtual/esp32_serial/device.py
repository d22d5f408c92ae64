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
import sys
import threading
import time
from pathlib import Path

from ...errors import HilError
from ...process import ManagedProcess
from ..manager import pid_alive

START_TIMEOUT_S = 20.0


class VirtualEsp32(ManagedProcess):
    """Host side: start the device process on a free loopback port, read its URL, stop it on close()."""

    error = HilError

    def __init__(self, *, flash_file: Path | None = None, log_level: str = "info",
                 start_timeout: float = START_TIMEOUT_S) -> None:
        super().__init__("usocket-hil-esp32-")
        self.flash_file = flash_file
        self.log_level = log_level
        self.start_timeout = start_timeout
        self.url = ""

    def start(self) -> VirtualEsp32:
        state = self.dir / "state.json"
        argv = [sys.executable, "-m", "host_harness.virtual.esp32_serial", "--state-file", str(state),
                "--log-level", self.log_level, "--parent-pid", str(os.getpid())]
        if self.flash_file is not None:
            argv += ["--flash-file", str(self.flash_file)]
        self.spawn(argv, cwd=Path.cwd())
        try:
            self.wait_ready(state.exists, "the virtual ESP32", self.start_timeout)
        except BaseException:
            self.close()
            raise
        self.url = json.loads(state.read_text())["url"]
        return self

    def close(self, grace: float = 15.0) -> None:  # it stops its MicroPython board first
        super().close(grace)

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
            if args.parent_pid and not pid_alive(args.parent_pid):
                _log(f"parent {args.parent_pid} is gone")
                break
    finally:
        bridge.close()
        chip.close()
        _log("stopped")
    return 0

