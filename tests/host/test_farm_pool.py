"""A pool of identical virtual boards for pytest-xdist (plugin/pool.py): the controller brings them up (each
flashed with the deploy set's image before its first boot, hash-checked), workers attach; long tests are spread
over the workers' ranges by recorded durations; nothing is left running, also after Ctrl-C."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from types import SimpleNamespace

from host_harness.board.find import running
from host_harness.board.steps import BRINGUP_FAILED
from host_harness.plugin.pool import case_module, range_sizes, spread
from host_harness.resources import device_tests_dir

TESTS = device_tests_dir()
PYTEST = [sys.executable, "-m", "pytest", str(TESTS), "--rootdir", str(TESTS), "-p", "no:cacheprovider",
          "-p", "no:labgrid"]


def _alive() -> set[str]:
    return {vb.name for vb in running()}


def test_spread_balances_long_tests_over_the_worksteal_ranges():
    seconds = {"a": 5.0, "b": 4.0, "c": 3.0, "d": 1.0, "e": 1.0, "f": 1.0, "g": 0.5, "h": 0.5, "i": 0.1}
    items = [SimpleNamespace(nodeid=n) for n in "ihgfedcba"] + [SimpleNamespace(nodeid="new")]
    ordered = spread(items, seconds, 3)
    assert sorted(i.nodeid for i in ordered) == sorted(i.nodeid for i in items)  # same tests, none lost
    sizes = range_sizes(len(items), 3)
    assert sizes == [3, 3, 4] and sum(sizes) == len(items)  # xdist worksteal: worker k of n gets rest // (n - k)
    ranges, at = [], 0
    for size in sizes:
        ranges.append([i.nodeid for i in ordered[at:at + size]])
        at += size
    assert all(len({"a", "b", "c"} & set(r)) == 1 for r in ranges), ranges  # one long test per worker
    totals = [sum(seconds.get(n, 1.0) for n in r) for r in ranges]  # "new" counts as the median, 1 s
    assert max(totals) - min(totals) <= 1.0, (ranges, totals)
    assert all(r == sorted(r, key=lambda n: -seconds.get(n, 1.0)) for r in ranges)  # longest first
    assert [i.nodeid for i in spread(items, seconds, 3)] == [i.nodeid for i in ordered]  # every worker agrees


def test_spread_keeps_a_case_module_together_where_the_ranges_allow():
    # On a small-heap board every change of case module is a soft reset (tests/device/test_conformance.py
    # _fresh_heap): the spread moves whole modules, so a range changes module about once per module it holds.
    modules = {"api": [0.1] * 7, "timing": [1.4, 1.0, 0.3, 0.1, 0.1], "tls": [2.4, 0.5, 0.1], "udp": [0.3] * 4,
               "stream": [0.1] * 5}
    seconds = {f"t.py::test_case[{m}.c{i}]": s for m, costs in modules.items() for i, s in enumerate(costs)}
    items = [SimpleNamespace(nodeid=n) for n in seconds] + [SimpleNamespace(nodeid="t.py::test_other")]
    assert case_module("t.py::test_case[tls.c0]") == "t.py::test_case[tls"
    assert case_module("t.py::test_other") == "t.py::test_other"
    ordered = spread(items, seconds, 3)
    assert sorted(i.nodeid for i in ordered) == sorted(i.nodeid for i in items)
    ranges, at = [], 0
    for size in range_sizes(len(items), 3):
        ranges.append([i.nodeid for i in ordered[at:at + size]])
        at += size
    runs = sum(1 + sum(case_module(a) != case_module(b) for a, b in zip(r[:-1], r[1:], strict=True)) for r in ranges)
    assert runs <= len(modules) + 1 + (3 - 1), ranges  # each module split at most at a range's end
    starts = {r[0] for r in ranges}
    assert {"t.py::test_case[tls.c0]", "t.py::test_case[timing.c0]"} <= starts, ranges  # longest first
    totals = [sum(seconds.get(n, 0.1) for n in r) for r in ranges]
    assert max(totals) - min(totals) <= 2.0, (ranges, totals)


def test_a_pool_run_brings_the_boards_up_in_the_controller_and_shares_the_suite(tmp_path):
    before = _alive()
    durations = tmp_path / "durations.json"
    # An earlier run's durations say the last test collected is the longest: the workers' order (plugin/pool.py
    # spread, which needs the controller's --dist: xdist sets a worker's own to "no") runs it first, not last.
    last = "test_conformance.py::test_case[udp.udp_timeout]"
    short = ["stream.echo_send_recv", "stream.echo_write_read", "udp.udp_echo", "udp.udp_recvfrom_into"]
    durations.write_text(json.dumps({last: 100.0, **{f"test_conformance.py::test_case[{c}]": 0.1 for c in short}}))
    r = subprocess.run([*PYTEST, "-v", "--board", "virtual-esp32", "-n", "2", "--dist", "worksteal",
                        "-k", "udp or stream", f"--board-log-dir={tmp_path / 'logs'}",
                        f"--board-durations={durations}"], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-2000:]
    assert set(re.findall(r"\[(gw\d)\] .*PASSED", r.stdout)) == {"gw0", "gw1"}, r.stdout[-3000:]
    # per worker, in the order it ran them: the longest is its worker's first (collection order: the last of 11)
    done: dict[str, list[str]] = {}
    for worker, node in re.findall(r"\[(gw\d)\] .*PASSED (\S+)", r.stdout):
        done.setdefault(worker, []).append(node.rsplit("/", 1)[-1])
    assert last in [tests[0] for tests in done.values()], done
    first = (tmp_path / "logs" / "pool-0" / "session.log").read_text()
    other = (tmp_path / "logs" / "pool-1" / "session.log").read_text()
    for log in (first, other):  # every board flashed with the image, its deploy the hash check alone
        assert "flashed with the deploy set's image" in log
        assert re.search(r"deployed: ok .*\(0 copied \(0 bytes\), [1-9]\d* up to date", log), log[-2000:]
    recorded = json.loads(durations.read_text())
    assert len(recorded) >= 5 and all(v >= 0 for v in recorded.values())
    assert any("udp" in k for k in recorded) and recorded[last] < 100.0  # this run's duration replaced it
    assert _alive() == before  # the controller stopped its boards


def test_ctrl_c_while_the_pool_comes_up_stops_every_board(tmp_path):
    before = _alive()
    proc = subprocess.Popen([*PYTEST, "-q", "--board", "virtual-esp32", "-n", "2",
                             f"--board-log-dir={tmp_path / 'logs'}"], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while not (tmp_path / "logs" / "pool-0" / "session.log").exists() and time.monotonic() < deadline:
            time.sleep(0.05)  # board 0 is being brought up
        os.killpg(proc.pid, signal.SIGINT)
        out, _ = proc.communicate(timeout=180)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
    assert proc.returncode != 0, out[-2000:]
    deadline = time.monotonic() + 10  # supervisors finish their own cleanup
    while _alive() != before and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _alive() == before


def test_a_pool_board_that_cannot_come_up_is_one_named_error(tmp_path, monkeypatch):
    monkeypatch.setenv("MICROPYTHON", str(tmp_path / "no-such-micropython"))
    r = subprocess.run([*PYTEST, "-q", "--board", "virtual-esp32", "-n", "2", "-k", "udp_echo",
                        f"--board-log-dir={tmp_path / 'logs'}"], capture_output=True, text=True, timeout=300)
    assert r.returncode == BRINGUP_FAILED, r.stdout[-3000:]
    assert "pool board 0 (virtual-esp32) did not come up" in r.stdout + r.stderr, r.stdout[-3000:]
    assert "Traceback" not in r.stdout + r.stderr
