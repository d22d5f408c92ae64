"""Board backends: virtual (VirtualBoard + BoardSession), serial (--port URL), cpython (kind "host")."""

from __future__ import annotations

from pathlib import Path

import pytest

from ...boards import Board
from .base import Backend


def make_backend(config: pytest.Config, board: Board, *, log) -> Backend:
    libs = [Path(p).resolve() for p in config.getoption("--board-lib")]
    port = config.getoption("--port")
    if board.kind == "host":
        from .cpython import CpythonBackend

        return CpythonBackend(board, extra_libs=libs, log=log)
    if port:
        from .serial import SerialBackend

        ssid = config.getoption("--wlan-ssid")
        wlan = (ssid, config.getoption("--wlan-key") or "") if ssid else None
        return SerialBackend(board, url=port, extra_libs=libs, peer_host=config.getoption("--peer-host"),
                             board_ip=config.getoption("--board-ip"), wlan=wlan, log=log)
    from .virtual import VirtualBackend

    return VirtualBackend(board, extra_libs=libs, log=log)


__all__ = ["Backend", "make_backend"]
