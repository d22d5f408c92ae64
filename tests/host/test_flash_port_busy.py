"""A flash to an RFC2217 port another client holds says "port busy", not pyserial's "Broken pipe"."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import serial

from host_harness.flash import testimage
from host_harness.virtual.esp32_serial.device import VirtualEsp32

CLI = [sys.executable, "-m", "host_harness.cli"]


def test_flash_to_a_held_rfc2217_port_is_port_busy(tmp_path: Path) -> None:
    fw = tmp_path / "fw.bin"
    fw.write_bytes(testimage.build(version="v1.25.0"))
    with VirtualEsp32() as dev:
        holder = serial.serial_for_url(dev.url, timeout=1)  # another client, e.g. an exec or a monitor
        try:
            r = subprocess.run([*CLI, "flash", "--board", "virtual-esp32", "--port", dev.url, str(fw),
                                "--connect-attempts", "1", "--log-dir", str(tmp_path / "logs")],
                               capture_output=True, text=True, timeout=180)
        finally:
            holder.close()
    text = r.stdout + r.stderr
    assert r.returncode == 2, text
    assert "port busy (another client is connected)" in text and "Broken pipe" not in text, text


def test_exec_on_a_held_rfc2217_port_is_port_busy() -> None:
    with VirtualEsp32() as dev:
        holder = serial.serial_for_url(dev.url, timeout=1)
        try:
            r = subprocess.run([*CLI, "exec", "--port", dev.url, "print(1)"], capture_output=True, text=True,
                               timeout=120)
        finally:
            holder.close()
    assert r.returncode == 2, r.stdout + r.stderr
    assert "port busy (another client is connected)" in r.stderr and "Broken pipe" not in r.stderr, r.stderr
    assert r.stderr.count("\n") == 1, r.stderr


@pytest.mark.parametrize(("url", "says"), [
    ("rfc2217://127.0.0.1:1", "connection refused (is the board's server running on that port?)"),
    ("rfc2217://127.0.0.1:99999", "port must be rfc2217://HOST:PORT with PORT 1-65535"),
    ("rfc2217://127.0.0.1:4000?bogus=1", "rfc2217:// takes no option 'bogus'"),
    ("rfc2218://127.0.0.1:4000", "unknown URL scheme rfc2218://"),
])
def test_flash_says_why_a_network_port_would_not_open(tmp_path: Path, url: str, says: str) -> None:
    # (esptool says only "the port is busy or doesn't exist"; trial 5 F8)
    fw = tmp_path / "fw.bin"
    fw.write_bytes(testimage.build(version="v1.25.0"))
    r = subprocess.run([*CLI, "flash", "--board", "virtual-esp32", "--port", url, str(fw), "--connect-attempts",
                        "1", "--log-dir", str(tmp_path / "logs")], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2, r.stdout + r.stderr
    assert says in r.stderr and "busy" not in r.stderr and "Traceback" not in r.stderr, r.stderr
