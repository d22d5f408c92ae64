"""What a farm fault test checks after a `usocket-hil` run it broke: nothing of the run left running or listening,
nothing left locked on the coordinator; and when the run was in the middle of its suite."""

from __future__ import annotations

import re
import subprocess
import time
import uuid
from pathlib import Path

from host_harness.farm.labgrid import client

MARK = "USOCKET_HIL_FAULT_RUN"  # in the environment of a run and so of everything it starts


def run_marker() -> dict[str, str]:
    """Environment for one run: every process it starts inherits the marker, so leftovers can be found."""
    return {MARK: uuid.uuid4().hex}


def _listeners() -> dict[str, str]:
    """{socket inode: local address} of every TCP socket in LISTEN state (this network namespace)."""
    found = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A":
                found[fields[9]] = fields[1]
    return found


def leftovers(marker: dict[str, str]) -> list[str]:
    """Processes that carry the run's marker (so the run or something it started), and what they listen on."""
    want = f"{MARK}={marker[MARK]}".encode()
    listening = _listeners()
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            if want not in (proc / "environ").read_bytes().split(b"\0"):
                continue
            name = (proc / "comm").read_text().strip()
            inodes = {re.sub(r"\D", "", str(fd.readlink())) for fd in (proc / "fd").iterdir()
                      if str(fd.readlink()).startswith("socket:")}
        except OSError:
            continue  # exited while we looked
        ports = [listening[i] for i in inodes if i in listening]
        found.append(f"process {proc.name} ({name})" + (f" listening on {', '.join(ports)}" if ports else ""))
    return found


def wait_gone(marker: dict[str, str], grace: float = 5.0) -> list[str]:
    """leftovers() once they had `grace` seconds to finish (a reaper or a parent-death signal is asynchronous)."""
    deadline = time.monotonic() + grace
    left = leftovers(marker)
    while left and time.monotonic() < deadline:
        time.sleep(0.2)
        left = leftovers(marker)
    return left


def locked(coordinator: str) -> list[str]:
    """Places still acquired and reservations still open on the coordinator."""
    held = client(coordinator, "who").strip().splitlines()[1:]
    reservations = re.findall(r"^Reservation '([^']+)'", client(coordinator, "reservations"), re.M)
    return [f"held: {row.strip()}" for row in held] + [f"reservation {r}" for r in reservations]


def wait_mid_suite(suite_log: Path, run: subprocess.Popen, passed: int = 5, deadline: float = 180) -> None:
    """Until the suite's pytest output (its log: -qq progress characters) shows `passed` tests passed; an
    AssertionError if `run` ends first."""
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if run.poll() is not None:
            raise AssertionError(f"the run ended (exit {run.returncode}) before its suite passed {passed} tests")
        try:
            text = suite_log.read_text(errors="replace")
        except OSError:
            text = ""
        if sum(line.count(".") for line in re.findall(r"^[.sFExX]+", text, re.M)) >= passed:
            return
        time.sleep(0.2)
    raise AssertionError(f"the suite did not pass {passed} tests within {deadline} s: {suite_log}")
