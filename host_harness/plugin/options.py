"""Command-line options, markers, and collection-time selection by board target and capability."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ..boards import Board, load_board
from ..errors import HilError

DEFAULT_BOARD = "virtual-unix"
DEFAULT_TIMEOUT = 30.0
DEFAULT_LOG_DIR = "reports/board-logs"

MARKERS = (
    "board_has(*capabilities): run only on boards that have every named capability (boards/*.toml)",
    "board_target(*targets): run only on boards whose target is one of these (unix, cpython, esp32, ...)",
    "board_reset(hard=False): reset the board before this test (soft unless hard=True)",
    "board_timeout(seconds): deadline for this test's board work (default --board-timeout, 30 s)",
)


def pytest_addoption(parser: pytest.Parser) -> None:
    g = parser.getgroup("usocket-hil", "usocket-hil boards (hardware in the loop)")
    g.addoption("--board", metavar="NAME", default=None,
                help=f"board definition: boards/NAME.toml or a path to a .toml (default {DEFAULT_BOARD})")
    g.addoption("--port", metavar="URL", default=None,
                help="use the board on this port (/dev/ttyUSB0, rfc2217://h:p, socket://h:p, a pty)")
    g.addoption("--board-scope", choices=("session", "module", "function"), default="session",
                help="how long one board bring-up lasts (default session: bring up and deploy once)")
    g.addoption("--peer-host", metavar="IP", default=None,
                help="real boards: host address the board reaches, where peer fixtures listen")
    g.addoption("--board-ip", metavar="IP", default=None,
                help="real boards: the board's own IP (board.ip), if the board cannot report it")
    g.addoption("--wlan-ssid", metavar="SSID", default=os.environ.get("USOCKET_HIL_WLAN_SSID"),
                help="real boards: join this Wi-Fi network after deploy (usocket_target.connect_network); "
                     "default $USOCKET_HIL_WLAN_SSID")
    g.addoption("--wlan-key", metavar="KEY", default=os.environ.get("USOCKET_HIL_WLAN_KEY"),
                help="the Wi-Fi key for --wlan-ssid (default $USOCKET_HIL_WLAN_KEY)")
    g.addoption("--board-log-dir", metavar="DIR", default=DEFAULT_LOG_DIR,
                help=f"per-test board output logs (default {DEFAULT_LOG_DIR})")
    g.addoption("--board-timeout", metavar="S", type=float, default=DEFAULT_TIMEOUT,
                help=f"per-test deadline for board work in seconds (default {DEFAULT_TIMEOUT:g})")
    g.addoption("--firmware", metavar="FILE", default=None,
                help="real ESP boards: flash this image (esptool) before the bring-up's deploy")
    g.addoption("--board-lib", metavar="PATH", action="append", default=[],
                help="also put this module/folder on the board's /lib (repeatable)")


def register_markers(config: pytest.Config) -> None:
    for m in MARKERS:
        config.addinivalue_line("markers", m)


def board_name(config: pytest.Config) -> str:
    return config.getoption("--board") or DEFAULT_BOARD


def resolve_board(config: pytest.Config) -> Board:
    """The board definition; a bad name is a usage error (one line, no traceback).  Without --board, a
    --port that a running virtual board serves means that board's definition."""
    try:
        port = config.getoption("--port")
        if config.getoption("--board") is None and port:
            from ..board.find import by_port

            running = by_port(port)
            if running is not None:
                return load_board(running.definition)
        return load_board(board_name(config))
    except HilError as exc:
        raise pytest.UsageError(f"usocket-hil: {exc}") from None


def check_options(config: pytest.Config, board: Board) -> None:
    port = config.getoption("--port")
    if port and board.kind == "host":
        raise pytest.UsageError(f"usocket-hil: --port does not apply to board {board.name} "
                                "(it runs on this host)")
    if board.kind == "serial" and not port:
        raise pytest.UsageError(
            f"usocket-hil: board {board.name} is a real board: pass --port URL (e.g. /dev/ttyUSB0 or rfc2217://host:port)"
        )
    if port and board.kind != "host":
        from ..transport.urls import check_url

        try:
            check_url(port)  # a missing device or a malformed URL is one usage line, before any test runs
        except HilError as exc:
            raise pytest.UsageError(f"usocket-hil: {exc}") from None
    check_addresses(config, board)
    timeout = config.getoption("--board-timeout")
    if timeout <= 0:
        raise pytest.UsageError(f"usocket-hil: --board-timeout must be positive, got {timeout:g}")
    for lib in config.getoption("--board-lib"):
        if not Path(lib).exists():
            raise pytest.UsageError(f"usocket-hil: --board-lib {lib} does not exist")


def needs_peer_host(config: pytest.Config, board: Board) -> bool:
    """Real boards (or a board reached via --port) need --peer-host: we cannot guess the host's address --
    except a running virtual board behind the port, whose namespace pair says it."""
    port = config.getoption("--port")
    if port and board.kind != "host":
        from ..board.find import by_port

        running = by_port(port)
        return running is None or not running.host_ip
    return board.kind == "serial"


def peer_host_applies(board: Board, port: str | None) -> bool:
    """--peer-host is used by a board reached through a port (board/__init__.py open_board); a virtual board
    the run starts, or a host board, has its peers where its own network is (board/virtual.py, host.py)."""
    return bool(port) and board.kind != "host"


def check_addresses(config: pytest.Config, board: Board) -> None:
    """--peer-host: numeric, one of this host's (peers bind there), and only where it is used; --board-ip:
    numeric.  One usage line each, before any test."""
    from ..peers.address import check_peer_host, numeric_address

    try:
        if config.getoption("--board-ip"):
            config.option.board_ip = numeric_address(config.getoption("--board-ip"), "--board-ip")
        peer_host = config.getoption("--peer-host")
        # a tag pool's places are boards on ports too (--pool-port, one per worker; plugin/pool.py)
        port = config.getoption("--port") or next(iter(config.getoption("--pool-port", default=[]) or []), None)
        if peer_host and not hasattr(config, "workerinput"):  # an xdist worker: its controller checked it
            config.option.peer_host = check_peer_host(peer_host, port)
            if not peer_host_applies(board, port):
                raise HilError(f"--peer-host is not used with board {board.name}: its peers listen where the "
                               "harness set up its network (drop --peer-host; it is for real boards on --port)")
    except HilError as exc:
        raise pytest.UsageError(f"usocket-hil: {exc}") from None


def marker_skip_reason(item: pytest.Item, board: Board) -> str | None:
    for mark in item.iter_markers("board_target"):
        targets = [str(t) for t in mark.args]
        if board.target not in targets:
            return f"board {board.name} has target '{board.target}', test needs target {' or '.join(targets)}"
    for mark in item.iter_markers("board_has"):
        for cap in mark.args:
            if not board.has(str(cap)):
                return f"board {board.name} lacks capability '{cap}'"
    return None


def test_timeout(item: pytest.Item) -> float:
    mark = item.get_closest_marker("board_timeout")
    if mark is not None:
        value = mark.args[0] if mark.args else mark.kwargs.get("seconds")
        if not isinstance(value, (int, float)) or isinstance(value, bool) or value <= 0:
            raise pytest.UsageError(f"{item.nodeid}: board_timeout needs a positive number of seconds, "
                                    f"got {value!r}")
        return float(value)
    return float(item.config.getoption("--board-timeout"))
