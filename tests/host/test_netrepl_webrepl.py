"""WebREPL (webrepl://) against the virtual ESP32's WebREPL (extmod/modwebrepl.c, micropython-lib webrepl.py)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import serial
from netrepl_helpers import (
    WEBREPL_PASSWORD,
    assert_repl_beside_uart,
    esp32_webrepl_board,
    open_port,
    read_until,
    webrepl_url,
)

from host_harness.netrepl import webrepl_files
from host_harness.netrepl.webrepl_files import WebreplFileError
from host_harness.transport import BoardSession


@pytest.fixture(scope="module")
def esp32(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    with esp32_webrepl_board(tmp_path_factory.mktemp("esp32-flash")) as vb:
        yield vb


def test_virtual_up_lists_the_webrepl_service(esp32) -> None:
    assert esp32.state()["services"] == {
        "webrepl": f"webrepl://{esp32.board_ip}:8266?netns={esp32.netns.host_ns}&password=PASSWORD"}


def test_exec_outcomes_over_webrepl_as_over_serial(esp32) -> None:
    with BoardSession(webrepl_url(esp32)) as session:
        assert session.exec("print(6*7)").text().strip() == "42"
        err = session.exec("raise OSError(5)")
        assert err.outcome == "error" and err.exc_type == "OSError"
        hung = session.exec("while True:\n pass", timeout=1.5)
        assert hung.outcome == "hung" and hung.recovered_by == "ctrl-c"
        raw = session.exec("import sys\nsys.stdout.buffer.write(bytes(range(128, 256)))")
        assert raw.outcome == "ok" and raw.stdout == bytes(range(128, 256))  # not UTF-8: frames read as bytes
        big = "x = %r\nprint(len(x))" % ("z" * 8000)
        assert session.exec(big).text().strip() == "8000"


def test_the_serial_repl_works_beside_a_webrepl_session(esp32) -> None:
    """esp32's WebREPL is an os.dupterm stream (micropython-lib webrepl.py accept_conn): the UART REPL keeps
    working beside it, the board's output going to both and its input taken from either
    (ports/esp32/mphalport.c mp_hal_stdout_tx_strn / mp_hal_stdin_rx_chr; docs/fidelity.md E22)."""
    with open_port(webrepl_url(esp32)) as web, serial.serial_for_url(esp32.port_url, timeout=1) as uart:
        assert_repl_beside_uart(web, uart, "web")
    with open_port(webrepl_url(esp32)) as web:
        # Nobody reads the serial port now: as a UART sends into the void, it does not hold WebREPL back
        # (300 KB, beyond what the line buffers for an unread port).
        web.write(b"for i in range(3000): print('%097d' % i)\r\n\r\n")
        got = read_until(web, b"%097d" % 2999, timeout=60)
        assert b"%097d" % 2999 in got, got[-200:]
    with BoardSession(esp32.port_url) as session:  # the serial line is in step afterwards
        assert session.exec("print(3)").text().strip() == "3"


def test_wrong_password_is_one_clear_error(esp32) -> None:
    with pytest.raises(serial.SerialException, match=r"password refused \(WebREPL: Access denied\)"):
        serial.serial_for_url(webrepl_url(esp32, "wrong"))
    with pytest.raises(serial.SerialException, match="1 to 9 characters"):
        serial.serial_for_url(webrepl_url(esp32, "x" * 10))
    open_port(webrepl_url(esp32)).close()  # and the server serves the next client


def test_a_second_client_is_rejected_while_one_is_connected(esp32) -> None:
    with open_port(webrepl_url(esp32)):
        with pytest.raises(serial.SerialException, match="another WebREPL client connected"):
            serial.serial_for_url(webrepl_url(esp32))


def test_files_put_get_version_and_the_name_limit(esp32) -> None:
    data = bytes(range(256)) * 21 + b"tail"
    with BoardSession(esp32.port_url) as pty:  # the interpreter's own MICROPY_VERSION, for GET_VER
        expected = tuple(pty.eval("tuple(__import__('sys').implementation.version[:3])"))
    with open_port(webrepl_url(esp32)) as port:
        webrepl_files.put(port, "blob.bin", data)
        assert (esp32.flash_dir / "blob.bin").read_bytes() == data
        assert webrepl_files.get(port, "blob.bin") == data
        (esp32.flash_dir / "empty.txt").write_bytes(b"")
        assert webrepl_files.get(port, "empty.txt") == b""
        assert webrepl_files.version(port) == expected
        with pytest.raises(WebreplFileError, match="1 to 64 bytes"):
            webrepl_files.put(port, "d/" + "n" * 63, b"x")
        port.write(b"print('still', 'here')\r\n")  # the REPL stream is intact around file transfers
        assert b"still here" in read_until(port, b"still here")


def test_a_file_the_board_cannot_open_ends_the_session(esp32) -> None:
    with open_port(webrepl_url(esp32)) as port:
        with pytest.raises(WebreplFileError, match="ended the WebREPL session.*no error replies"):
            webrepl_files.get(port, "no/such/file.bin", timeout=5)
    with BoardSession(webrepl_url(esp32)) as session:  # the board itself is fine: a new session works
        assert session.exec("print(1)").text().strip() == "1"


def test_a_soft_reset_ends_the_session_and_boot_py_listens_again(esp32) -> None:
    port = open_port(webrepl_url(esp32))
    try:
        port.write(b"\r\x04")  # Ctrl-D at the friendly prompt: soft reset
        with pytest.raises(serial.SerialException, match="closed by the board"):
            end = time.monotonic() + 10
            while time.monotonic() < end:
                port.read(256)
    finally:
        port.close()
    with BoardSession(webrepl_url(esp32)) as session:  # boot.py ran webrepl.start() again
        assert session.exec("print(2)").text().strip() == "2"


def test_webrepl_start_without_configuration(tmp_path: Path) -> None:
    with esp32_webrepl_board(tmp_path / "flash", configured=False) as vb:
        with BoardSession(vb.port_url) as session:
            r = session.exec("import webrepl\nwebrepl.start()")
            assert "WebREPL is not configured, run 'import webrepl_setup'" in r.text()
            assert r.outcome == "error" and r.exc_type == "TypeError"
            with pytest.raises(serial.SerialException, match="connection refused"):
                serial.serial_for_url(webrepl_url(vb))
            r = session.exec(f"webrepl.start(password={WEBREPL_PASSWORD!r})")
            assert "Started webrepl in manual override mode" in r.text()
            assert f"WebREPL server started on http://{vb.board_ip}:8266/" in r.text()
        open_port(webrepl_url(vb)).close()
