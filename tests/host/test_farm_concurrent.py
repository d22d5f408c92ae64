"""Several boards at once: --jobs (one suite process per board) and --pool (one target's suite shared)."""

from __future__ import annotations

import json
import re
import subprocess
import sys

CLI = [sys.executable, "-m", "host_harness.cli", "test"]


def test_jobs_runs_each_board_in_its_own_process_with_its_own_log_and_junit(tmp_path):
    r = subprocess.run([*CLI, "--board", "virtual-unix", "--board", "cpython", "--jobs", "2", "-k", "udp",
                        "--report-dir", str(tmp_path)], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    for board in ("virtual-unix", "cpython"):
        assert (tmp_path / f"junit-{board}.xml").read_text().count("<testcase") >= 3
        # the suite's own output (pytest -qq: its progress characters, every test passed)
        assert re.search(r"^\.+\s*\[100%\]\s*$", (tmp_path / "suite-logs" / f"{board}.log").read_text(), re.M)
        assert re.search(rf"^{board}: [1-9]\d* clauses pass, 0 fail", r.stdout, re.M)
    assert "exit 0" in r.stderr  # each board's progress line ends with its exit code


def test_pool_shares_one_suite_and_reports_every_test_once(tmp_path):
    r = subprocess.run([*CLI, "--board", "virtual-unix", "--pool", "2", "-k", "udp or stream",
                        "--report-dir", str(tmp_path)], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    records = json.loads((tmp_path / "clauses-virtual-unix.json").read_text())
    names = [rec["test"] for rec in records]
    # the controller's records: every test the run collected (its JUnit file), none twice
    collected = (tmp_path / "junit-virtual-unix.xml").read_text().count("<testcase")
    assert len(names) == len(set(names)) == collected >= 5
    assert all(rec["outcome"] == "passed" for rec in records)
    # the boards were the controller's pool (plugin/pool.py), flashed with the deploy set's image: not one
    # bring-up and deploy per worker (the CLI names its pytest plugins; the pool must still see xdist)
    slot1 = (tmp_path / "board-logs" / "virtual-unix" / "pool-1" / "session.log").read_text()
    assert "pool slot 1: bringing up virtual-unix" in slot1 and "flashed with the deploy set's image" in slot1


def test_pool_refuses_a_real_board_port(tmp_path):
    r = subprocess.run([*CLI, "--board", "esp32-devkitc", "--port", "rfc2217://127.0.0.1:9", "--pool", "2",
                        "--report-dir", str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert r.returncode != 0 and "--pool N needs" in r.stderr and "Traceback" not in r.stderr
