"""Shared fixtures for host-side tests.  Keep generic; group fixtures by topic with clear names."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

# --- virtual boards -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def virtual_board_offline() -> Iterator[object]:
    """A VirtualBoard (virtual-unix) without a network namespace, shared by one test module."""
    from host_harness.boards import load_board
    from host_harness.virtual import VirtualBoard

    with VirtualBoard(load_board("virtual-unix"), network=False, tcp=True) as vb:
        yield vb


@pytest.fixture(scope="module")
def virtual_board_networked() -> Iterator[object]:
    """A VirtualBoard in its own namespace pair (board_ip/host_ip, netns.host_socket)."""
    from host_harness.boards import load_board
    from host_harness.netns import netns_support
    from host_harness.virtual import VirtualBoard

    ok, why = netns_support()
    if not ok:
        pytest.skip(f"network namespaces unavailable: {why}")
    with VirtualBoard(load_board("virtual-unix"), network=True) as vb:
        yield vb


# --- nothing left behind ------------------------------------------------------------------------------


def _leftovers() -> list[str]:
    """What this test session started and did not clean up: namespaces, child processes, live peers."""
    import os
    from pathlib import Path

    from host_harness.netns import ours
    from host_harness.peers import registry

    me = os.getpid()
    found = [f"network namespace {n}" for n in ours(owner_pid=me)]
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(line.split(":\t", 1) for line in status.read_text().splitlines() if ":\t" in line)
        except OSError:
            continue  # exited while we looked
        if fields.get("PPid", "").strip() == str(me) and fields.get("State", "").split()[:1] != ["Z"]:
            found.append(f"child process {status.parent.name} ({fields.get('Name', '?').strip()})")
    found += [f"peer {p!r}" for p in registry.live()]
    from host_harness.virtual import manager

    d = manager.state_dir()  # the files of this session's unnamed virtual boards (t<pid>-<n>: log, flash, .nwp)
    found += [f"state file {p}" for p in d.glob(f"t{me}-*")] if d.is_dir() else []
    return found


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    import time

    deadline = time.monotonic() + 5  # reapers and supervisors get a moment to finish their own cleanup
    left = _leftovers()
    while left and time.monotonic() < deadline:
        time.sleep(0.2)
        left = _leftovers()
    if left:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        message = "usocket-hil: the test session left behind: " + "; ".join(left)
        if reporter is not None:
            reporter.write_line(message, red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
