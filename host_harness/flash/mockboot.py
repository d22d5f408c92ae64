"""Run the real esp32-mock-bootloader (a ROM-protocol server) as a CI flash target on 127.0.0.1.

One subprocess per instance, its own TMPDIR (the mock keeps a registry there), a free loopback port,
a deadline for it to start listening, and a kill on close — used by tests and bench/deploy_flash.py.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ..errors import HilError


def free_loopback_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def mock_command() -> list[str]:
    """The mock's console script next to this interpreter, else on PATH."""
    here = Path(sys.executable).parent / "esp32-mock-bootloader"
    if here.exists():
        return [str(here)]
    found = shutil.which("esp32-mock-bootloader")
    if not found:
        raise HilError("esp32-mock-bootloader is not installed (pip install 'usocket-hil[dev]')")
    return [found]


class MockBootloader:
    """`with MockBootloader("esp32") as mock:` gives `mock.url` = socket://127.0.0.1:N.

    The mock's 4 MiB flash lives as long as the instance (across connections)."""

    def __init__(self, chip: str = "esp32", *, start_timeout: float = 15.0) -> None:
        self.chip = chip
        self.start_timeout = start_timeout
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = Path(os.devnull)
        self._tmp: tempfile.TemporaryDirectory[str] | None = None

    @property
    def url(self) -> str:
        return f"socket://127.0.0.1:{self.port}"

    def start(self) -> MockBootloader:
        self._tmp = tempfile.TemporaryDirectory(prefix="usocket-hil-mock-")
        env = dict(os.environ, TMPDIR=self._tmp.name)
        last = ""
        for _ in range(3):  # the free port can be taken between probe and bind; try another one
            self.port = free_loopback_port()
            # Output goes to a file: a pipe nobody drains would eventually block the mock.
            self.log_path = Path(self._tmp.name) / f"mock-{self.port}.log"
            with self.log_path.open("wb") as out:
                self.proc = subprocess.Popen(
                    [*mock_command(), "run", "--chip", self.chip, "--port", str(self.port),
                     "--bind", "127.0.0.1"],
                    env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                    start_new_session=True,  # Ctrl-C in a terminal reaches us; we stop the mock ourselves
                )
            if self._wait_listening():
                return self
            last = self._stop_proc()
        self.close()
        raise HilError(f"esp32-mock-bootloader did not start listening: {last.strip()[:200]}")

    def _wait_listening(self) -> bool:
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                return False
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return True  # the mock treats this empty session as a disconnect and keeps serving
            except OSError:
                time.sleep(0.05)
        return False

    def _stop_proc(self) -> str:
        proc, self.proc = self.proc, None
        if proc is None:
            return ""
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def close(self) -> None:
        self._stop_proc()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> MockBootloader:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()
