"""What `usocket-hil test` shows of a suite's pytest output: all of it goes to the suite's log, the terminal
gets the progress and failures without pytest's warnings summary and short test summary (third-party
DeprecationWarnings, a repeat of the failures the table shows) -- and nothing once muted after a Ctrl-C,
when pytest prints its interrupt banner or, still importing, a traceback (the CLI says "interrupted" once).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
from pathlib import Path
from typing import IO

# pytest's section headings ("==== warnings summary ====", "!!!! _pytest.outcomes.Exit: ... !!!!") start a
# block that runs to the next heading; the two named here stay in the log only.  (The "!!!! KeyboardInterrupt
# !!!!" banner comes only after a Ctrl-C, when everything is muted; an Exit banner says why a bring-up failed.)
_HEADING = re.compile(rb"^(=+ .* =+|!+ .* !+|=+|!+)\s*$")
_HIDDEN = re.compile(rb"^=+ (warnings summary|short test summary info) =+\s*$")
_PROGRESS = re.compile(rb"[.FEsxX]+")  # pytest -q progress characters: shown as they come, not per line


class SuiteOutput:
    """Reads a suite's stdout and stderr pipes into `log` and onto ours (stdout filtered as above)."""

    def __init__(self, proc: subprocess.Popen, log_path: Path) -> None:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        self.log_path = log_path
        self._log = log_path.open("wb")
        self._lock = threading.Lock()
        self._muted = False
        self._threads = [threading.Thread(target=self._pump, args=(proc.stdout, sys.stdout, True), daemon=True),
                         threading.Thread(target=self._pump, args=(proc.stderr, sys.stderr, False), daemon=True)]
        for t in self._threads:
            t.start()

    def mute(self) -> None:
        self._muted = True

    def close(self, timeout: float = 5.0) -> None:
        for t in self._threads:
            t.join(timeout)
        with self._lock:
            self._log.close()

    def _pump(self, pipe: IO[bytes], out: IO[str], filtered: bool) -> None:
        fd = pipe.fileno()
        line = b""
        shown = 0  # bytes of `line` already written (progress characters)
        hiding = False
        while data := os.read(fd, 4096):
            with self._lock:
                if not self._log.closed:
                    self._log.write(data)
                    self._log.flush()
            line += data
            while b"\n" in line:
                full, line = line.split(b"\n", 1)
                if filtered and _HEADING.match(full):
                    hiding = bool(_HIDDEN.match(full))
                if not hiding or not filtered:
                    self._show(out, full[shown:] + b"\n")
                shown = 0
            if filtered and not hiding and _PROGRESS.fullmatch(line) and len(line) > shown:
                self._show(out, line[shown:])
                shown = len(line)
        if line and not (filtered and hiding):
            self._show(out, line[shown:])
        pipe.close()

    def _show(self, out: IO[str], data: bytes) -> None:
        if self._muted:
            return
        try:
            out.write(data.decode(errors="replace"))
            out.flush()
        except (BrokenPipeError, ValueError):  # our reader went away: the log still has it all
            self._muted = True
