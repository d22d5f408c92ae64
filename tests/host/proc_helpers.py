"""Process checks tests share."""

from __future__ import annotations

import os
import re
import signal
from pathlib import Path


def alive(pid: int) -> bool:
    """`pid` runs (a zombie still answers kill(0) until reaped, so /proc's state is checked too)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def interrupted_before_our_code(returncode: int, stderr: str) -> bool:
    """A SIGINT that landed before any line of ours ran, so it proves nothing about our Ctrl-C handling:
    during CPython's own initialisation ("Fatal Python error: init_import_site", exit 1), or while the console
    script pip generated was still importing our entry module (a traceback through that script, importlib, the
    editable install's finder and pathlib, with no frame in host_harness/: ~4 ms unloaded, tens of ms on a
    loaded machine)."""
    if returncode == 1 and stderr.startswith("Fatal Python error: init_import_site"):
        return True
    frames = re.findall(r'^\s*File "([^"]+)"', stderr, re.M)
    # (an uncaught KeyboardInterrupt ends the process by SIGINT itself: -2)
    return (returncode == -signal.SIGINT and stderr.rstrip().endswith("KeyboardInterrupt") and bool(frames)
            and not any("/host_harness/" in f for f in frames))
