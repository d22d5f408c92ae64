"""BoardSession against ports that are not boards: each must fail with a one-line TransportError in time.

These need no virtual board: the "ports" are made here (a pty nobody answers on, a pty spewing garbage, a
refused TCP port), because what is under test is our handling of a link that never forms a raw REPL.
"""

from __future__ import annotations

import os
import pty
import socket
import threading
import time
import tty
from collections.abc import Iterator
from pathlib import Path

import pytest

from host_harness.errors import HilError, TransportError
from host_harness.transport import BoardSession, ExecResult, parse_traceback

# Generous: these tests check that a deadline exists, not how fast we are.
SLACK = 3.0


class FakePty:
    """A pty whose master side we control; `path` is a stable symlink to the slave, like a virtual board's."""

    def __init__(self, tmp: Path) -> None:
        self.master, self.slave = pty.openpty()
        tty.setraw(self.slave)
        self.path = str(tmp / "port")
        os.symlink(os.ttyname(self.slave), self.path)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def spew(self, chunk: bytes) -> None:
        """Write `chunk` over and over (until close) — a device talking, but not the raw REPL."""

        def run() -> None:
            end = time.monotonic() + 60  # bounded even if close() is never reached
            while not self._stop.is_set() and time.monotonic() < end:
                try:
                    os.write(self.master, chunk)
                except OSError:
                    return
                # Drain what the host sends so neither side blocks.
                try:
                    os.set_blocking(self.master, False)
                    os.read(self.master, 4096)
                except (BlockingIOError, OSError):
                    pass
                time.sleep(0.005)

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(5)
        for fd in (self.master, self.slave):
            try:
                os.close(fd)
            except OSError:
                pass


@pytest.fixture
def fake_pty(tmp_path: Path) -> Iterator[FakePty]:
    p = FakePty(tmp_path)
    try:
        yield p
    finally:
        p.close()


def _open_error(url: str, open_timeout: float = 2.0) -> tuple[str, float]:
    start = time.monotonic()
    with pytest.raises(TransportError) as info:
        BoardSession(url, open_timeout=open_timeout)
    msg = str(info.value)
    assert "\n" not in msg, "errors are one line"
    return msg, time.monotonic() - start


def test_nonexistent_port(tmp_path: Path) -> None:
    msg, took = _open_error(str(tmp_path / "ttyNOPE"))
    assert "no such port" in msg
    assert took < SLACK


def test_refused_socket() -> None:
    # A port nobody listens on: bind, learn the number, close, then connect.
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    msg, took = _open_error(f"socket://127.0.0.1:{port}")
    assert "refused" in msg.lower()
    assert took < SLACK


def test_unknown_url_scheme() -> None:
    msg, _ = _open_error("nosuch://x")
    assert "nosuch" in msg


def test_silent_port_times_out(fake_pty: FakePty) -> None:
    msg, took = _open_error(fake_pty.path, open_timeout=1.5)
    assert "no raw REPL prompt" in msg and "nothing received" in msg
    assert 1.0 < took < 1.5 + SLACK


def test_silent_port_by_dev_pts_path(fake_pty: FakePty) -> None:
    # mpremote reads /dev/pts/* with no timeout at all; our deadline must still hold.
    msg, took = _open_error(os.ttyname(fake_pty.slave), open_timeout=1.5)
    assert "no raw REPL prompt" in msg
    assert took < 1.5 + SLACK


def test_garbage_port_times_out(fake_pty: FakePty) -> None:
    # Endless bytes (with stray '>' prompts) that never form "raw REPL; CTRL-B to exit": mpremote's
    # per-character timeout would never fire.
    fake_pty.spew(b"\x00\xffnoise>\r\n")
    msg, took = _open_error(fake_pty.path, open_timeout=1.5)
    assert "never formed the prompt" in msg
    assert took < 1.5 + SLACK


def test_busy_port(fake_pty: FakePty) -> None:
    with BoardSession(fake_pty.path, enter_raw=False) as first:
        assert first.is_open
        msg, took = _open_error(fake_pty.path)
        assert "busy" in msg
        assert took < SLACK


def test_closed_session_exec_reports_transport(fake_pty: FakePty) -> None:
    s = BoardSession(fake_pty.path, enter_raw=False, open_timeout=1.0)
    s.close()
    r = s.exec("print(1)", timeout=1.0)
    assert r.outcome == "transport"
    assert "closed" in r.error


def test_errors_are_hil_errors() -> None:
    assert issubclass(TransportError, HilError)
    with pytest.raises(HilError):
        ExecResult("hung", error="no result within 1 s").check()
    with pytest.raises(TransportError):
        ExecResult("transport", error="gone").check()
    assert ExecResult("ok").check().ok


def test_parse_micropython_traceback() -> None:
    tb = parse_traceback(
        'Traceback (most recent call last):\r\n  File "<stdin>", line 5, in <module>\r\n'
        '  File "/lib/usocket_port/__init__.py", line 40, in connect\r\n'
        '  File "<stdin>", line 2, in cb\r\nOSError: [Errno 110] ETIMEDOUT\r\n'
    )
    assert (tb.exc_type, tb.exc_message, tb.board_line) == ("OSError", "[Errno 110] ETIMEDOUT", 2)
    assert (tb.file, tb.line) == ("<stdin>", 2)
    syn = parse_traceback(
        'Traceback (most recent call last):\n  File "<stdin>", line 1\nSyntaxError: invalid syntax\n'
    )
    assert (syn.exc_type, syn.exc_message, syn.board_line) == ("SyntaxError", "invalid syntax", 1)
    bare = parse_traceback("KeyboardInterrupt\n")
    assert (bare.exc_type, bare.exc_message, bare.board_line) == ("KeyboardInterrupt", "", None)


def test_dtr_rts_reset_on_a_pty_is_a_clear_error(fake_pty: FakePty) -> None:
    # A pty has no modem lines: the hard reset must say so, not raise a raw OSError.
    with BoardSession(fake_pty.path, enter_raw=False, hard_reset="dtr-rts") as s:
        with pytest.raises(TransportError, match="DTR/RTS"):
            s.pulse_dtr_rts()
        with pytest.raises(TransportError):
            s.hard_reset(timeout=1.0)
