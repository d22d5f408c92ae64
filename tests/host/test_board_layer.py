"""The running-board layer (host_harness/board/): one open_board for CLI, plugin and bench; bring-up strategy
and reset ladder with recorded step outcomes; a virtual board found behind its port (issue 9, part 1)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from host_harness.board import RESET_RUNGS, StepError, open_board
from host_harness.board.steps import ResetLadder, StepOutcome
from host_harness.errors import HilError
from host_harness.netns import netns_support
from host_harness.virtual import VirtualBoard

pytest_plugins = ["pytester"]
HOST_HARNESS = Path(__file__).parents[2] / "host_harness"


def test_bring_up_runs_its_steps_in_order_and_records_them() -> None:
    lines: list[bytes] = []
    with open_board("virtual-unix", verify=["usocket_port"], log=lines.append) as board:
        assert [o.step for o in board.record] == ["booted", "deployed", "online"]
        assert all(o.ok and o.seconds >= 0 for o in board.record)
        assert board.exec("import usocket_port\nprint('ok')", 10).text() == "ok\n"
        assert board.ladder.names() == ["interrupt", "soft", "hard", "power"]
        worked = board.reset("soft")
        assert worked.step == "soft" and board.record[-1].step == "online"
    assert any(b"deployed: ok" in line for line in lines)


def test_reset_ladder_climbs_until_a_rung_works() -> None:
    tried = []

    def fail(deadline: float) -> str:
        tried.append(deadline)
        raise HilError("no answer")

    ladder = ResetLadder("board x")
    ladder.add("hard", lambda d: "pulsed", 5.0)
    ladder.add("soft", fail, 2.0)
    seen = []
    assert ladder.climb(seen.append, start="soft").step == "hard"
    assert [o.step for o in seen] == ["soft", "hard"] and not seen[0].ok and tried == [2.0]
    with pytest.raises(StepError, match="soft reset: no answer"):
        ladder.climb(seen.append, start="soft", stop="soft")
    with pytest.raises(ValueError):
        ladder.add("kick", fail, 1.0)
    assert RESET_RUNGS == ("interrupt", "soft", "hard", "power")


def _failed(soft: str, hard: str) -> StepError:
    return StepError("x", [StepOutcome("soft", False, soft, 1.0), StepOutcome("hard", False, hard, 1.0)])


def test_a_link_is_gone_when_no_rung_reaches_the_board() -> None:
    silent = "no soft reboot within 10 s (nothing received: is a MicroPython board attached and running?)"
    frozen = "rfc2217://127.0.0.1:4011: cannot pulse DTR/RTS to reset (timeout while waiting for option 'control')"
    closed = "lost rfc2217://127.0.0.1:4011: connection failed (reader thread died)"
    assert _failed(closed, closed).link_gone  # the server is gone
    # a frozen server (trial 5 F24: TCP still open, nothing answers): silent line, no option answered
    assert _failed(silent, frozen).link_gone
    assert not _failed(silent, silent).link_gone  # silence alone: a board that hangs, reached by nothing yet
    assert not _failed("no soft reboot within 10 s (received 40 bytes ...)", frozen).link_gone  # it answers
    assert not StepError("x", [StepOutcome("soft", True, "ok", 0.1)]).link_gone


def test_attached_virtual_board_of_another_target_is_refused_before_writing(tmp_path: Path) -> None:
    with VirtualBoard("virtual-unix", network=False, flash_dir=tmp_path) as vb:
        with pytest.raises(HilError, match="target unix.*nothing was written"):
            open_board("virtual-esp32", vb.port_url)
        assert not (tmp_path / "lib").exists()


def test_nothing_above_the_board_layer_opens_a_port() -> None:
    """CLI commands and the plugin reach boards only through host_harness.board."""
    opened = ("BoardSession", "serial_for_url", "SerialTransport", "VirtualBoard")
    offenders = []
    for path in [HOST_HARNESS / "cli.py", *sorted((HOST_HARNESS / "commands").glob("*.py")),
                 *sorted((HOST_HARNESS / "plugin").rglob("*.py"))]:
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Name | ast.Attribute):
                name = node.id if isinstance(node, ast.Name) else node.attr
                if name in opened:
                    offenders.append(f"{path.relative_to(HOST_HARNESS)}: {name}")
    assert not offenders, offenders


def test_pytest_port_of_a_running_virtual_board_uses_its_namespace(pytester: pytest.Pytester) -> None:
    """`pytest --port <pty of a board from virtual up>` with a peer fixture: no --peer-host needed, the
    peers listen in the board's host-side namespace."""
    ok, why = netns_support()
    if not ok:
        pytest.skip(f"network namespaces unavailable: {why}")
    pytester.makepyfile(
        """
        def test_echo(board, tcp_echo):
            code = (
                "import usocket_port as u\\n"
                "s = u.socket()\\n"
                "s.settimeout(5)\\n"
                "s.connect(u.getaddrinfo(%r, %d)[0][-1])\\n"
                "s.sendall(b'ping')\\n"
                "print(s.recv(4))\\n"
                "s.close()\\n" % tcp_echo.address)
            assert board.exec(code).text == "b'ping'\\n"
        """
    )
    with VirtualBoard("virtual-esp32", network=True, name="lay1") as vb:
        res = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--port", vb.port_url)
        assert res.ret == 0, res.stdout.str()
        res.assert_outcomes(passed=1)


def test_real_board_of_another_target_is_refused_before_writing(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """A port that no running virtual board claims is a real board: what it reports (sys.platform) is
    checked against the board file at the booted step, before the deploy step writes anything."""
    flash = tmp_path / "flash"
    flash.mkdir()
    with VirtualBoard("virtual-unix", network=False, flash_dir=flash) as vb:
        monkeypatch.setenv("USOCKET_HIL_STATE", str(tmp_path / "elsewhere"))  # nobody claims the port
        with pytest.raises(HilError, match=r"booted step.*target unix.*nothing was written"):
            open_board("esp32-devkitc", vb.port_url)
        assert not (flash / "lib").exists()


BOARD_TESTS = """
def test_one(board):
    assert board.exec("print(1)").text == "1\\n"

def test_two(board):
    pass

def test_three(board):
    pass
"""


def test_pytest_stops_at_the_first_bring_up_failure(pytester: pytest.Pytester) -> None:
    """`pytest --port <a port with no board>`: one line for the one cause and exit status 2, not one
    error per test."""
    import socket

    pytester.makepyfile(BOARD_TESTS)
    with socket.socket() as closed:  # bound, never listening: connecting to it is refused
        closed.bind(("127.0.0.1", 0))
        url = f"socket://127.0.0.1:{closed.getsockname()[1]}"
        res = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--board", "esp32-devkitc",
                                            "--port", url, "--peer-host", "127.0.0.1")
    out = res.stdout.str() + res.stderr.str()
    assert res.ret == 2, out
    said = [line for line in out.splitlines() if "did not come up" in line]
    assert len(said) == 1 and "connection refused" in said[0], out
    assert "error" not in res.parseoutcomes() and "failed" not in res.parseoutcomes(), out
    assert "Traceback" not in out


def test_pytest_port_that_does_not_exist_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(BOARD_TESTS)
    res = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--board", "esp32-devkitc",
                                        "--port", "/dev/nonexistent")
    assert res.ret == pytest.ExitCode.USAGE_ERROR
    lines = [line for line in res.stderr.lines if line.strip()]
    assert lines == ["ERROR: usocket-hil: cannot open /dev/nonexistent: no such port (is the board plugged "
                     "in? `usocket-hil boards` lists attached ports and running virtual boards)"], lines
