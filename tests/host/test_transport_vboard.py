"""BoardSession outcomes on a real virtual board (the micropython unix interpreter behind a pty)."""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Iterator

import pytest

from host_harness.boards import load_board
from host_harness.errors import TransportError
from host_harness.transport import BoardSession, BoardValueError
from host_harness.virtual import VirtualBoard

# Generous upper bounds: they prove a deadline exists, they do not measure speed.
SLACK = 10.0

IGNORES_CTRL_C = (
    "while True:\n"
    "    try:\n"
    "        while True:\n"
    "            pass\n"
    "    except KeyboardInterrupt:\n"
    "        pass\n"
)


@pytest.fixture(scope="module")
def vboard() -> Iterator[object]:
    with VirtualBoard(load_board("virtual-unix"), network=False) as vb:
        yield vb


@pytest.fixture
def session(vboard) -> Iterator[BoardSession]:
    with BoardSession(vboard.port_url, hard_reset=vboard.hard_reset, open_timeout=10) as s:
        yield s


def test_ok_and_globals_persist(session: BoardSession) -> None:
    r = session.exec("x = 6\nprint(x * 7)")
    assert r.outcome == "ok", r.error
    assert r.text() == "42\n"
    assert session.exec("print(x + 1)").text() == "7\n"


def test_error_traceback_parsed(session: BoardSession) -> None:
    code = "def f():\n    raise ValueError('bad value')\n\nf()\n"
    r = session.exec(code)
    assert r.outcome == "error"
    assert (r.exc_type, r.exc_message, r.board_line) == ("ValueError", "bad value", 2)
    assert 'File "<stdin>", line 4' in r.error
    assert session.exec("print('after')").text() == "after\n"


def test_syntax_error(session: BoardSession) -> None:
    r = session.exec("x = (1,\nprint(x")
    assert r.outcome == "error"
    assert r.exc_type == "SyntaxError"


def test_oserror_names_errno(session: BoardSession) -> None:
    r = session.exec("open('/no/such/file')")
    assert r.outcome == "error"
    # MicroPython prints "[Errno N] NAME" (py/objexcept.c, mp_obj_exception_print): exactly that.
    assert (r.exc_type, r.exc_message) == ("OSError", "[Errno 2] ENOENT")


def test_hung_recovered_by_ctrl_c(session: BoardSession) -> None:
    session.exec("keep = 'kept'")
    start = time.monotonic()
    r = session.exec("print('started')\nwhile True:\n    pass\n", timeout=2)
    took = time.monotonic() - start
    assert r.outcome == "hung"
    assert r.recovered_by == "ctrl-c"
    assert b"started" in r.stdout
    assert took < 2 + SLACK
    # Ctrl-C keeps the interpreter: globals survive.
    assert session.exec("print(keep)").text() == "kept\n"


def test_hung_recovered_by_soft_reset(session: BoardSession) -> None:
    # Ignores Ctrl-C through the whole Ctrl-C step and ends on its own in the middle of the soft-reset step
    # (a board stuck in something uninterruptible for a while): the soft-reset step gets the prompt back.
    timeout, step = 1.5, 2.5
    end_ms = int((timeout + step + 1.0) * 1000)
    code = (
        "import time\n"
        "t0 = time.ticks_ms()\n"
        f"while time.ticks_diff(time.ticks_ms(), t0) < {end_ms}:\n"
        "    try:\n"
        f"        while time.ticks_diff(time.ticks_ms(), t0) < {end_ms}:\n"
        "            pass\n"
        "    except KeyboardInterrupt:\n"
        "        pass\n"
    )
    session.recover_timeout = step
    r = session.exec(code, timeout=timeout)
    assert r.outcome == "hung"
    assert r.recovered_by == "soft-reset"
    assert session.exec("print(1)").ok
    assert session.exec("t0").exc_type == "NameError", "a soft reset starts a fresh VM"


def test_hung_recovered_by_hard_reset(vboard) -> None:
    # Ignores every Ctrl-C: only the hard reset (interpreter restart) gets the board back.
    code = IGNORES_CTRL_C
    with BoardSession(vboard.port_url, hard_reset=vboard.hard_reset, open_timeout=10,
                      recover_timeout=1.5) as s:
        r = s.exec(code, timeout=1.5)
        assert r.outcome == "hung"
        assert r.recovered_by == "hard-reset"
        assert s.exec("print(2 + 2)").text() == "4\n"


