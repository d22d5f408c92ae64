"""The pytest plugin, end to end: inner pytest sessions (pytester) against real boards.

Every path is real: board processes, sockets across a veth, peers, the sync server, JUnit files.
`cpython` (a CPython subprocess in its own namespace pair) is fast and always there; the tests about
what a board does (values, tracebacks, hang, crash, peers, sync, logs) also run on `virtual-unix`
(the MicroPython unix port behind a pty, via BoardSession and deploy), when host_harness.virtual and
network namespaces are available.  Option/marker mechanics run on cpython only.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from host_harness import netns, peers
from host_harness.netns import netns_support

pytest_plugins = ["pytester"]


def _virtual_unavailable() -> str | None:
    ok, why = netns_support()
    return None if ok else f"virtual-unix needs network namespaces: {why}"


@pytest.fixture(params=["cpython", "virtual-unix"])
def board_name(request: pytest.FixtureRequest) -> str:
    if request.param == "virtual-unix" and (why := _virtual_unavailable()):
        pytest.skip(why)
    return request.param

# Device-side helper for the inner tests (MicroPython- and CPython-compatible), deployed via --board-lib.
PROBE = Path(__file__).with_name("test_plugin_probe.py").read_text()


def _children() -> set[int]:
    """Live (or unreaped) child processes of this process."""
    me = str(os.getpid())
    kids = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[1] == me:
            kids.add(int(stat.parent.name))
    return kids


@pytest.fixture(autouse=True)
def _inner_sessions_leave_nothing():
    before = _children()
    yield
    survivors = peers.registry.close_all()
    assert not survivors, f"peers left open by the inner session: {survivors}"
    assert netns.ours(os.getpid()) == [], "network namespaces left by the inner session"
    left = _children() - before
    assert not left, f"processes left by the inner session: {sorted(left)}"


def run(pytester: pytest.Pytester, *args: str, board: str = "cpython") -> pytest.RunResult:
    lib = pytester.path / "lib"
    if not lib.exists():
        lib.mkdir()
        (lib / "hilprobe.py").write_text(PROBE)
    return pytester.runpytest("-p", "no:cacheprovider", "--board", board, "--board-lib", str(lib), *args)


def test_call_exec_eval_run_return_values(pytester: pytest.Pytester, board_name: str) -> None:
    pytester.makepyfile(
        """
        def test_values(board):
            assert board.call("hilprobe", "echo_args", 1, "two", b"\\x00\\xff", (3, [None]), k={"x": True}) \\
                == [1, "two", b"\\x00\\xff", (3, [None]), {"k": {"x": True}}]
            assert board.eval("6 * 7") == 42
            out = board.exec("print('hello')")
            assert out.text == "hello\\n"
            assert board.run("def f(a):\\n    return a * 3\\n", "f", 4) == 12
            assert board.ip and board.host_ip and board.ip != board.host_ip
            assert board.has("network")
        """
    )
    res = run(pytester, board=board_name)
    res.assert_outcomes(passed=1)


def test_board_assertion_shows_board_traceback_with_source_line(pytester: pytest.Pytester,
                                                                board_name: str) -> None:
    pytester.makepyfile(
        """
        def test_fails(board):
            board.call("hilprobe", "check_double", 2)

        def test_next_passes(board):
            # The failure above soft-reset the board: modules imported by the failed test are gone.
            assert board.eval("'hilprobe' in __import__('sys').modules") is False
        """
    )
    res = run(pytester, board=board_name)
    res.assert_outcomes(failed=1, passed=1)
    out = res.stdout.str()
    assert (f"BoardError: hilprobe.check_double() raised on board {board_name}: "
            "AssertionError: doubled is 4") in out
    # The board-side frame names the deployed module (a .py in /lib, or the .mpy's source name) and shows
    # its source line read from the host copy; our call stub's frame is left out.
    res.stdout.re_match_lines([r'.*File "(/lib/)?hilprobe.py", line \d+, in check_double',
                               r".*    assert doubled == 3, .doubled is . \+ str\(doubled\)"])
    assert 'File "<stdin>"' not in out.split("BoardError")[1].split("Captured")[0]


def test_hang_is_recovered_and_next_test_runs(pytester: pytest.Pytester, board_name: str) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.board_timeout(1)
        def test_hangs(board):
            board.exec("print('spinning')\\nwhile True:\\n    pass\\n")

        def test_after(board):
            assert board.eval("1 + 1") == 2
        """
    )
    res = run(pytester, board=board_name)
    res.assert_outcomes(failed=1, passed=1)
    res.stdout.fnmatch_lines([f"*BoardHung: board hung: exec did not finish within 1.0 s on {board_name}*"])


