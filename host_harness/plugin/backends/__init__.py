"""The plugin's board backends: thin over host_harness.board (open_board with the plugin's options)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ...board import RunningBoard, open_board
from ...boards import Board
from .. import layout

Backend = RunningBoard  # what the plugin's fixtures hold


def make_backend(config: pytest.Config, board: Board, *, log, port: str | None = None) -> Backend:
    """The board for this run, not yet started (the plugin starts it on first use and logs the start).
    `port`: a pool board the controller starts (pool.py); an xdist worker of a pool attaches to its slot's
    board, which the controller has deployed already."""
    from .. import pool

    pooled, deployed = pool.worker_port(config) if port is None else (None, False)
    libs = _libs(config)
    ssid = config.getoption("--wlan-ssid")
    firmware = config.getoption("--firmware")
    return open_board(
        board, port or pooled or config.getoption("--port"), deploy=not deployed,
        extras=layout.plugin_extras(libs), verify=layout.VERIFY_MODULES,
        roots=layout.roots(board.target, libs), peer_host=config.getoption("--peer-host"),
        board_ip=config.getoption("--board-ip"), wlan=(ssid, config.getoption("--wlan-key") or "") if ssid
        else None, firmware=Path(firmware) if firmware else None, log=log, start=False,
        flash_log_dir=Path(config.getoption("--board-log-dir")) / "flash")


def deploy_set(config: pytest.Config, board: Board) -> list:
    """The files a make_backend board deploys (its DeployFiles: host_harness.deploy.board_files with the
    plugin's extras), for writing them some other way (a pool's image, pool.py)."""
    from ...deploy import board_files

    return board_files(board, layout.plugin_extras(_libs(config)))


def _libs(config: pytest.Config) -> list[Path]:
    return [Path(p).resolve() for p in config.getoption("--board-lib")]


__all__ = ["Backend", "deploy_set", "make_backend"]
