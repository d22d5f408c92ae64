"""A virtual board with a port model says which firmware it models (sys.platform, os.uname(), docs/fidelity.md
I6) and which board file it is (machine "<board file> with <MCU>"), so tools that read a board's identity --
deploy on a bare port, the suite's and flash's identity lines -- name the real target and the right board file,
and a real board file on a virtual board is refused before anything is written."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from host_harness.board.identify import TargetMismatch, check_target, definition_for
from host_harness.boards import load_board
from host_harness.virtual import VirtualBoard

CLI = str(Path(sys.executable).with_name("usocket-hil"))


def hil(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([CLI, *args], capture_output=True, text=True, timeout=120, env={**os.environ, **env})


@pytest.fixture(scope="module")
def esp32(tmp_path_factory) -> Iterator[VirtualBoard]:
    state = tmp_path_factory.mktemp("state")
    with VirtualBoard("virtual-esp32", network=False, state_dir=state) as vb:
        yield vb


def test_deploy_on_a_bare_port_detects_the_virtual_esp32(esp32: VirtualBoard, tmp_path: Path) -> None:
    env = {"USOCKET_HIL_STATE": str(tmp_path)}  # no state file claims the port: as a board on a real port
    p = hil("deploy", "--port", esp32.port_url, env=env)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "virtual-esp32 at" in p.stdout and "imported usocket_port" in p.stdout, p.stdout
    p = hil("exec", "--port", esp32.port_url, "import os, sys; print(sys.platform, os.uname().machine)", env=env)
    assert p.stdout.split() == ["esp32", "virtual-esp32", "with", "ESP32"], p.stdout + p.stderr


def test_a_real_board_file_on_a_virtual_board_is_refused(esp32: VirtualBoard, tmp_path: Path) -> None:
    env = {"USOCKET_HIL_STATE": str(tmp_path)}
    p = hil("deploy", "--board", "esp32-devkitc", "--port", esp32.port_url, env=env)
    assert p.returncode == 2 and "virtual board virtual-esp32" in p.stderr and "--board virtual-esp32" in p.stderr
    assert "nothing was written" in p.stderr, p.stderr


def test_real_boards_are_identified_as_before() -> None:
    # what a real ESP32_GENERIC / WiPy reports (extmod/modos.c, MICROPY_HW_BOARD_NAME with MICROPY_HW_MCU_NAME)
    assert definition_for("micropython", "esp32", "Generic ESP32 module with ESP32", "p").name == "esp32-devkitc"
    assert definition_for("micropython", "WiPy", "WiPy with CC3200", "p").target == "wipy"
    check_target(load_board("esp32-devkitc"), "micropython", "esp32", "Generic ESP32 module with ESP32", "p")
    with pytest.raises(TargetMismatch, match="pass --board virtual-esp32"):
        check_target(load_board("esp32-devkitc"), "micropython", "esp32", "virtual-esp32 with ESP32", "p")
