"""Ctrl-C during `usocket-hil test` (trial report items 1 and 6): a terminal's Ctrl-C (SIGINT to the whole
process group) at any moment ends the run with one line "usocket-hil: interrupted" and exit 130, and leaves
no broker, board, namespace, temporary folder or state-dir file behind.  Each test failed before its fix:
--jobs sent the suites SIGTERM, which killed pytest before its teardown (flash folders, logs left); a serial
suite printed pytest's KeyboardInterrupt banner, or a raw traceback while it still imported."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from proc_helpers import alive as _alive

from host_harness.netns import netns_support
from host_harness.netns.named import ours
from host_harness.state import KEPT

CLI = str(Path(sys.executable).with_name("usocket-hil"))


def _board_files(state: Path) -> list[str]:
    """What boards left in the state folder (the peers' keys and the .mpy cache stay for later runs: state.py)."""
    return [n for n in os.listdir(state) if n not in KEPT]


def _sigint_default() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)  # a background parent may hand us SIGINT ignored


def _descendants(root: int) -> dict[int, str]:
    """Every live process below `root` (pid -> command line), through the ppid links in /proc."""
    parents: dict[int, int] = {}
    cmdlines: dict[int, str] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
            cmdlines[int(stat.parent.name)] = (stat.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (OSError, ValueError):
            continue
        parents[int(stat.parent.name)] = int(text.rsplit(")", 1)[1].split()[1])
    found: dict[int, str] = {}
    todo = [root]
    while todo:
        pid = todo.pop()
        for child, parent in parents.items():
            if parent == pid and child not in found:
                found[child] = cmdlines.get(child, "")
                todo.append(child)
    return found


def _start(tmp_path: Path, *args: str) -> tuple[subprocess.Popen, dict[str, str]]:
    state, tmp = tmp_path / "state", tmp_path / "tmp"
    state.mkdir()
    tmp.mkdir()
    env = {**os.environ, "USOCKET_HIL_STATE": str(state), "TMPDIR": str(tmp)}
    proc = subprocess.Popen([CLI, "test", *args, "--report-dir", str(tmp_path / "reports")], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
                            preexec_fn=_sigint_default)
    return proc, {"state": str(state), "tmp": str(tmp)}


def _ctrl_c(proc: subprocess.Popen) -> tuple[str, str]:
    os.killpg(proc.pid, signal.SIGINT)  # what a terminal sends: every process in the foreground group
    try:
        return proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def _assert_interrupted(proc: subprocess.Popen, out: str, err: str) -> None:
    assert proc.returncode == 130, (proc.returncode, out[-2000:], err[-2000:])
    assert err.splitlines()[-1] == "usocket-hil: interrupted", err
    for text in ("Traceback", "KeyboardInterrupt", "site-packages"):
        assert text not in out + err, (text, out[-2000:], err[-2000:])


@pytest.mark.skipif(not netns_support()[0], reason="the app tier's boards need network namespaces")
def test_ctrl_c_with_jobs_while_the_broker_runs_leaves_nothing(tmp_path: Path) -> None:
    proc, dirs = _start(tmp_path, "--board", "virtual-unix", "--board", "virtual-esp32", "--jobs", "2",
                        "-k", "mqtt")
    seen: dict[int, str] = {}
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        seen.update(_descendants(proc.pid))
        if any("mosquitto" in cmd for cmd in seen.values()):
            break
        time.sleep(0.05)
    assert any("mosquitto" in cmd for cmd in seen.values()), "no broker started: the test proved nothing"
    seen.update(_descendants(proc.pid))
    out, err = _ctrl_c(proc)
    _assert_interrupted(proc, out, err)
    time.sleep(0.5)  # a killed process's children are reparented at once; give stragglers a moment
    left = {pid: cmd for pid, cmd in seen.items() if _alive(pid)}
    assert not left, f"left running after Ctrl-C: {left}"
    assert _board_files(dirs["state"]) == [], "state dir not cleaned (tPID-N.flash / .log)"
    assert os.listdir(dirs["tmp"]) == [], "temporary folders left"
    assert [n for pid in seen for n in ours(pid)] == []


@pytest.mark.parametrize("delay", [0.3, 0.7, 1.2, None])
def test_ctrl_c_at_any_moment_of_a_serial_suite_is_one_line(tmp_path: Path, delay: float | None) -> None:
    """From the first second (the pytest child still importing) to mid-suite (None: after the first test
    passed, a board and peers up): one line, exit 130."""
    proc, dirs = _start(tmp_path, "--board", "virtual-unix", "-k", "not app")
    shown = ""
    if delay is None:
        assert proc.stdout is not None
        while (ch := proc.stdout.read(1)) and ch != ".":
            shown += ch
        assert ch == ".", shown
        shown += ch
    else:
        time.sleep(delay)
    seen = _descendants(proc.pid)
    if proc.poll() is not None:
        pytest.fail(f"the run ended before the Ctrl-C: {proc.communicate()}")
    out, err = _ctrl_c(proc)
    out = shown + out
    _assert_interrupted(proc, out, err)
    assert [ln for ln in err.splitlines() if ln.strip()] == ["usocket-hil: interrupted"], err
    time.sleep(0.5)
    assert not [pid for pid in seen if _alive(pid)]
    assert _board_files(dirs["state"]) == []
    log = tmp_path / "reports" / "suite-logs" / "virtual-unix.log"
    assert log.exists()  # what pytest said on the way out is kept there


def test_suite_output_keeps_warnings_and_short_summary_in_the_log_only(tmp_path: Path, capfd) -> None:
    """A real pytest run with a warning and a failure, read as `usocket-hil test` reads a suite: the terminal gets
    the progress and the failure, not the warnings summary or the short test summary (trial item 12); the log
    has everything."""
    from host_harness.commands.suite_output import SuiteOutput

    (tmp_path / "test_x.py").write_text(
        "import warnings\n\n"
        "def test_warns():\n    warnings.warn('setDaemon() is deprecated', DeprecationWarning)\n\n"
        "def test_fails():\n    assert 1 == 2\n")
    proc = subprocess.Popen([sys.executable, "-m", "pytest", "-qq", "-p", "no:cacheprovider", str(tmp_path)],
                            cwd=tmp_path, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    output = SuiteOutput(proc, tmp_path / "log" / "x.log")
    assert proc.wait(60) == 1
    output.close()
    shown = capfd.readouterr().out
    log = (tmp_path / "log" / "x.log").read_text()
    for block in ("warnings summary", "short test summary info", "setDaemon"):
        assert block in log and block not in shown, (block, shown)
    assert shown.startswith(".F") and "assert 1 == 2" in shown, shown