def test_crash_is_reported_as_crash_and_next_test_runs(pytester: pytest.Pytester, board_name: str) -> None:
    pytester.makepyfile(
        """
        CRASH = {
            # CPython: the interpreter exits at once.  MicroPython unix: SIGKILL itself (no traceback, no
            # end-of-output markers), as a board that faults; the sleep is never reached.
            "cpython": "import os\\nprint('going down')\\nos._exit(7)",
            "unix": ("import os\\nprint('going down')\\nos.system('kill -9 $PPID')\\n"
                     "import time\\ntime.sleep(30)"),
        }

        def test_crashes(board):
            board.exec(CRASH[board.target], timeout=20)

        def test_after(board):
            assert board.eval("1 + 1") == 2
        """
    )
    res = run(pytester, board=board_name)
    res.assert_outcomes(failed=1, passed=1)
    out = res.stdout.str()
    assert f"BoardCrashed: board crashed: exec on {board_name}: " in out
    assert "AssertionError" not in out
    assert "going down" in out  # what the board printed before dying is in the report


def test_markers_skip_with_reason(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.board_has("ipv6", "bluetooth")
        def test_needs_bt(board):
            pass

        @pytest.mark.board_target("esp32", "wipy")
        def test_needs_esp(board):
            pass

        @pytest.mark.board_target("cpython")
        @pytest.mark.board_has("network")
        def test_runs(board):
            pass
        """
    )
    res = run(pytester, "-rs")
    res.assert_outcomes(passed=1, skipped=2)
    res.stdout.fnmatch_lines([
        "*board cpython lacks capability 'bluetooth'*",
        "*board cpython has target 'cpython', test needs target esp32 or wipy*",
    ])


def test_reset_marker_and_reset_after_failure(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        def test_set(board):
            board.exec("marker = 1")

        def test_state_kept_without_reset(board):
            assert board.eval("marker") == 1

        @pytest.mark.board_reset
        def test_reset_requested(board):
            assert board.eval("'marker' in globals()") is False
            board.exec("marker = 2")
            assert False, "fail on purpose"

        def test_reset_after_failure(board):
            assert board.eval("'marker' in globals()") is False
        """
    )
    res = run(pytester)
    res.assert_outcomes(passed=3, failed=1)


def test_background_call_busy_and_hard_reset(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        def test_busy(board, sync):
            call = board.start_call("hilprobe", "wait_timeout")
            with pytest.raises(RuntimeError, match="busy with the background call hilprobe.wait_timeout"):
                board.eval("1")
            assert call.result(timeout=10) == "ETIMEDOUT"
            assert board.eval("1") == 1

        @pytest.mark.board_reset(hard=True)
        def test_hard_reset(board):
            assert board.eval("'hilprobe' in __import__('sys').modules") is False
            board.exec("x = 1")
            board.reset(hard=True)
            assert board.eval("'x' in globals()") is False
        """
    )
    res = run(pytester)
    res.assert_outcomes(passed=2)


def test_function_scope_brings_up_per_test(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        def test_a(board):
            board.exec("x = 1")

        def test_b(board):
            assert board.eval("'x' in globals()") is False
        """
    )
    res = run(pytester, "--board-scope", "function")
    res.assert_outcomes(passed=2)
    session_log = (pytester.path / "reports/board-logs/session.log").read_text()
    assert session_log.count("bringing up") == 2


