"""Recovery as hardware needs it, and exec outcomes that match what happened (issue 9, part 3).

Each test failed before its fix: garbage on the line left the session "ready" without resynchronising;
a dead supervisor made every later exec fail; machine.reset() returned normally; binary output read as a
board exception, sys.exit(3) as exit 0, a one-line syntax error as "line 2".
"""

from __future__ import annotations

import logging
import os
import random
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from host_harness.board import open_board
from host_harness.transport import BoardSession
from host_harness.virtual import VirtualBoard

CLI = str(Path(sys.executable).with_name("usocket-hil"))


@pytest.fixture(scope="module")
def vboard(virtual_board_offline) -> VirtualBoard:
    return virtual_board_offline


@pytest.fixture
def session(vboard) -> Iterator[BoardSession]:
    with BoardSession(vboard.port_url, hard_reset=vboard.hard_reset, open_timeout=10) as s:
        yield s


def test_random_bytes_on_the_line_then_exec_works(session: BoardSession) -> None:
    rng = random.Random(9)  # seeded: the same noise every run, control bytes (Ctrl-A/B/C/D/E) included
    for _ in range(5):
        noise = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 64)))
        session.transport.serial.real.write(noise)
        r = session.exec("print(6 * 7)", 10)
        assert (r.outcome, r.text()) == ("ok", "42\n"), (noise, r)


def test_stale_board_output_is_drained_before_the_next_exec(session: BoardSession,
                                                             caplog: pytest.LogCaptureFixture) -> None:
    # Output that arrives after an exec has ended (a timer, a late reply) must not be read as the next result,
    # and is dropped before the send (not found out by a failed handshake and a resend).
    caplog.set_level(logging.INFO, logger="host_harness.transport.session")
    r = session.exec("import _thread, time\ndef late():\n time.sleep(0.2)\n print('late')\n"
                     "_thread.start_new_thread(late, ())", 5)
    assert r.ok, r
    import time

    time.sleep(0.5)
    r = session.exec("print('now')", 5)
    assert (r.outcome, r.text()) == ("ok", "now\n"), r
    assert any(" stale bytes before exec" in m for m in caplog.messages), caplog.messages  # b"late\r\n"
    assert not any("send failed" in m for m in caplog.messages), caplog.messages


def test_binary_stdout_is_output(session: BoardSession) -> None:
    r = session.exec("import sys\nsys.stdout.buffer.write(bytes(range(256)))", 10)
    assert r.outcome == "ok", r
    assert r.stdout == bytes(range(256))
    assert session.exec("print('after')", 5).text() == "after\n"


def test_machine_reset_is_reported_as_a_reset(vboard, session: BoardSession) -> None:
    before = vboard.state()["hard_resets"]
    r = session.exec("import machine\nprint('going')\nmachine.reset()", 10)
    assert r.outcome == "crashed" and "board reset" in r.error, r
    assert r.recovered_by == "re-enter"
    assert vboard.state()["hard_resets"] == before + 1  # a power-on boot, not a soft reboot
    assert session.exec("print(1)", 5).text() == "1\n"


def test_machine_reset_is_not_caught_as_system_exit(session: BoardSession) -> None:
    r = session.exec("import machine\ntry:\n machine.reset()\nexcept SystemExit:\n print('caught')", 10)
    assert r.outcome == "crashed" and b"caught" not in r.stdout, r


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([CLI, *args], capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("code, status", [
    ("import sys\nsys.exit(3)", 3), ("import sys\nsys.exit()", 0), ("import sys\nsys.exit(0)", 0),
    ("import sys\nsys.exit('bye')", 1),
])
def test_exec_sys_exit_status(vboard, code: str, status: int) -> None:
    p = cli("exec", "--port", vboard.port_url, code)
    assert p.returncode == status, p.stderr
    assert ("bye" in p.stderr) == (status == 1)


def test_exec_binary_output_exit_0(vboard) -> None:
    p = subprocess.run([CLI, "exec", "--port", vboard.port_url,
                        "import sys; sys.stdout.buffer.write(bytes(range(256)))"], capture_output=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert p.stdout == bytes(range(256)).replace(b"\r\n", b"\n")


@pytest.mark.parametrize("code", ["print(1", "x = (1 +"])
def test_one_line_syntax_error_on_its_own_line(vboard, code: str) -> None:
    p = cli("exec", "--port", vboard.port_url, code)
    assert p.returncode == 1
    assert "line 2" not in p.stderr and "(line 1)" in p.stderr, p.stderr


def test_dead_supervisor_is_restarted_and_said_so() -> None:
    board = open_board("virtual-unix", extras=(), verify=["usocket_port"])
    try:
        vb = board.vb
        os.kill(vb.pid, signal.SIGKILL)
        r = board.exec("print(1)", 10)
        assert r.outcome == "crashed" and r.recovered_by == "power-cycle", r
        assert "supervisor died" in r.error and "restarted" in r.error
        # Every later exec works, and the restarted board has its deployed files again.
        for _ in range(3):
            r = board.exec("import usocket_port\nprint('up')", 10)
            assert (r.outcome, r.text()) == ("ok", "up\n"), r
        assert [o.step for o in board.record if o.step in ("power", "deployed")][-2:] == ["power", "deployed"]
    finally:
        board.close()


def test_plugin_restarts_a_dead_virtual_board_between_tests(pytester: pytest.Pytester) -> None:
    """The supervisor dies after a test: the next tests run on a restarted board instead of all erroring."""
    pytester.makepyfile(
        """
        import os, signal

        def test_kill(board):
            os.kill(board._backend.vb.pid, signal.SIGKILL)
            board._backend.vb._proc.wait(5)

        def test_after_1(board):
            assert board.exec("import usocket_port\\nprint('up')").text == "up\\n"

        def test_after_2(board):
            assert board.exec("print(2)").text == "2\\n"
        """
    )
    res = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--board", "virtual-unix")
    res.assert_outcomes(passed=3)
    log = (pytester.path / "reports/board-logs/session.log").read_text()
    assert "supervisor died (killed by signal 9); restarted it" in log


pytest_plugins = ["pytester"]
