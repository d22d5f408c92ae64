"""A helper program the harness runs (ser2net, labgrid, a virtual ESP32): own session, log file, sure stop.

Its own session, so a terminal's Ctrl-C reaches us and we stop it ourselves (and its children with it); its
output goes to a file in a private temp dir (a pipe nobody drains would block it); close() sends SIGTERM to
the group, SIGKILL after a grace period, and removes the dir.
"""

from __future__ import annotations

import os
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from .errors import HilError


class ManagedProcess:
    error: type[HilError] = HilError  # raised by wait_ready; subclasses name their own

    def __init__(self, prefix: str) -> None:
        self._tmp: tempfile.TemporaryDirectory[str] | None = tempfile.TemporaryDirectory(prefix=prefix)
        self.dir = Path(self._tmp.name)
        self.log_path = self.dir / "output.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def spawn(self, argv: list[str], *, cwd: Path | None = None, env: dict[str, str] | None = None) -> None:
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(argv, cwd=cwd or self.dir, stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=subprocess.STDOUT, start_new_session=True, env=env)

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def wait_ready(self, ready: Callable[[], bool], what: str, timeout: float) -> None:
        """Poll `ready()` until it holds; `error` (with the log's tail) if the program exits or time runs out."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise self.error(f"{what} exited with {self.proc.returncode}: {self.log_text().strip()[-300:]}")
            if ready():
                return
            time.sleep(0.05)
        raise self.error(f"{what} was not ready within {timeout:.0f} s: {self.log_text().strip()[-300:]}")

    def kill(self) -> None:
        """Stop it abruptly (SIGKILL), as when its machine or process dies mid-run."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(5)

    def close(self, grace: float = 10.0) -> None:
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(grace)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)
            except ProcessLookupError:
                proc.wait(5)
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None
