"""`python -m host_harness.farm.local` (the loopback farm) reports a part of itself dying: one line naming it,
exit 1 (DIED), the rest stopped -- nothing of the farm left running or listening."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fault_helpers import run_marker, wait_gone

from host_harness.farm.local import DIED
from host_harness.farm.net import tcp_listening

FARM = [sys.executable, "-m", "host_harness.farm.local", "--boards", "1"]
NOTICE_S = 10.0  # the farm checks its parts every 0.5 s; closing the rest takes a few seconds


def _child(parent: int, name: str) -> int:
    """The pid of `parent`'s child process whose command line mentions `name`."""
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            ppid = re.search(r"^PPid:\s*(\d+)", status.read_text(), re.M)
            cmdline = (status.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if ppid and int(ppid.group(1)) == parent and name in cmdline:
            return int(status.parent.name)
    raise AssertionError(f"no {name} under the farm {parent}")


@pytest.mark.parametrize(("part", "args", "named"), [
    ("labgrid-exporter", [], r"labgrid-exporter bench-1 \(killed by SIGKILL\)"),
    pytest.param("ser2net", ["--ser2net"], r"ser2net \(rfc2217://127\.0\.0\.1:\d+\) \(killed by SIGKILL\)",
                 marks=pytest.mark.skipif(shutil.which("ser2net") is None, reason="ser2net is not installed")),
])
def test_a_part_of_the_farm_dying_stops_the_farm_with_one_line_naming_it(part, args, named):
    marker = run_marker()
    proc = subprocess.Popen([*FARM, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, **marker}, start_new_session=True)
    try:
        assert proc.stdout is not None
        coordinator = proc.stdout.readline().strip()  # export LG_COORDINATOR=127.0.0.1:PORT
        assert coordinator.startswith("export LG_COORDINATOR=127.0.0.1:"), coordinator + proc.stderr.read()
        place = proc.stdout.readline()
        assert place.startswith("place farm-esp32-a: board=virtual-esp32 rfc2217://127.0.0.1:"), place
        os.kill(_child(proc.pid, part), signal.SIGKILL)
        killed = time.monotonic()
        _out, err = proc.communicate(timeout=60)
        took = time.monotonic() - killed
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
    assert proc.returncode == DIED, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and re.search(named, lines[0]) and "farm stopped" in lines[0], err
    assert took < NOTICE_S, took
    assert wait_gone(marker) == []  # coordinator, exporter, ser2net, the virtual ESP32 and its board
    assert not tcp_listening(int(coordinator.rsplit(":", 1)[1]))


def test_the_farm_stopped_by_sigterm_exits_0_and_leaves_nothing():
    marker = run_marker()
    proc = subprocess.Popen(FARM, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, **marker}, start_new_session=True)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().startswith("export LG_COORDINATOR=")
        proc.stdout.readline()
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
    assert proc.returncode == 0 and err == "", err
    assert wait_gone(marker) == []
