"""The mock-bootloader runner used by the flash tests and the bench cleans up after itself."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

pytest.importorskip("esp32_mock_bootloader", reason="esp32-mock-bootloader (dev dependency) not installed")

from proc_helpers import alive as _alive  # noqa: E402

from host_harness.flash.mockboot import MockBootloader  # noqa: E402


def test_mock_listens_then_leaves_nothing_behind():
    with MockBootloader("esp32") as mock:
        pid, port, tmp = mock.proc.pid, mock.port, Path(mock._tmp.name)
        assert mock.url == f"socket://127.0.0.1:{port}"
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            pass
        assert tmp.is_dir() and _alive(pid)
    assert not _alive(pid)
    assert not tmp.exists()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()


def test_mock_is_stopped_when_the_block_raises():
    with pytest.raises(RuntimeError, match="boom"):
        with MockBootloader("esp32s3") as mock:
            pid = mock.proc.pid
            raise RuntimeError("boom")
    assert not _alive(pid)
