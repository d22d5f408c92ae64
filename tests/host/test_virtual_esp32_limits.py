"""A socket leak in a test on virtual-esp32 ends in the error the board gives once lwIP's socket limit is hit
(ports/esp32/modsocket.c: socket() retries once after gc_collect(), then OSError(ENFILE 23))."""

from __future__ import annotations

import pytest

from host_harness.netns import netns_support

pytest_plugins = ["pytester"]


def test_leaked_sockets_hit_the_lwip_limit(pytester: pytest.Pytester) -> None:
    ok, why = netns_support()
    if not ok:
        pytest.skip(f"network namespaces unavailable: {why}")
    pytester.makepyfile("""
        def test_leak(board):
            board.exec("import usocket_port as u\\nkeep = [u.socket() for i in range(40)]")

        def test_board_still_usable(board):
            assert board.eval("1 + 1") == 2
        """)
    res = pytester.runpytest("-p", "no:cacheprovider", "--board", "virtual-esp32")
    res.assert_outcomes(passed=1, failed=1)
    res.stdout.fnmatch_lines(["*OSError: 23*"])
