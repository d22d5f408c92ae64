"""`usocket-hil virtual up` starts its board's supervisor fully detached (host_harness/virtual/manager.py
`launch_detached`): not a child of the command, so the command keeps nothing of it and returns at once, and a
Ctrl-C at any moment of the start ends the command with 130 and leaves nothing running."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from host_harness import cli

CLI = str(Path(sys.executable).with_name("usocket-hil"))


def _sigint_default() -> None:
    # A parent started in the background hands its children SIGINT ignored: the test would pass vacuously.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _supervisors(state_dir: Path) -> list[int]:
    """Live supervisor processes whose command line names this state folder."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            argv = cmdline.read_bytes().split(b"\0")
            stat = (cmdline.parent / "stat").read_text()
        except OSError:
            continue
        if (b"host_harness.virtual.supervisor" in argv and str(state_dir).encode() in argv
                and stat.rsplit(")", 1)[1].split()[0] != "Z"):
            found.append(int(cmdline.parent.name))
    return found


def _ppid(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def test_virtual_up_leaves_no_child_in_the_calling_process(tmp_path: Path, monkeypatch, capsys) -> None:
    """In-process (as the golden-output tests call it): the supervisor is nobody's child here, so there is
    no Popen to keep alive until exit and no zombie for the caller to reap."""
    monkeypatch.setenv("USOCKET_HIL_STATE", str(tmp_path))
    r, w = os.pipe()
    os.set_inheritable(w, True)  # what a caller may hold open (a shell's pipe, a jobserver)
    try:
        assert cli.main(["virtual", "up", "--no-network", "--name", "d1", "--json"]) == 0
    finally:
        os.close(w)
    state = json.loads(capsys.readouterr().out)
    try:
        assert _supervisors(tmp_path) == [state["pid"]]
        assert _ppid(state["pid"]) != os.getpid(), "the supervisor is a child of the `virtual up` caller"
        assert (tmp_path / "d1.pid").read_text().strip() == str(state["pid"])  # recorded as soon as it ran
        os.set_blocking(r, False)
        try:
            eof = os.read(r, 1) == b""  # no writer left: the daemon did not inherit ours
        except BlockingIOError:
            eof = False
        assert eof, "the supervisor holds a descriptor its caller had open"
    finally:
        os.close(r)
        assert cli.main(["virtual", "down", "d1"]) == 0
    assert not _supervisors(tmp_path)
    assert not any(tmp_path.glob("d1.json")) and not any(tmp_path.glob("d1.pid"))


def test_ctrl_c_at_any_moment_of_virtual_up_is_130_and_leaves_nothing(tmp_path: Path) -> None:
    """SIGINT at moments after the command began starting the board (its log file appeared): exit 130 and no
    supervisor, state file or pid file left -- or, when the board was up first, exit 0 and a board that
    `virtual down` stops.  Never a traceback, never a warning about a process still running."""
    outcomes = [_interrupt_up(tmp_path / f"s{i}", after_s) for i, after_s in enumerate(
        (0.0, 0.0, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.4, 0.8))]
    assert 130 in outcomes, f"no round caught `virtual up` while it started: the test proved nothing {outcomes}"


def _interrupt_up(state_dir: Path, after_s: float) -> int:
    state_dir.mkdir()
    env = {**os.environ, "USOCKET_HIL_STATE": str(state_dir), "PYTHONWARNINGS": "always"}
    proc = subprocess.Popen([CLI, "virtual", "up", "--no-network", "--name", "c1"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env, preexec_fn=_sigint_default)
    try:
        deadline = time.monotonic() + 60
        while not (state_dir / "c1.log").exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.001)
        time.sleep(after_s)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
    try:
        assert proc.returncode in (0, 130), (after_s, proc.returncode, err)
        assert "Traceback" not in err and "Warning" not in err, (after_s, err)
        if proc.returncode == 130:
            assert err.strip() == "usocket-hil: interrupted", err
            assert not _supervisors(state_dir), f"a supervisor outlived `virtual up` interrupted after {after_s} s"
            left = sorted(p.name for p in state_dir.iterdir() if p.suffix in (".json", ".tty", ".pid", ".tmp"))
            assert not left, (after_s, left)
        else:
            assert "virtual board 'c1'" in out and len(_supervisors(state_dir)) == 1, (after_s, out)
    finally:
        subprocess.run([CLI, "virtual", "down", "--all"], env=env, capture_output=True, timeout=60)
        for pid in _supervisors(state_dir):
            os.kill(pid, signal.SIGKILL)
    return proc.returncode