def test_sync_both_ways_with_background_call(pytester: pytest.Pytester, board_name: str) -> None:
    pytester.makepyfile(
        """
        def test_board_server_host_client(board, sync):
            call = board.start_call("hilprobe", "serve_upper", timeout=10)
            port = sync.wait("port", timeout=5)
            with board.host_socket() as c:
                c.settimeout(5)
                c.connect((board.ip, port))
                c.sendall(b"print('SET x = 1') NEXT BROADCAST")  # control-looking text is just data
                assert c.recv(100) == b"PRINT('SET X = 1') NEXT BROADCAST"
            sync.publish("done", {"ok": [1, 2]})
            assert call.result(timeout=10) == {"got": {"ok": [1, 2]}, "late": "second"}
            assert [sync.wait("late", 1), sync.wait("late", 1)] == ["first", "second"]

        def test_wait_timeout(board, sync):
            import pytest
            from host_harness.pytest_plugin import SyncTimeout
            with pytest.raises(SyncTimeout, match="did not publish 'never' within 0.2 s"):
                sync.wait("never", timeout=0.2)
            assert board.call("hilprobe", "wait_timeout") == "ETIMEDOUT"
        """
    )
    res = run(pytester, board=board_name)
    res.assert_outcomes(passed=2)


def test_board_log_file_and_junit_system_out(pytester: pytest.Pytester, board_name: str) -> None:
    pytester.makepyfile(
        """
        def test_prints(board):
            board.exec("print('board says hi \\\\x1b control')")

        def test_fails(board):
            board.exec("print('before the failure')\\nraise ValueError('bad')")
        """
    )
    junit = pytester.path / "junit.xml"
    res = run(pytester, f"--junitxml={junit}", board=board_name)
    res.assert_outcomes(passed=1, failed=1)
    [log] = (pytester.path / "reports/board-logs").glob("*__test_prints.log")
    assert "board says hi" in log.read_text()
    cases = {tc.get("name"): tc for tc in ET.parse(junit).getroot().iter("testcase")}
    out_pass = "".join(e.text or "" for e in cases["test_prints"].iter("system-out"))
    out_fail = "".join(e.text or "" for e in cases["test_fails"].iter("system-out"))
    assert "board says hi" in out_pass
    assert "before the failure" in out_fail and "ValueError: bad" in out_fail
    props = {p.get("name"): p.get("value") for p in cases["test_prints"].iter("property")}
    assert props["board_log"] == str(log)


def test_leftover_listener_fails_the_test(pytester: pytest.Pytester, board_name: str) -> None:
    pytester.makepyfile(
        """
        from host_harness.peers import TcpEcho

        def test_leaks(board):
            TcpEcho(board.host_ip, socket_factory=board.host_socket)

        def test_clean(board, tcp_echo):
            assert tcp_echo.address[0] == board.host_ip
        """
    )
    res = run(pytester, board=board_name)
    res.assert_outcomes(passed=2, errors=1)
    res.stdout.fnmatch_lines(["*ERROR at teardown of test_leaks*",
                              "*usocket-hil: listener(s) still open after the test: <TcpEcho *"])
    assert not peers.registry.live()


