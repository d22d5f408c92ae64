"""usocket-hil pytest plugin (entry point pytest11 `usocket_hil`): boards, host peers, sync, board logs.

    def test_echo(board, tcp_echo):
        assert board.call("cases.tcp", "echo_once", *tcp_echo.address, b"hi") == b"hi"

Options: --board NAME, --port URL, --board-scope, --peer-host IP, --board-timeout S, --board-log-dir DIR,
--board-lib PATH.  Markers: board_has, board_target, board_reset, board_timeout.  See docs/plugin.md.
The pieces live in host_harness/plugin/; this module only gathers the hooks and fixtures pytest looks for.
"""

from __future__ import annotations

from .plugin.board import BoardHandle, BoardRepr, CallHandle, ExecOutput
from .plugin.fixtures import _hil_backend, board, sync
from .plugin.hooks import (
    pytest_addoption,
    pytest_collection_modifyitems,
    pytest_configure,
    pytest_runtest_makereport,
    pytest_runtest_setup,
    pytest_unconfigure,
)
from .plugin.peers import _hil_peer_pool
from .plugin.peers import fixtures as _peer_fixtures
from .plugin.sync import SyncChannel
from .transport.result import BoardCrashed, BoardError, BoardHung, BoardTransportError, SyncTimeout

# Peer fixtures are generated from one table (plugin/peers.py); pytest finds them as module attributes.
globals().update(_peer_fixtures())

__all__ = [
    "BoardCrashed",
    "BoardError",
    "BoardHandle",
    "BoardHung",
    "BoardRepr",
    "BoardTransportError",
    "CallHandle",
    "ExecOutput",
    "SyncChannel",
    "SyncTimeout",
    "_hil_backend",
    "_hil_peer_pool",
    "board",
    "pytest_addoption",
    "pytest_collection_modifyitems",
    "pytest_configure",
    "pytest_runtest_makereport",
    "pytest_runtest_setup",
    "pytest_unconfigure",
    "sync",
]
