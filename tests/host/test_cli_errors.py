"""CLI defects found trying usocket-hil as a new user (issue 9): each test failed before its fix.

Run as a user runs the CLI: subprocesses, exit codes, one line on stderr per root cause.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from proc_helpers import interrupted_before_our_code

from host_harness.netns import netns_support

CLI = str(Path(sys.executable).with_name("usocket-hil"))


def hil(*args: str, env: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([CLI, *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})


def sigint_default() -> None:
    """In the child: SIGINT's default action.  A parent started in the background (`make test &`, nohup)
    hands its children SIGINT ignored, and an ignored Ctrl-C would make the Ctrl-C tests pass vacuously."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def one_line(p: subprocess.CompletedProcess) -> str:
    lines = [ln for ln in p.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, p.stderr
    assert "Traceback" not in p.stderr + p.stdout
    return lines[0]


@pytest.fixture(scope="module")
def state(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """A virtual-esp32 board started by `virtual up` (in its own namespace when this machine allows)."""
    d = tmp_path_factory.mktemp("state")
    env = {"USOCKET_HIL_STATE": str(d)}
    args = ["virtual", "up", "--board", "virtual-esp32", "--name", "e1"]
    if not netns_support()[0]:
        args.append("--no-network")
    up = hil(*args, env=env)
    assert up.returncode == 0, up.stderr
    try:
        yield {"env": env, "port": str(d / "e1.tty"), "dir": d}
    finally:
        down = hil("virtual", "down", "--all", env=env)
        assert down.returncode == 0, down.stderr


def test_exec_by_board_name_without_port(state) -> None:
    for name in ("e1", "virtual-esp32"):  # the board id, or the board file of the one running board
        p = hil("exec", "--board", name, "print(6 * 7)", env=state["env"])
        assert (p.returncode, p.stdout) == (0, "42\n"), p.stderr


def test_deploy_detects_target_from_the_virtual_board_file(state) -> None:
    p = hil("deploy", "--port", state["port"], "--py", env=state["env"])
    assert p.returncode == 0, p.stderr
    assert "detected target esp32" in p.stdout and "virtual-esp32" in p.stdout
    glue = (state["dir"] / "e1.flash" / "lib" / "usocket_target.py").read_text()
    assert glue == (Path(__file__).parents[2] / "ports" / "esp32" / "usocket_target.py").read_text()


def test_deploy_wrong_target_writes_nothing(tmp_path: Path) -> None:
    env = {"USOCKET_HIL_STATE": str(tmp_path)}
    up = hil("virtual", "up", "--board", "virtual-unix", "--no-network", "--name", "u1", env=env)
    assert up.returncode == 0, up.stderr
    try:
        p = hil("deploy", "--board", "esp32-devkitc", "--port", str(tmp_path / "u1.tty"), env=env)
        assert p.returncode == 2
        line = one_line(p)
        assert "target unix" in line and "nothing was written" in line and "--board virtual-unix" in line
        assert not (tmp_path / "u1.flash" / "lib").exists()
    finally:
        hil("virtual", "down", "--all", env=env)


@pytest.mark.parametrize("port, says", [
    ("/dev/nonexistent", "no such port"),
    ("socket://bad", "socket://HOST:PORT"),
    ("socket://127.0.0.1:1", "connection refused"),
    ("/dev/null", "not a serial port"),
])
def test_test_command_one_cause_one_line(port: str, says: str, tmp_path: Path) -> None:
    p = hil("test", "--board", "esp32-devkitc", "--port", port, "--report-dir", str(tmp_path))
    assert p.returncode == 2
    assert says in one_line(p)
    assert p.stdout == ""  # no suite started, no table of FAIL rows
    assert "not supported between" not in p.stderr


def test_test_command_board_that_never_comes_up_is_one_cause(tmp_path: Path) -> None:
    """A virtual board whose interpreter never answers: the suite stops at its bring-up (one line from the
    plugin, one from the command), exit 2, no table of untested clauses."""
    p = hil("test", "--board", "virtual-unix", "--report-dir", str(tmp_path), env={"MICROPYTHON": "/bin/false"},
            timeout=300)
    assert p.returncode == 2, p.stdout + p.stderr
    said = [line for line in p.stdout.splitlines() if "did not come up" in line]
    assert len(said) == 1 and "virtual-unix" in said[0], p.stdout
    assert "no suite ran on virtual-unix" in one_line(p)
    assert "| clause" not in p.stdout and "untested" not in p.stdout, p.stdout


def test_exec_pyserial_internals_do_not_leak() -> None:
    p = hil("exec", "--port", "socket://bad", "1")
    assert p.returncode == 2
    line = one_line(p)
    assert "'<=' not supported" not in line and "socket://HOST:PORT" in line


@pytest.mark.parametrize("args", [
    ("exec", "--port", "/dev/null", "--timeout", "-1", "1"),
    ("exec", "--port", "/dev/null", "--open-timeout", "-5", "1"),
    ("exec", "--port", "/dev/null", "--timeout", "nan", "1"),
    ("deploy", "--port", "/dev/null", "--open-timeout", "-1"),
    ("repl", "--port", "/dev/null", "--open-timeout", "-1"),
    ("virtual", "up", "--timeout", "-3"),
    ("virtual", "up", "--timeout", "0"),
    ("flash", "--board", "esp32-devkitc", "--connect-attempts", "0", "x.bin"),
])
def test_numeric_options_are_validated(args: tuple[str, ...]) -> None:
    p = hil(*args)
    assert p.returncode == 2
    assert "must be" in p.stderr and "Traceback" not in p.stderr


def test_flash_dir_file_or_missing_is_one_line(tmp_path: Path) -> None:
    env = {"USOCKET_HIL_STATE": str(tmp_path / "state")}
    f = tmp_path / "afile"
    f.write_text("x")
    p = hil("virtual", "up", "--no-network", "--flash-dir", str(f), env=env)
    assert p.returncode == 2 and "is a file" in one_line(p)
    p = hil("virtual", "up", "--no-network", "--flash-dir", str(tmp_path / "missing" / "x"), env=env)
    assert p.returncode == 2 and "does not exist" in one_line(p)
    assert not (tmp_path / "missing").exists()  # nothing created silently


def test_help_lists_exit_codes_environment_and_describes_virtual() -> None:
    p = hil("--help")
    assert p.returncode == 0
    for text in ("exit codes", "130", "USOCKET_HIL_STATE", "MICROPYTHON", "USOCKET_HIL_NETNS"):
        assert text in p.stdout
    for action in ("up", "down", "list"):
        h = hil("virtual", action, "--help")
        assert h.returncode == 0
        described = h.stdout.split("\n\n")[1]
        assert not described.startswith(("positional", "options")), h.stdout


def test_ctrl_c_at_start_up_is_exit_130_without_traceback() -> None:
    """SIGINT within the first tens of milliseconds (while our modules import): 130, no traceback.

    A SIGINT that lands before any code of ours runs (CPython's `site` import, or the console script pip
    generated importing our entry module: tens of ms on a loaded machine) proves nothing either way and is
    passed over, like one where the command finished first (proc_helpers.interrupted_before_our_code)."""
    interrupted = 0
    for delay in (0.04, 0.05, 0.06, 0.08, 0.1, 0.15, 0.2, 0.3):
        proc = subprocess.Popen([CLI, "boards"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                preexec_fn=sigint_default)
        time.sleep(delay)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
        if proc.returncode == 0:
            continue  # it finished first
        if interrupted_before_our_code(proc.returncode, err):
            continue  # CPython's start-up or the console script's import of ours: not our code
        assert proc.returncode in (130, -signal.SIGINT), (delay, proc.returncode, err)
        assert "Traceback" not in err, (delay, err)
        interrupted += proc.returncode == 130
    assert interrupted, "no delay caught the CLI while it started: the test proved nothing"


def test_ctrl_c_while_exiting_keeps_the_exit_status(tmp_path: Path) -> None:
    """Ctrl-C just after `virtual up` printed its last line (the command is returning, Python shutting down):
    the status decided stands (0, or 130 if the Ctrl-C still caught the command), never death by SIGINT."""
    env = {**os.environ, "USOCKET_HIL_STATE": str(tmp_path)}
    try:
        for _ in range(5):  # the window is tens of ms: before the fix most rounds of five hit it
            proc = subprocess.Popen([CLI, "virtual", "up", "--no-network"], stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True, env=env, preexec_fn=sigint_default)
            for line in proc.stdout:
                if line.lstrip().startswith("stop:"):  # the last line it prints
                    break
            proc.send_signal(signal.SIGINT)
            out, err = proc.communicate(timeout=30)
            assert proc.returncode in (0, 130), (proc.returncode, err)
            assert "Traceback" not in err, err
    finally:
        hil("virtual", "down", "--all", env={"USOCKET_HIL_STATE": str(tmp_path)})


def test_virtual_list_columns_align(state) -> None:
    p = hil("virtual", "list", env=state["env"])
    head, row = p.stdout.splitlines()[:2]
    # Every cell starts where its heading does: a space before it, not a space at it.
    for col in ("BOARD ", "STATUS", "CRASHES", "BOARD IP", "PORT"):
        at = head.index(col)
        assert row[at - 1] == " " and row[at] != " ", p.stdout


def test_test_command_prints_no_pytest_command_line_and_one_count(tmp_path: Path) -> None:
    """Exactly: the board heading, pytest's progress dots, the clause table, one count line (the clauses',
    agreeing with the table), where the report is -- no pytest command line, no "N passed" test count."""
    p = hil("test", "--board", "cpython", "-k", "getaddrinfo", "--report-dir", str(tmp_path), timeout=300)
    assert p.returncode == 0, p.stderr
    table = (tmp_path / "conformance.md").read_text()
    rows = [line.rsplit("|", 2)[1].strip() for line in table.splitlines()[2:]]
    counts = (f"cpython: {rows.count('pass')} clauses pass, 0 fail, 0 not on this target, "
              f"{rows.count('untested')} untested")
    assert rows.count("pass") > 0 and len(rows) == rows.count("pass") + rows.count("untested"), table
    progress = p.stdout.splitlines()[1]
    assert re.fullmatch(r"\.+ +\[100%\]", progress), p.stdout
    assert p.stdout == (f"== cpython\n{progress}\n\n{table}\n{counts}\n"
                        f"report: {tmp_path}/conformance.md; JUnit: {tmp_path}/junit-<board>.xml; "
                        f"pytest output: {tmp_path}/suite-logs/<board>.log\n")


def test_test_command_never_reports_the_previous_run(tmp_path: Path) -> None:
    """A suite that ends before writing results (here: pytest refuses its command line) shows its clauses untested,
    not the results an earlier run left in the same report folder."""
    first = hil("test", "--board", "cpython", "-k", "getaddrinfo", "--report-dir", str(tmp_path), timeout=300)
    assert first.returncode == 0 and "cpython: 0 clauses pass" not in first.stdout, first.stdout
    again = hil("test", "--board", "cpython", "-k", "getaddrinfo", "--report-dir", str(tmp_path), timeout=300,
                env={"PYTEST_ADDOPTS": "--no-such-option"})  # pytest stops at its command line
    assert again.returncode == 1, again.stdout + again.stderr
    assert "\ncpython: 0 clauses pass, 0 fail, 0 not on this target, " in again.stdout, again.stdout


def test_test_command_runs_on_a_running_virtual_board_by_id(state, tmp_path: Path) -> None:
    """`test --board e1` (the id `virtual up` printed): the suite runs on that board, no board of its own."""
    p = hil("test", "--board", "e1", "-k", "getaddrinfo", "--report-dir", str(tmp_path), env=state["env"],
            timeout=300)
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith("== e1 (virtual-esp32)\n") and "\ne1: " in p.stdout, p.stdout
    log = (tmp_path / "board-logs" / "e1" / "session.log").read_text()
    assert f"bringing up virtual-esp32 on {state['port']}" in log, log


def test_ctrl_c_mid_exec_is_130_and_the_board_stays_usable(state) -> None:
    proc = subprocess.Popen([CLI, "exec", "--board", "e1", "print('spin')\nwhile True:\n    pass"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, **state["env"]}, preexec_fn=sigint_default)
    assert proc.stdout.readline() == "spin\n"
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130 and err.strip() == "usocket-hil: interrupted", err
    p = hil("exec", "--board", "e1", "print('still here')", env=state["env"])
    assert (p.returncode, p.stdout) == (0, "still here\n"), p.stderr


def test_flash_identity_only_summary_says_it_once() -> None:
    from types import SimpleNamespace

    from host_harness.flash.summary import summary_line

    r = SimpleNamespace(board="b", port="p", error=None, outcome="checked", attempts=[], duration=0.1, bytes_written=0,
                        log_path="l", identity={"status": "error", "reason": "no REPL"})
    line = summary_line(r)
    assert "identity checked" not in line and "identity error: no REPL" in line
    assert line == "b p: identity error: no REPL [0.1 s, log: l]"  # the identity outcome, once, nothing else
