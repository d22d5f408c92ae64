"""The WiPy telnet REPL (wipy://) against the virtual WiPy's telnet server (ports/cc3200/telnet/telnet.c)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import serial
from netrepl_helpers import assert_repl_beside_uart, open_port, read_until, telnet_url, wipy_board

from host_harness.errors import TransportError
from host_harness.transport import BoardSession
from host_harness.transport.urls.network import NetUrl, connect
from host_harness.transport.urls.protocol_wipy import OPTIONS_PASS
from host_harness.virtual.services.telnet import parse_input


@pytest.fixture(scope="module")
def wipy() -> Iterator[object]:
    with wipy_board() as vb:
        yield vb


def test_virtual_up_lists_the_telnet_and_ftp_services(wipy) -> None:
    services = wipy.state()["services"]
    assert set(services) == {"telnet", "ftp"}
    assert services["telnet"].startswith(f"wipy://{wipy.board_ip}:23?netns=uhil-")
    assert services["ftp"].startswith(f"ftp://micro:python@{wipy.board_ip}:21/")


def test_the_serial_repl_works_beside_a_telnet_session(wipy) -> None:
    """cc3200's telnet is beside the UART REPL, not instead of it: output goes to the dupterm'd UART and to
    telnet, input is read from telnet first, then the UART (ports/cc3200/hal/cc3200_hal.c
    mp_hal_stdout_tx_strn / mp_hal_stdin_rx_chr)."""
    with open_port(telnet_url(wipy)) as net, serial.serial_for_url(wipy.port_url, timeout=1) as uart:
        read_until(net, b">>> ")
        assert_repl_beside_uart(net, uart, "telnet")
    with BoardSession(wipy.port_url) as session:  # the serial line is in step afterwards
        assert session.exec("print(3)").text().strip() == "3"


def test_login_welcome_and_friendly_prompt(wipy) -> None:
    with open_port(telnet_url(wipy)) as port:
        assert port.welcome.startswith("MicroPython v") and port.welcome.endswith("; WiPy with CC3200")
        assert b">>> " in read_until(port, b">>> ")  # telnet_reset_buffer(): backspaces and a '\r'
        port.write(b"print(6*7)\r\n")
        assert b"42\r\n" in read_until(port, b"42\r\n")


def test_exec_outcomes_over_telnet_as_over_serial(wipy) -> None:
    with BoardSession(telnet_url(wipy)) as session:
        ok = session.exec("print('x' * 300)")
        assert ok.outcome == "ok" and ok.text().strip() == "x" * 300
        err = session.exec("raise ValueError('bad')")
        assert err.outcome == "error" and err.exc_type == "ValueError" and err.exc_message == "bad"
        hung = session.exec("while True:\n pass", timeout=1.5)
        assert hung.outcome == "hung" and hung.recovered_by == "ctrl-c"
        big = "x = %r\nprint(len(x))" % ("y" * 5000)  # many raw-paste windows through the 256-byte ring
        assert session.exec(big).text().strip() == "5000"


def test_wrong_password_is_one_clear_error_and_the_server_serves_on(wipy) -> None:
    with pytest.raises(serial.SerialException, match="login refused: wrong user or password"):
        serial.serial_for_url(telnet_url(wipy, password="nope"))
    with pytest.raises(TransportError, match="login refused"):
        BoardSession(telnet_url(wipy, user="root"))
    with open_port(telnet_url(wipy)) as port:
        assert port.welcome


def test_three_wrong_logins_end_the_connection(wipy) -> None:
    sock = connect(NetUrl("wipy", wipy.board_ip, 23, {"netns": telnet_url(wipy).split("netns=")[1]}), 5)
    sock.settimeout(5)
    got = b""
    try:
        for attempt in range(1, 4):
            while got.count(b"Login as: ") < attempt:
                got += sock.recv(256)
            sock.sendall(b"micro\r\n")
            # the server drops left-over input after "Password: " and then sends its options: answer after them
            while got.count(b"Password: " + OPTIONS_PASS) < attempt:
                got += sock.recv(256)
            sock.sendall(b"wrong\r\n")
            while got.count(b"Invalid credentials, try again.") < attempt:
                got += sock.recv(256)
        while (chunk := sock.recv(256)):
            got += chunk
    finally:
        sock.close()
    assert got.count(b"Invalid credentials, try again.") == 3
    assert got.count(b"Login as: ") == 3  # no fourth prompt: the connection closed


def test_a_second_client_is_refused_while_one_is_connected(wipy) -> None:
    first = open_port(telnet_url(wipy))
    try:
        with pytest.raises(serial.SerialException, match="connection refused.*one at a time"):
            serial.serial_for_url(telnet_url(wipy))
    finally:
        first.close()
    open_port(telnet_url(wipy)).close()  # the listener is back once the first client left


def test_bytes_the_server_would_drop_are_refused_not_mangled(wipy) -> None:
    assert parse_input(b"a\xffbcd\x00e\x03") == b"ade\x03"  # telnet_parse_input()
    with open_port(telnet_url(wipy)) as port:
        with pytest.raises(serial.SerialException, match=r"byte 0xc3 at offset 7 would be dropped"):
            port.write("print('é')".encode())
    with BoardSession(telnet_url(wipy)) as session:
        assert session.exec("print('\\u00e9' == chr(233))").text().strip() == "True"  # the ASCII spelling


def test_soft_reset_keeps_the_session(wipy) -> None:
    with BoardSession(telnet_url(wipy)) as session:
        session.exec("marker = 1").check()
        session.soft_reset()  # mptask.c: a soft reset closes user sockets only, the servers live on
        assert session.exec("print('marker' in globals())").text().strip() == "False"


def test_a_wlan_event_drops_the_session_and_the_next_test_runs(wipy) -> None:
    with BoardSession(telnet_url(wipy)) as session:
        lost = session.exec("import network\nnetwork.WLAN().disconnect()\nimport time\ntime.sleep(2)", timeout=10)
        assert lost.outcome == "crashed" and "link to the board lost" in lost.error
        assert lost.recovered_by == "reconnect"
        assert session.exec("print(1)").text().strip() == "1"


def test_the_servers_use_the_boards_socket_budget(wipy) -> None:
    code = ("import socket\nL = []\ntry:\n while True:\n  L.append(socket.socket())\nexcept OSError as e:\n"
            " print(len(L), e.args[0])\nfor s in L:\n s.close()")
    with BoardSession(telnet_url(wipy)) as session:
        # telnet's client socket (telnet.c closes its listener while a client is on) + FTP's listener hold
        # 2 of the network processor's SL_MAX_SOCKETS = 8 (docs/fidelity.md)
        assert session.exec(code).text().split() == ["6", "10"]


def test_the_idle_timeout_ends_a_silent_session(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("USOCKET_HIL_SERVERS_TIMEOUT", "5")  # network.Server().timeout(5), the firmware's minimum
    with wipy_board() as vb, open_port(telnet_url(vb)) as port:
        read_until(port, b">>> ")
        start = time.monotonic()
        with pytest.raises(serial.SerialException, match="dropped by the board"):
            while time.monotonic() - start < 15:
                port.read(64)
        assert 4.5 < time.monotonic() - start < 10


def test_a_session_dropped_between_execs_is_reopened_for_the_next(wipy) -> None:
    with BoardSession(telnet_url(wipy)) as session:
        session.exec("import network").check()
        events = (wipy.flash_dir / ".nwp" / "wlan")
        before = events.stat().st_size if events.exists() else 0
        with open(events, "ab") as f:  # what the WLAN model writes on connect/disconnect
            f.write(b"e")
        assert events.stat().st_size == before + 1
        time.sleep(0.5)  # the server drops the session
        r = session.exec("print('after the drop')")
        assert r.outcome == "ok" and r.text().strip() == "after the drop", r.error  # a new login, the code sent again


def test_code_whose_end_went_out_is_never_sent_again(wipy) -> None:
    """The link breaks right after the Ctrl-D that ends the code was written: the board may be running it,
    so the session reports the loss (crashed) and does not send it again -- the code ran once."""
    runs = wipy.flash_dir / "runs.txt"
    runs.unlink(missing_ok=True)
    with BoardSession(telnet_url(wipy)) as session:
        assert session.exec("pass").ok
        real = session.transport.serial.real
        sent = real.write

        def write_then_break(data: bytes) -> int:
            n = sent(data)
            if b"\x04" in data:
                real.write = sent  # only this once
                real.close()  # the link goes as the last byte leaves
                raise serial.SerialException("link cut after the end of the code")
            return n

        real.write = write_then_break
        r = session.exec("f = open('/runs.txt', 'a')\nf.write('x')\nf.close()", 10)
        assert r.outcome == "crashed" and "lost" in r.error, r
        time.sleep(0.5)
        assert session.exec("print(open('/runs.txt').read())", 10).text().strip() == "x"


def test_cli_errors_are_one_line(wipy, capsys: pytest.CaptureFixture[str]) -> None:
    from host_harness import cli

    assert cli.main(["exec", "--port", telnet_url(wipy, password="bad"), "print(1)"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "login refused: wrong user or password" in err
    with open_port(telnet_url(wipy)):
        assert cli.main(["exec", "--port", telnet_url(wipy), "print(1)"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "connection refused" in err and "one at a time" in err
    assert cli.main(["exec", "--port", telnet_url(wipy), "print(1)"]) == 0
    assert capsys.readouterr().out.strip() == "1"


def test_virtual_up_json_lists_the_services(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from netrepl_helpers import require_named_netns

    from host_harness import cli

    require_named_netns()
    monkeypatch.setenv("USOCKET_HIL_STATE", str(tmp_path / "state"))
    assert cli.main(["virtual", "up", "--board", "virtual-wipy", "--name", "netrepl1", "--json"]) == 0
    try:
        state = json.loads(capsys.readouterr().out)
        ip, ns = state["board_ip"], next(n for n in state["netns"] if n.endswith("-h"))
        assert state["services"] == {"telnet": f"wipy://{ip}:23?netns={ns}",
                                     "ftp": f"ftp://micro:python@{ip}:21/?netns={ns}"}
        assert cli.main(["exec", "--port", state["services"]["telnet"], "print(2+3)"]) == 0
        assert capsys.readouterr().out.strip() == "5"
    finally:
        assert cli.main(["virtual", "down", "netrepl1"]) == 0


def test_the_reset_ladder_over_telnet(wipy) -> None:
    """A board reached over telnet resets as the board layer's network kind says: soft keeps the session (the
    cc3200's servers survive it), hard is the virtual board's power cycle and a new login."""
    from host_harness.board import open_board

    with open_board("virtual-wipy", telnet_url(wipy), deploy=False, online=False) as board:
        assert board.exec("x = 1", 10).ok
        assert board.reset("soft", only=True).ok
        assert "NameError" in board.exec("print(x)", 10).error
        hard_before = wipy.state()["hard_resets"]
        outcome = board.reset("hard", only=True)
        assert outcome.ok and "new login" in outcome.detail
        assert wipy.state()["hard_resets"] == hard_before + 1
        assert board.exec("print('back')", 10).text().strip() == "back"