FAULT_TESTS = """
import pytest

def test_tcp_echo(board, tcp_echo):
    assert board.call("hilprobe", "echo", *tcp_echo.address, b"ping") == b"ping"
    assert tcp_echo.result(0, timeout=5).bytes_in == 4

def test_udp_echo(board, udp_echo):
    assert board.call("hilprobe", "udp_echo", *udp_echo.address, b"dgram") == b"dgram"

def test_tcp_sink_and_source(board, tcp_sink, tcp_source):
    assert board.call("hilprobe", "flood", *tcp_sink.address, 4096, 5) == ["sent", 4096]
    assert tcp_sink.result(0, timeout=5).bytes_in == 4096
    assert board.call("hilprobe", "count_all", *tcp_source.address) == tcp_source.nbytes

def test_reset_after(board, peer_reset_after):
    peer = peer_reset_after(n=4)
    got, err = board.call("hilprobe", "send_then_read", *peer.address, b"abcd", 3)
    assert got == b"abcd" and err in ("ECONNRESET", "EPIPE")
    assert peer.result(0, timeout=5).note == "sent RST"

def test_half_close(board, peer_half_close):
    peer = peer_half_close(data=b"bye")
    assert board.call("hilprobe", "read_all", *peer.address) == b"bye"
    assert peer.result(0, timeout=5).bytes_in == len(b"after-eof")

def test_slow_reader(board, peer_slow_reader):
    peer = peer_slow_reader(bytes_per_s=1024, rcvbuf=4096)
    err, sent = board.call("hilprobe", "flood", *peer.address, 4 * 1024 * 1024, 1)
    assert err in ("ETIMEDOUT", "EAGAIN") and sent < 4 * 1024 * 1024  # raw MicroPython sockets: EAGAIN

def test_never_accept(board, peer_never_accept):
    assert board.call("hilprobe", "connect_only", *peer_never_accept.address, 1) == "ETIMEDOUT"

def test_tls_good(board, tls_server):
    s = tls_server
    res = board.call("hilprobe", "tls_echo", *s.address, s.ca_der, s.server_hostname, b"tls!")
    assert res == ["ok", b"tls!"]

@pytest.mark.parametrize("fixture", ["tls_wrong_ca", "tls_wrong_host", "tls_expired", "mtls_server"])
def test_tls_refused(board, fixture, request):
    s = request.getfixturevalue(fixture)
    res = board.call("hilprobe", "tls_echo", *s.address, s.ca_der, s.server_hostname, b"x")
    assert res[0] != "ok", res
    assert s.result(0, timeout=5).error.startswith("handshake")
"""


def test_every_peer_fixture_from_the_board(pytester: pytest.Pytester, board_name: str) -> None:
    pytester.makepyfile(FAULT_TESTS)
    res = run(pytester, "-v", board=board_name)
    res.assert_outcomes(passed=12)


def test_serial_backend_on_a_virtual_boards_pty(pytester: pytest.Pytester) -> None:
    """--port: the serial path (BoardSession on a port + deploy), against a running virtual board's pty.

    The board runs without namespaces, so it shares loopback with this host: --peer-host 127.0.0.1.
    """
    from host_harness.boards import load_board
    from host_harness.virtual import VirtualBoard

    pytester.makepyfile(
        """
        import pytest

        def test_call_and_peer(board, tcp_echo):
            assert board.ip == "127.0.0.1" and board.host_ip == "127.0.0.1"
            assert board.call("hilprobe", "echo", *tcp_echo.address, b"over the port") == b"over the port"

        @pytest.mark.board_timeout(1)
        def test_hang(board):
            board.exec("while True:\\n    pass\\n")

        def test_after_hang(board):
            assert board.call("hilprobe", "echo_args", 1) == [1, {}]
        """
    )
    with VirtualBoard(load_board("virtual-unix"), network=False) as vb:
        res = run(pytester, "--port", vb.port_url, "--peer-host", "127.0.0.1", "--board-ip", "127.0.0.1",
                  board="virtual-unix")
    res.assert_outcomes(passed=2, failed=1)
    res.stdout.fnmatch_lines(["*BoardHung: board hung: exec did not finish within 1.0 s on virtual-unix*"
                              "recovered by ctrl-c*"])
    session_log = (pytester.path / "reports/board-logs/session.log").read_text()
    assert f"bringing up virtual-unix on {vb.port_url}" in session_log
    assert "imported usocket_port, hilsync" in session_log


