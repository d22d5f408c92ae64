"""The identity step after flashing: pure checks on a reported identity, probe parsing, skip rules, and
reading a live REPL (a virtual board running the real micropython interpreter)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import pytest

from host_harness.boards import load_board
from host_harness.flash.identity import (
    Identity,
    IdentityError,
    check_identity,
    judge,
    parse_probe_output,
    read_identity,
    skip_reason_after_flash,
)
from host_harness.virtual import VirtualBoard

DEVKITC = load_board("esp32-devkitc")
S3 = load_board("esp32s3-devkitc")
CIRCUITPY = load_board("circuitpython-esp32s3")
WIPY3 = load_board("wipy3")

MP_VERSION = "3.4.0; MicroPython v1.24.1 on 2024-11-29"
ESP32_MP = Identity("micropython", MP_VERSION, "Generic ESP32 module with ESP32", "esp32")
S3_MP = Identity("micropython", MP_VERSION, "Generic ESP32S3 module with ESP32S3", "esp32")
S3_CP = Identity("circuitpython", "3.4.0", "Adafruit Feather ESP32S3 4MB Flash 2MB PSRAM with ESP32S3",
                 "Espressif")
PYCOM = Identity("micropython", "3.4.0", "WiPy with ESP32", "esp32")


def test_matching_identities():
    assert check_identity(DEVKITC, ESP32_MP) == []
    assert check_identity(S3, S3_MP) == []
    assert check_identity(CIRCUITPY, S3_CP) == []
    assert check_identity(WIPY3, PYCOM) == []
    assert judge(DEVKITC, ESP32_MP).status == "ok"


def test_mismatches_are_explained():
    problems = check_identity(DEVKITC, S3_MP)
    assert problems == ["machine 'Generic ESP32S3 module with ESP32S3' does not contain 'ESP32 module'"]
    problems = check_identity(CIRCUITPY, S3_MP)
    assert problems == ["sys.implementation.name is 'micropython', expected 'circuitpython'"]
    result = judge(S3, ESP32_MP)
    assert result.status == "mismatch" and "ESP32S3" in result.reason and result.identity == ESP32_MP


def test_probe_output_parsing():
    raw = b"('micropython', '3.4.0; MicroPython v1.24.1', 'Generic ESP32 module with ESP32', 'esp32')\r\n"
    assert parse_probe_output(raw) == Identity("micropython", "3.4.0; MicroPython v1.24.1",
                                               "Generic ESP32 module with ESP32", "esp32")
    for bad in (b"", b"Traceback (most recent call last):", b"(1, 2)", b"('a', 'b', 'c', 4)"):
        with pytest.raises(IdentityError, match="unexpected identity reply"):
            parse_probe_output(bad)


def test_skip_rules_after_flash():
    reason = skip_reason_after_flash("socket://127.0.0.1:9")
    assert reason and "no reset line" in reason and "--identity-only" in reason
    assert skip_reason_after_flash("/dev/ttyUSB0") is None
    assert skip_reason_after_flash("rfc2217://host:4000") is None  # rfc2217 carries DTR/RTS


def test_read_identity_missing_port_is_one_error():
    with pytest.raises(IdentityError, match="could not read the board's identity on /dev/ttyUSB-h5-none"):
        read_identity("/dev/ttyUSB-h5-none", timeout=1.0)


def test_read_identity_silent_port_hits_its_deadline():
    """Something listens but never speaks the REPL (e.g. a board still in download mode)."""
    with socket.create_server(("127.0.0.1", 0)) as silent:
        url = f"socket://127.0.0.1:{silent.getsockname()[1]}"
        start = time.monotonic()
        with pytest.raises(IdentityError):
            read_identity(url, timeout=2.0)
        assert time.monotonic() - start < 30  # generous: bounded, never a hang


@pytest.fixture
def virtual_board(tmp_path, monkeypatch):
    monkeypatch.setenv("USOCKET_HIL_STATE", str(tmp_path / "state"))
    with VirtualBoard(load_board("virtual-unix"), network=False) as vb:
        yield vb


def test_read_identity_from_a_virtual_board(virtual_board):
    board = load_board("virtual-unix")
    identity = read_identity(virtual_board.port_url, timeout=20)
    assert identity.implementation == "micropython"
    assert "MicroPython" in identity.version
    assert judge(board, identity).status == "ok"
    # The same running board is not an ESP32: the check says so.
    assert judge(DEVKITC, identity).status == "mismatch"


def test_flash_identity_only_cli_on_a_virtual_board(virtual_board, tmp_path):
    p = subprocess.run([sys.executable, "-m", "host_harness.cli", "flash", "--board", "virtual-unix",
                        "--identity-only", "--port", virtual_board.port_url,
                        "--log-dir", str(tmp_path / "logs")],
                       capture_output=True, text=True, timeout=60, env=dict(os.environ))
    assert p.returncode == 0, p.stderr
    assert "identity ok: micropython" in p.stdout


def test_flash_identity_only_with_an_image_is_refused(tmp_path):
    fw = tmp_path / "fw.bin"
    fw.write_bytes(b"\xe9" + bytes(255))
    p = subprocess.run([sys.executable, "-m", "host_harness.cli", "flash", "--board", "virtual-esp32",
                        "--identity-only", "--port", "rfc2217://127.0.0.1:1", str(fw)],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 2 and "--identity-only checks what the board runs, not an image" in p.stderr
    assert "Traceback" not in p.stderr and p.stdout == ""
