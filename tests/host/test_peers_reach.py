"""Before the suite, the board's reach to its host peers is checked once (host_harness/peers/reach.py): a board in
a network namespace whose peers land on this namespace's 127.0.0.1 stops with one line naming the address and
why, instead of a FAIL for every network case.  Two ways a user gets there: ser2net (a TCP port on loopback) in
front of a namespaced virtual board's pty, and `--peer-host 127.0.0.1` for such a board's own pty."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import time

import pytest

from host_harness.peers.reach import PEERS_UNREACHABLE

CLI = [sys.executable, "-m", "host_harness.cli"]
STOPPED_S = 60.0  # bring-up (deploy through ser2net: a few seconds) + the probe's 5 s connect deadline at most
NAMED = re.compile(r"usocket-hil: the board cannot reach its host peers at 127\.0\.0\.1: its TCP connect to "
                   r"127\.0\.0\.1:\d+, where a peer of this host listened, failed with ECONNREFUSED; 127\.0\.0\.1 "
                   r"is the board's own loopback")


@pytest.fixture(scope="module")
def namespaced_board():
    from host_harness.netns import netns_support
    from host_harness.virtual import VirtualBoard

    ok, why = netns_support()
    if not ok:
        pytest.skip(f"network namespaces unavailable: {why}")
    with VirtualBoard("virtual-unix", network=True) as vb:
        assert vb.host_ip and not vb.host_ip.startswith("127.")
        yield vb


@pytest.mark.skipif(shutil.which("ser2net") is None, reason="ser2net is not installed (`make` installs it)")
def test_a_namespaced_board_behind_ser2net_stops_before_the_suite_naming_the_unreachable_address(
        namespaced_board, tmp_path):
    from host_harness.farm.ser2net import Export, Ser2Net, serial_device

    with Ser2Net([Export("b", serial_device(namespaced_board.port_url))]) as s:
        started = time.monotonic()
        r = subprocess.run([*CLI, "test", "--board", "virtual-unix", "--port", s.url("b") + "?ign_set_control",
                            "--report-dir", str(tmp_path / "apart")], capture_output=True, text=True, timeout=300)
        took = time.monotonic() - started
    text = r.stdout + r.stderr
    assert r.returncode == 2, text[-3000:]
    assert len(NAMED.findall(text)) == 1, text[-3000:]
    assert r.stderr.strip().splitlines() == [
        "usocket-hil: no suite ran on virtual-unix: the board cannot reach its host peers (the line above says "
        f"which address and why; log {tmp_path / 'apart' / 'suite-logs' / 'virtual-unix.log'})"], r.stderr
    assert "FAIL" not in r.stdout and "Traceback" not in text, text[-3000:]
    assert took < STOPPED_S, took
    # The next run, on the board's own pty (the harness knows its namespace), passes.
    r = subprocess.run([*CLI, "test", "--board", "virtual-unix", "--port", namespaced_board.port_url, "-k", "udp",
                        "--report-dir", str(tmp_path / "next")], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-2000:]
    assert re.search(r"virtual-unix: [1-9]\d* clauses pass, 0 fail", r.stdout), r.stdout[-2000:]


def test_a_peer_host_override_to_loopback_for_a_namespaced_board_stops_the_plugin_session(namespaced_board,
                                                                                         tmp_path):
    from host_harness.resources import device_tests_dir

    tests = device_tests_dir()
    r = subprocess.run([sys.executable, "-m", "pytest", str(tests), "--rootdir", str(tests), "-p", "no:cacheprovider",
                        "-q", "--board", "virtual-unix", "--port", namespaced_board.port_url, "--peer-host",
                        "127.0.0.1", "-k", "udp", f"--board-log-dir={tmp_path / 'logs'}"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == PEERS_UNREACHABLE, r.stdout[-3000:] + r.stderr[-2000:]
    assert len(NAMED.findall(r.stdout)) == 1, r.stdout[-3000:]
    assert not re.search(r"\d+ failed", r.stdout) and "FAILED" not in r.stdout, r.stdout[-3000:]