def test_ctrl_c_mid_test_cleans_up(pytester: pytest.Pytester, board_name: str) -> None:
    """SIGINT while the board runs: pytest stops, and the board, its namespaces and peers are gone."""
    started = pytester.path / "started"
    pytester.makepyfile(
        f"""
        from pathlib import Path

        def test_long(board, tcp_echo):
            Path({str(started)!r}).write_text("x")
            board.exec("import time\\ntime.sleep(25)")
        """
    )
    lib = pytester.path / "lib"
    lib.mkdir()
    (lib / "hilprobe.py").write_text(PROBE)
    proc = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--board", board_name,
         "--board-lib", str(lib)],
        cwd=pytester.path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        while not started.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert started.exists(), proc.communicate(timeout=30)[0].decode()[-2000:]
        proc.send_signal(signal.SIGINT)
        out = proc.communicate(timeout=30)[0].decode()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == pytest.ExitCode.INTERRUPTED, out
    assert "KeyboardInterrupt" in out
    assert netns.ours(proc.pid) == []
    # The virtual board's supervisor names its parent; the cpython board process carries its owner's pid.
    leftovers = [p for p in Path("/proc").glob("[0-9]*/cmdline")
                 if f"--parent-pid\0{proc.pid}\0".encode() in _read(p)
                 or f"USOCKET_HIL_OWNER={proc.pid}\0".encode() in _read(p.with_name("environ"))]
    assert not leftovers, f"processes left after Ctrl-C: {leftovers}"


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError:
        return b""


# --- bad input: one clear line, no traceback from our code --------------------------------------------------

def _one_line_error(res: pytest.RunResult, text: str) -> None:
    out = res.stdout.str() + res.stderr.str()
    assert text in out, out
    assert "Traceback" not in out and "host_harness/" not in out, out


def test_unknown_board_name(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_x(board):\n    pass\n")
    res = run(pytester, board="no-such-board")
    assert res.ret == pytest.ExitCode.USAGE_ERROR
    _one_line_error(res, "usocket-hil: unknown board 'no-such-board' (known boards: ")


def test_unreachable_port(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_x(board):\n    pass\n\ndef test_y(board):\n    pass\n")
    # A port that does not exist is refused before any test runs (a port that exists but brings no board
    # up stops the session at its first test: test_board_layer.py, test_pytest_stops_at_the_first_...).
    res = run(pytester, "--port", str(pytester.path / "no-such-tty"), board="virtual-unix")
    assert res.ret == pytest.ExitCode.USAGE_ERROR
    _one_line_error(res, f"usocket-hil: cannot open {pytester.path / 'no-such-tty'}: no such port")


def test_peer_on_board_without_network_is_skipped(pytester: pytest.Pytester) -> None:
    (pytester.path / "offline.toml").write_text(
        '[board]\nname = "offline"\ndescription = "cpython without network"\nkind = "host"\n'
        'target = "cpython"\nrepl = "subprocess"\nmpy_arch = "none"\ncapabilities = ["float"]\n'
    )
    pytester.makepyfile("def test_x(board, tcp_echo):\n    pass\n\ndef test_y(board):\n    pass\n")
    res = run(pytester, "-rs", board=str(pytester.path / "offline.toml"))
    res.assert_outcomes(skipped=1, passed=1)
    res.stdout.fnmatch_lines(["*board offline lacks capability 'network' (needed by fixture tcp_echo)*"])


def test_real_board_peer_needs_peer_host(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_x(board, tcp_echo):\n    pass\n")
    res = run(pytester, "--port", "socket://127.0.0.1:9", board="virtual-unix")  # a real board's address
    assert res.ret == pytest.ExitCode.USAGE_ERROR
    _one_line_error(res, "use host peers, but for board virtual-unix the host address the board reaches is "
                         "unknown: pass --peer-host IP")


def test_bad_timeout_marker(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("import pytest\n\n@pytest.mark.board_timeout('soon')\ndef test_x(board):\n    pass\n")
    res = run(pytester)
    assert res.ret == pytest.ExitCode.USAGE_ERROR
    _one_line_error(res, "board_timeout needs a positive number of seconds, got 'soon'")