def test_hung_without_hard_reset_is_not_recovered_then_hard_reset_helps(vboard) -> None:
    code = IGNORES_CTRL_C
    with BoardSession(vboard.port_url, open_timeout=10, recover_timeout=1.0) as s:
        r = s.exec(code, timeout=1.0)
        assert r.outcome == "hung"
        assert r.recovered_by is None
        assert "NOT recovered" in r.summary()
    vboard.hard_reset()
    with BoardSession(vboard.port_url, open_timeout=10) as s:
        assert s.exec("print('back')").text() == "back\n"


def test_crashed_when_interpreter_dies(session: BoardSession) -> None:
    # The interpreter kills itself mid-run (SIGKILL: no traceback, no EOF markers), as a board that faults.
    r = session.exec("print('before')\nimport os\nos.system('kill -9 $PPID')\nimport time\ntime.sleep(30)\n",
                     timeout=20)
    assert r.outcome == "crashed", r
    assert b"before" in r.stdout
    assert r.recovered_by is not None
    assert session.exec("print('alive')").text() == "alive\n"


def test_eval_and_soft_reset(session: BoardSession) -> None:
    assert session.eval("[1, 'a', b'\\x00\\xff', None, (2, 3), {'k': 1.5}]") == [
        1, "a", b"\x00\xff", None, (2, 3), {"k": 1.5}]
    with pytest.raises(BoardValueError):
        session.eval("object()")
    session.exec("gone = 1")
    session.soft_reset()
    assert session.exec("gone").exc_type == "NameError"


def test_file_round_trip(session: BoardSession) -> None:
    data = os.urandom(5000)
    session.put_file("/h3_blob.bin", data)
    assert session.get_file("/h3_blob.bin") == data
    assert session.sha256("/h3_blob.bin") == hashlib.sha256(data).digest()
    assert session.exists("/h3_blob.bin")
    session.remove("/h3_blob.bin")
    assert session.sha256("/h3_blob.bin") is None
    assert not session.exists("/h3_blob.bin")


def test_large_paste(session: BoardSession) -> None:
    # ~100 KB through raw-paste flow control; mostly comments, so it compiles in the board's 512 KB heap.
    code = "t = 0\n" + ("# " + "p" * 95 + "\nt += 1\n") * 1000 + "print(t)\n"
    assert len(code) > 100_000
    r = session.exec(code, timeout=60)
    assert r.outcome == "ok", r.error
    assert r.text() == "1000\n"


def test_busy_port(vboard, session: BoardSession) -> None:
    with pytest.raises(TransportError, match="busy"):
        BoardSession(vboard.port_url, open_timeout=2)


def test_socket_url() -> None:
    with VirtualBoard(load_board("virtual-unix"), network=False, tcp=True) as vb:
        assert vb.socket_url and vb.socket_url.startswith("socket://")
        with BoardSession(vb.socket_url, open_timeout=10) as s:
            assert s.exec("print(3 * 3)").text() == "9\n"
            r = s.exec("while True:\n    pass\n", timeout=1.5)
            assert (r.outcome, r.recovered_by) == ("hung", "ctrl-c")
            assert s.exec("print('ok')").ok


def test_board_gone_mid_session() -> None:
    vb = VirtualBoard(load_board("virtual-unix"), network=False)
    vb.start()
    try:
        s = BoardSession(vb.port_url, open_timeout=10)
        assert s.exec("print(1)").ok
    finally:
        vb.close()
    start = time.monotonic()
    r = s.exec("print(1)", timeout=3)
    s.close()
    assert r.outcome in ("transport", "crashed")
    assert time.monotonic() - start < 3 + SLACK


def test_output_callback_failure_propagates_and_stops_the_code(session: BoardSession) -> None:
    # A closed output pipe is our problem, not the board's: the exception comes through unchanged (not a
    # "crashed" outcome) and the code on the board is interrupted, so the next exec works.
    def broken(_: bytes) -> None:
        raise BrokenPipeError("reader went away")

    with pytest.raises(BrokenPipeError):
        session.exec("while True:\n    print('spam')\n", timeout=10, on_output=broken)
    r = session.exec("print('next')")
    assert r.text() == "next\n", r
