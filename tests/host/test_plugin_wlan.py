"""Real-board Wi-Fi bring-up in the plugin's serial path (--wlan-ssid/--wlan-key → the glue's
connect_network), proven against a virtual-esp32 board's pty: its port model is the access point and hands
out the board's namespace address."""

from __future__ import annotations

import pytest

from host_harness.boards import load_board
from host_harness.netns import netns_support
from host_harness.virtual import VirtualBoard

pytest_plugins = ["pytester"]


@pytest.fixture
def esp32_board():
    """A fresh board per test: a station that joined once stays joined."""
    ok, why = netns_support()
    if not ok:
        pytest.skip(f"network namespaces unavailable: {why}")
    with VirtualBoard(load_board("virtual-esp32"), network=True) as vb:
        yield vb


def _run(pytester: pytest.Pytester, vb: VirtualBoard, key: str) -> pytest.RunResult:
    pytester.makepyfile(f"""
        def test_ip(board):
            assert board.ip == {vb.board_ip!r}
            assert board.eval("__import__('network').WLAN(0).isconnected()") is True
        """)
    return pytester.runpytest("-p", "no:cacheprovider", "--board", "virtual-esp32", "--port", vb.port_url,
                              "--peer-host", "127.0.0.1", "--wlan-ssid", "usocket-hil", "--wlan-key", key)


def test_board_joins_wifi_and_reports_its_address(pytester: pytest.Pytester, esp32_board: VirtualBoard) -> None:
    res = _run(pytester, esp32_board, "usocket-hil-key")
    res.assert_outcomes(passed=1)
    log = (pytester.path / "reports/board-logs/session.log").read_text()
    assert f"joined Wi-Fi 'usocket-hil' as {esp32_board.board_ip}" in log


def test_wrong_key_is_one_clear_error(pytester: pytest.Pytester, esp32_board: VirtualBoard) -> None:
    res = _run(pytester, esp32_board, "not-the-key")
    assert res.ret != 0
    res.stdout.fnmatch_lines(["*joining Wi-Fi 'usocket-hil' failed*"])
    assert "Traceback (most recent call last)" not in res.stdout.str().split("joining Wi-Fi")[0][-2000:]
