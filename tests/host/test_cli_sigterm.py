"""SIGTERM to the CLI's own process (a CI runner cancelling a job, `timeout`, systemd) stops a run as Ctrl-C does:
the suite and its boards stopped, a held labgrid place released, one line, exit 143."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from farm_helpers import CliRun
from proc_helpers import alive

from host_harness.farm.labgrid import client
from host_harness.farm.local import LocalFarm
from host_harness.netns import netns_support
from host_harness.state import KEPT

CLI = [sys.executable, "-m", "host_harness.cli"]
STOP_DEADLINE_S = 60  # the suite's own clean-up (boards, peers, namespaces) included


def _descendants(root: int) -> set[int]:
    found, todo = set(), [root]
    while todo:
        pid = todo.pop()
        for kids in Path(f"/proc/{pid}/task").glob("*/children"):
            try:
                new = {int(p) for p in kids.read_text().split()}
            except OSError:
                continue
            todo += list(new - found)
            found |= new
    return found


@pytest.mark.skipif(not netns_support()[0], reason="needs network namespaces for the board's peers")
def test_sigterm_mid_suite_stops_everything_and_exits_143(tmp_path):
    state = tmp_path / "state"
    env = {**os.environ, "USOCKET_HIL_STATE": str(state)}
    proc = subprocess.Popen([*CLI, "test", "--board", "virtual-unix", "-k", "not app", "--report-dir",
                             str(tmp_path / "reports")], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env, start_new_session=True)
    try:
        assert proc.stdout is not None
        shown = ""
        while (ch := proc.stdout.read(1)) and ch != ".":  # the first test passed: a board and peers are up
            shown += ch
        assert ch == ".", shown
        seen = _descendants(proc.pid)
        assert seen, "nothing was running: the test proved nothing"
        t0 = time.monotonic()
        os.kill(proc.pid, signal.SIGTERM)  # the CLI's pid only, as `timeout` and CI runners send it
        out, err = proc.communicate(timeout=STOP_DEADLINE_S)
        took = time.monotonic() - t0
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
    assert proc.returncode == 143, (out[-2000:], err[-2000:])
    assert [ln for ln in err.splitlines() if ln.strip()] == ["usocket-hil: terminated"], err
    assert took < STOP_DEADLINE_S
    time.sleep(0.5)
    assert not [pid for pid in seen if alive(pid)]
    assert [p.name for p in state.iterdir() if p.name not in KEPT] == [] if state.is_dir() else True


def test_sigterm_during_a_place_run_releases_the_place(tmp_path):
    with LocalFarm(1) as farm, CliRun(["test", "--coordinator", farm.address, "--place", farm.places[0],
                                       "--report-dir", str(tmp_path)]) as run:
        run.until(lambda line: "acquired:" in line, deadline=60)
        time.sleep(1.0)  # the suite has started
        seen = _descendants(run.proc.pid)
        os.kill(run.proc.pid, signal.SIGTERM)
        code, out = run.finish(STOP_DEADLINE_S)
        assert code == 143, out[-2000:]
        assert "usocket-hil: terminated" in out and "Traceback" not in out
        assert client(farm.address, "who").strip().splitlines()[1:] == []  # nobody holds the place
        time.sleep(0.5)
        assert not [pid for pid in seen if alive(pid)]
