"""`test --pool N` refuses what N workers cannot share, up front, in one line."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

CLI = str(Path(sys.executable).with_name("usocket-hil"))


def hil(*args: str, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([CLI, *args], capture_output=True, text=True, timeout=timeout, env={**os.environ, **env})


def test_pool_on_one_running_board_is_refused_before_any_suite(tmp_path: Path) -> None:
    env = {"USOCKET_HIL_STATE": str(tmp_path / "state")}
    up = hil("virtual", "up", "--board", "virtual-unix", "--no-network", "--name", "vb3", env=env)
    assert up.returncode == 0, up.stderr
    try:
        started = time.monotonic()
        p = hil("test", "--board", "vb3", "--pool", "2", "--report-dir", str(tmp_path / "r"), env=env)
        assert p.returncode == 2, p.stdout[-2000:] + p.stderr[-2000:]
        lines = p.stderr.strip().splitlines()
        assert len(lines) == 1 and "--pool N needs a board file; vb3 is one running board" in lines[0], p.stderr
        assert "--board virtual-unix" in lines[0]
        assert "crashed" not in p.stdout + p.stderr and time.monotonic() - started < 30
    finally:
        hil("virtual", "down", "--all", env=env)
