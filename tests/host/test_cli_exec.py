"""`usocket-hil exec / repl / deploy` as a user runs them: subprocesses, exit codes, one-line errors."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
import tty
from collections.abc import Iterator
from pathlib import Path

import pytest

from host_harness.boards import load_board
from host_harness.virtual import VirtualBoard

CLI = str(Path(sys.executable).with_name("usocket-hil"))



def hil(*args: str, timeout: float = 60, env: dict | None = None, stdin: str | None = None):
    return subprocess.run([CLI, *args], capture_output=True, text=True, timeout=timeout, input=stdin,
                          env={**os.environ, **(env or {})})


def _one_line_error(proc) -> str:
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("usocket-hil: error: ")
    assert "Traceback" not in proc.stderr
    return lines[0]


@pytest.fixture(scope="module")
def vboard() -> Iterator[object]:
    with VirtualBoard(load_board("virtual-unix"), network=False) as vb:
        yield vb


# --- no board needed ---------------------------------------------------------------------------------
def test_help_documents_exit_codes() -> None:
    p = hil("exec", "--help")
    assert p.returncode == 0
    for code in ("0  ok", "1  error", "2  transport", "3  hung", "4  crashed"):
        assert code in p.stdout


def test_exec_nonexistent_port(tmp_path: Path) -> None:
    p = hil("exec", "--port", str(tmp_path / "nope"), "print(1)")
    assert p.returncode == 2
    assert "no such port" in _one_line_error(p)


def test_exec_silent_port(tmp_path: Path) -> None:
    master, slave = pty.openpty()
    tty.setraw(slave)
    try:
        start = time.monotonic()
        p = hil("exec", "--port", os.ttyname(slave), "--open-timeout", "1", "print(1)")
        assert p.returncode == 2
        assert "no raw REPL prompt" in _one_line_error(p)
        assert time.monotonic() - start < 15
    finally:
        os.close(master)
        os.close(slave)


def test_exec_usage_error() -> None:
    p = hil("exec", "print(1)")  # --port missing
    assert p.returncode == 2
    assert "--port" in p.stderr


def test_repl_bad_port(tmp_path: Path) -> None:
    p = hil("repl", "--port", str(tmp_path / "nope"))
    assert p.returncode == 2
    assert "no such port" in _one_line_error(p)


def test_deploy_needs_a_port_or_running_board(tmp_path: Path) -> None:
    p = hil("deploy")
    assert p.returncode == 2 and "--port" in _one_line_error(p)
    p = hil("deploy", "--board", "virtual-unix", env={"USOCKET_HIL_STATE": str(tmp_path)})
    assert p.returncode == 2 and "no running virtual board" in _one_line_error(p)
    p = hil("deploy", "--board", "cpython")
    assert p.returncode == 2 and "host" in _one_line_error(p)
    p = hil("deploy", "--board", "no-such-board", "--port", "/dev/null")
    assert p.returncode == 2 and "unknown board" in _one_line_error(p)


# --- on a virtual board ------------------------------------------------------------------------------
def test_exec_ok(vboard) -> None:
    p = hil("exec", "--port", vboard.port_url, "for i in range(3):\n    print('line', i)")
    assert p.returncode == 0, p.stderr
    assert p.stdout == "line 0\nline 1\nline 2\n"


def test_exec_stdin(vboard) -> None:
    p = hil("exec", "--port", vboard.port_url, "-", stdin="print(sum(range(10)))\n")
    assert (p.returncode, p.stdout) == (0, "45\n")


def test_exec_board_error(vboard) -> None:
    p = hil("exec", "--port", vboard.port_url, "print('partial')\nraise ValueError('nope')")
    assert p.returncode == 1
    assert p.stdout == "partial\n"
    assert "Traceback" in p.stderr and "ValueError: nope" in p.stderr
    last = p.stderr.strip().splitlines()[-1]
    assert last == "usocket-hil: error: board raised ValueError: nope (line 2)"


def test_exec_hung(vboard) -> None:
    p = hil("exec", "--port", vboard.port_url, "--timeout", "1.5", "while True:\n    pass")
    assert p.returncode == 3
    assert "recovered by ctrl-c" in _one_line_error(p)
    assert hil("exec", "--port", vboard.port_url, "print('next')").stdout == "next\n"


def test_exec_crashed(vboard) -> None:
    p = hil("exec", "--port", vboard.port_url, "--timeout", "20",
            "import os\nos.system('kill -9 $PPID')\nimport time\ntime.sleep(30)")
    assert p.returncode == 4, p.stderr
    _one_line_error(p)
    assert hil("exec", "--port", vboard.port_url, "print('next')").stdout == "next\n"


def test_exec_busy(vboard) -> None:
    from host_harness.transport import BoardSession

    with BoardSession(vboard.port_url, open_timeout=10):
        p = hil("exec", "--port", vboard.port_url, "print(1)")
    assert p.returncode == 2
    assert "busy" in _one_line_error(p)


def test_deploy_cli(vboard) -> None:
    p = hil("deploy", "--port", vboard.port_url, "--board", "virtual-unix", "--force")
    assert p.returncode == 0, p.stderr
    assert "copied  /lib/usocket_port/__init__.mpy" in p.stdout
    p = hil("deploy", "--port", vboard.port_url)  # target detected from the board
    assert p.returncode == 0, p.stderr
    assert "detected target unix" in p.stdout and "0 copied" in p.stdout


def test_repl_interactive(vboard) -> None:
    """Drive `repl` through a pty as a user would: type an expression, see the answer, Ctrl-] out."""
    pid, fd = pty.fork()
    if pid == 0:  # child: the CLI with the pty as its terminal
        os.execv(CLI, [CLI, "repl", "--port", vboard.port_url])
    out = b""
    try:
        def read_until(token: bytes, limit: float) -> bool:
            nonlocal out
            end = time.monotonic() + limit
            while token not in out and time.monotonic() < end:
                r, _, _ = select.select([fd], [], [], 0.1)
                if r:
                    try:
                        out += os.read(fd, 4096)
                    except OSError:
                        break
            return token in out

        assert read_until(b"Ctrl-] exits", 15), out
        os.write(fd, b"\r")
        assert read_until(b">>> ", 10), out
        os.write(fd, b"print(6 * 7)\r")
        assert read_until(b"42", 10), out
        os.write(fd, b"\x1d")  # Ctrl-]
        end = time.monotonic() + 10
        status = None
        while time.monotonic() < end:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                break
            read_until(b"\x00never", 0.1)
        assert status is not None and os.waitstatus_to_exitcode(status) == 0, out
    finally:
        try:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass
        os.close(fd)


def test_deploy_to_running_virtual_board_by_name(tmp_path: Path) -> None:
    """`deploy --board NAME` without --port finds a board started by `virtual up` in the state dir."""
    env = {"USOCKET_HIL_STATE": str(tmp_path)}
    up = hil("virtual", "up", "--board", "virtual-unix", "--no-network", "--name", "h3cli", env=env)
    try:
        assert up.returncode == 0, up.stderr
        p = hil("deploy", "--board", "virtual-unix", "--py", env=env)
        assert p.returncode == 0, p.stderr
        assert "copied  /lib/usocket_target.py" in p.stdout
        assert "imported usocket_port, usocket_target" in p.stdout
        assert (tmp_path / "h3cli.flash" / "lib" / "usocket_target.py").exists()
    finally:
        down = hil("virtual", "down", "--all", env=env)
        assert down.returncode == 0, down.stderr
