"""`virtual down --all` leaves the boards a running process owns (t<pid>-<n>: a test run, esp32_serial's board)
and says so; before, it stopped esp32_serial's board under the running bridge, which then answered
"reader thread died" until a flash (trial 4).  Once the owner is gone, nothing of its board is left over."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from proc_helpers import alive

CLI = str(Path(sys.executable).with_name("usocket-hil"))
OWNER = """
import sys, time
from host_harness.virtual import VirtualBoard
vb = VirtualBoard("virtual-unix", network=False).start()
print(vb.name, flush=True)
time.sleep(120)
"""


def _down_all(env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([CLI, "virtual", "down", "--all"], capture_output=True, text=True, timeout=60, env=env)


def test_down_all_leaves_a_running_owners_board_and_stops_it_once_the_owner_is_gone(tmp_path: Path) -> None:
    env = {**os.environ, "USOCKET_HIL_STATE": str(tmp_path)}
    owner = subprocess.Popen([sys.executable, "-c", OWNER], stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert owner.stdout is not None
        name = owner.stdout.readline().strip()
        assert name == f"t{owner.pid}-1", name
        state = (tmp_path / f"{name}.json")
        assert state.exists()
        kept = _down_all(env)
        assert kept.returncode == 0, kept.stderr
        assert f"left virtual board '{name}': it belongs to running process {owner.pid}" in kept.stdout
        assert state.exists()  # still up
        listed = subprocess.run([CLI, "virtual", "list"], capture_output=True, text=True, timeout=30, env=env)
        assert f"{name}  virtual-unix  up" in listed.stdout, listed.stdout
        assert f"pid {owner.pid}" in listed.stdout.splitlines()[1], listed.stdout  # whose it is (trial 5 F20)
        owner.send_signal(signal.SIGKILL)  # an owner that could not clean up: its board is a leftover now
        owner.wait(timeout=30)
        deadline = time.monotonic() + 10
        while alive(owner.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        # its supervisor follows its owner (PDEATHSIG); what is left of it, if anything, --all now stops
        gone = _down_all(env)
        assert gone.returncode == 0 and "left virtual board" not in gone.stdout, (gone.stdout, gone.stderr)
        assert not state.exists()
    finally:
        if owner.poll() is None:
            owner.kill()
            owner.wait(timeout=30)
        _down_all(env)
