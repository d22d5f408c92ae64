"""A `usocket-hil` run in its own process group that a farm test interrupts part-way (Ctrl-C, a kicked place)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable

CLI = [sys.executable, "-m", "host_harness.cli"]


class CliRun:
    """`CliRun(args)`: the CLI started in a new session (so the test can signal all of it, as a terminal does);
    `until(pred)` reads its output up to the first line `pred` accepts; `finish()` its exit code and output.
    Used as a context manager, whatever is still running at the end is killed."""

    def __init__(self, args: list[str], env: dict[str, str] | None = None) -> None:
        self.proc = subprocess.Popen([*CLI, *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                     start_new_session=True, env={**os.environ, **(env or {})})
        self.seen: list[str] = []

    def until(self, pred: Callable[[str], bool], deadline: float = 120) -> None:
        assert self.proc.stdout is not None
        end = time.monotonic() + deadline
        for line in self.proc.stdout:
            self.seen.append(line)
            if pred(line) or time.monotonic() > end:
                return

    def interrupt(self) -> None:
        os.killpg(self.proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C sends: the whole process group

    def finish(self, timeout: float = 240) -> tuple[int, str]:
        out, _ = self.proc.communicate(timeout=timeout)
        self.seen.append(out)
        return self.proc.returncode, "".join(self.seen)

    def __enter__(self) -> CliRun:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
