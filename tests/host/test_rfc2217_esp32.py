"""The virtual ESP32 on one RFC2217 port: boot chain, auto-reset circuit, flash → boot → identity → test."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import serial

from host_harness.flash import testimage
from host_harness.flash.appimage import firmware_app_desc
from host_harness.flash.bootcheck import judge, same_version
from host_harness.virtual.esp32_serial import bootchain

CLI = [sys.executable, "-m", "host_harness.cli"]


def _flash_with(image: bytes):
    flash = bytearray(b"\xff" * 0x400000)
    flash[0x1000:0x1000 + len(image)] = image
    return lambda addr, n: bytes(flash[addr:addr + n])


# --- the test image and the boot chain, offline ---------------------------------------------------------


def test_test_image_carries_the_chosen_app_descriptor_and_parses_with_esptool():
    from esptool.bin_image import LoadFirmwareImage

    data = testimage.build("micropython", "v1.23.0", date="Jun  2 2024")
    desc = firmware_app_desc(data, testimage.FIRMWARE_OFFSET)
    assert desc is not None and (desc.project_name, desc.version, desc.date) == ("micropython", "v1.23.0",
                                                                                  "Jun  2 2024")
    app = LoadFirmwareImage("esp32", data[testimage.APP_OFFSET - testimage.FIRMWARE_OFFSET:])
    assert app.stored_digest == app.calc_digest
    with pytest.raises(ValueError, match="does not fit"):
        testimage.build(version="v" * 40)


def test_boot_of_a_good_image_prints_rom_bootloader_and_app_lines():
    boot = bootchain.plan(_flash_with(testimage.build(version="v1.23.0")), download=False)
    assert boot.outcome == "app" and boot.app.version == "v1.23.0"
    assert "rst:0x1 (POWERON_RESET),boot:0x13 (SPI_FAST_FLASH_BOOT)\r\n" in boot.text
    assert re.search(r"load:0x3fff0030,len:\d+\r\n", boot.text)
    assert "boot: Loaded app from partition at offset 0x10000" in boot.text
    assert "App version:      v1.23.0" in boot.text
    quiet = bootchain.plan(_flash_with(testimage.build()), download=False, log_level="warn")
    assert "I (" not in quiet.text and "entry 0x400805b8" in quiet.text  # MicroPython's WARN level


def test_boot_of_erased_flash_is_the_rom_invalid_header_loop():
    boot = bootchain.plan(_flash_with(b""), download=False)
    assert boot.outcome == "reset" and boot.next_reason == bootchain.RTCWDT_RTC_RESET
    assert boot.text.count("invalid header: 0xffffffff") == bootchain.INVALID_HEADER_LINES


@pytest.mark.parametrize("corrupt, error", [("app", "esp_image: Checksum failed"),
                                            ("partition-table", "flash_parts: partition 0 invalid magic")])
def test_boot_of_a_corrupt_image_resets_from_the_bootloader(corrupt, error):
    boot = bootchain.plan(_flash_with(testimage.build(corrupt=corrupt)), download=False)
    assert boot.outcome == "reset" and boot.next_reason == bootchain.SW_RESET
    assert error in boot.text


def test_download_boot_text_is_what_esptool_looks_for():
    text = bootchain.plan(_flash_with(b""), download=True).text.encode()
    # esptool/loader.py _connect_attempt's pattern for "the chip is in download mode"
    found = re.search(b"boot:(0x[0-9a-fA-F]+)(.*waiting for download)?", text, re.DOTALL)
    assert found and found.group(1) == b"0x3" and found.group(2)


def test_boot_verdicts():
    want = firmware_app_desc(testimage.build(version="v1.24.1"), 0x1000)
    rom = b"ets Jul 29 2019 12:21:46\r\n\r\nrst:0x1 (POWERON_RESET),boot:0x13 (SPI_FAST_FLASH_BOOT)\r\n"
    banner = b"MicroPython v1.24.1 on 2024-11-29; Generic ESP32 module with ESP32\r\n"
    assert judge(rom + banner, want, final=False).status == "booted"
    other = judge(rom + banner.replace(b"v1.24.1", b"v1.20.0"), want, final=False)
    assert other.status == "mismatch" and "v1.20.0" in other.reason and "v1.24.1" in other.reason
    loop = bootchain.plan(_flash_with(b""), download=False).text.encode()
    verdict = judge(loop + loop.replace(b"0x1 (POWERON_RESET)", b"0x10 (RTCWDT_RTC_RESET)"), want, final=False)
    assert verdict.status == "not-booting" and "invalid header: 0xffffffff" in verdict.reason
    assert judge(rom, want, final=False) is None  # still open
    assert judge(rom, want, final=True).status == "unknown"
    assert same_version("v1.24.1", "v1.24.1-dirty") and not same_version("v1.24", "v1.24.1")


# --- the auto-reset circuit, driven as esptool drives it ------------------------------------------------


class _Capture:
    def __init__(self) -> None:
        self.data = bytearray()
        self.lock = threading.Lock()

    def __call__(self, data: bytes) -> None:
        with self.lock:
            self.data += data

    def wait_for(self, needle: bytes, timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if needle in self.data:
                    return True
            time.sleep(0.02)
        return False


class _NetworkDelayedPort:
    """esptool's reset strategies against the bridge port, each line change 60 ms apart like pyserial's
    rfc2217 client (it polls for every SET_CONTROL answer at 50 ms)."""

    def __init__(self, port) -> None:
        self.port = port
        self.dtr = False

    def isOpen(self) -> bool:  # noqa: N802
        return True

    def setDTR(self, v: bool) -> None:  # noqa: N802
        self.dtr = v
        self.port.dtr = v
        time.sleep(0.06)

    def setRTS(self, v: bool) -> None:  # noqa: N802
        self.port.rts = v
        time.sleep(0.06)


def test_classic_reset_enters_download_mode_and_hard_reset_boots(tmp_path):
    from esptool.reset import ClassicReset, HardReset

    from host_harness.virtual.esp32_serial.bridge import BridgePort
    from host_harness.virtual.esp32_serial.chip import Chip

    flash_file = tmp_path / "flash.bin"
    image = testimage.build(project="not-micropython", version="v0.1")  # boots without starting a board
    flash_file.write_bytes(b"\xff" * 0x1000 + image)
    chip = Chip(flash_file=flash_file)
    out = _Capture()
    chip.output = out
    try:
        port = BridgePort(chip)
        port.dtr, port.rts = True, True  # what a pyserial open sets: no reset
        time.sleep(0.1)
        assert chip.boots == 1
        ClassicReset(_NetworkDelayedPort(port))()
        assert out.wait_for(b"waiting for download"), out.data[-300:]
        out.data.clear()
        HardReset(_NetworkDelayedPort(port))()
        assert out.wait_for(b"Project name:     not-micropython"), out.data[-300:]
        assert b"waiting for download" not in out.data
    finally:
        chip.close()


# --- the whole cycle over rfc2217:// ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def esp32():
    from host_harness.virtual.esp32_serial.device import VirtualEsp32

    with VirtualEsp32() as dev:
        yield dev


@pytest.fixture(scope="module")
def images(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("fw")
    out = {}
    for name, corrupt in (("good", "none"), ("corrupt", "app")):
        out[name] = d / f"{name}.bin"
        out[name].write_bytes(testimage.build(version="v1.27.5", corrupt=corrupt))
    return out


def _cli(*args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=timeout)


def test_flash_over_rfc2217_boots_and_checks_identity(esp32, images, tmp_path):
    r = _cli("flash", "--board", "virtual-esp32", "--port", esp32.url, str(images["good"]),
             "--log-dir", str(tmp_path))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "boot: booted MicroPython v1.27.5" in r.stdout
    assert "identity ok: micropython" in r.stdout
    log = next(tmp_path.glob("*.log")).read_text()
    assert "waiting for download" not in log.split("== watching the boot")[1]
    assert "MicroPython v1.27.5 on 2025-11-29" in log  # the banner shows the image's descriptor


def test_flash_of_a_corrupt_image_reports_not_booting(esp32, images, tmp_path):
    r = _cli("flash", "--board", "virtual-esp32", "--port", esp32.url, str(images["corrupt"]),
             "--log-dir", str(tmp_path))
    assert r.returncode != 0
    assert "not-booting after flashing: boot loop: E (" in r.stderr and "Checksum failed" in r.stderr
    assert "Traceback" not in r.stderr


def test_a_second_client_is_refused_while_one_holds_the_port(esp32):
    first = serial.serial_for_url(esp32.url, timeout=1)
    try:
        host, port = esp32.url.split("://")[1].rsplit(":", 1)
        with socket.create_connection((host, int(port)), timeout=5) as second:
            second.settimeout(5)
            assert b"port busy" in second.recv(200)
    finally:
        first.close()


def test_test_command_flashes_deploys_and_runs_the_suite_over_rfc2217(esp32, images, tmp_path):
    r = _cli("test", "--board", "virtual-esp32", "--port", esp32.url, "--firmware", str(images["good"]),
             "--report-dir", str(tmp_path), timeout=900)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-2000:]
    assert re.search(r"virtual-esp32: \d+ clauses pass, 0 fail", r.stdout)
    logs = tmp_path / "board-logs" / "virtual-esp32"
    assert "boot: booted MicroPython v1.27.5" in next((logs / "flash").glob("*.log")).read_text()
    # the bring-up strategy before the suite: flashed, then booted = boot verdict + identity; the suite deploys
    assert re.search(r"flashed: ok .*good\.bin: (written|skipped)", r.stdout), r.stdout[:2000]
    assert re.search(r"booted: ok .*boot: booted MicroPython v1\.27\.5; identity micropython", r.stdout)
    assert "deployed: ok" in (logs / "session.log").read_text()


def test_hard_rung_resets_through_dtr_rts_and_watches_the_boot(esp32, images, tmp_path):
    """The reset ladder's hard rung on an rfc2217:// ESP board: the DevKitC circuit resets the chip, the boot
    is watched; once the flash holds no bootable image, the rung names the ROM's invalid-header loop."""
    from esptool.cmds import detect_chip, erase_region

    from host_harness.board import StepError, open_board
    from host_harness.transport.urls import register

    board = open_board("virtual-esp32", esp32.url, firmware=images["good"], deploy=False, online=False,
                       flash_log_dir=tmp_path)
    try:
        outcome = board.reset("hard", only=True)
        assert outcome.ok and "hard reset (DTR/RTS): booted MicroPython v1.27.5" in outcome.detail
        assert board.exec("print(6 * 7)", 10).text().strip() == "42"
    finally:
        board.close()
    register()
    rom = detect_chip(esp32.url, 115200, connect_mode="default-reset")  # esptool through the mock bootloader
    esp = rom
    try:
        esp = rom.run_stub()  # ERASE_REGION is a stub command
        erase_region(esp, 0x1000, 0x1000)  # the 2nd-stage bootloader's first sector: the ROM finds 0xffffffff
    finally:
        esp._port.close()
    board = open_board("virtual-esp32", esp32.url, deploy=False, online=False, enter_raw=False, start=False)
    try:
        board.open_session(10.0)  # the port, without a REPL (there is none: the chip sits in download mode)
        with pytest.raises(StepError, match=r"not-booting after the DTR/RTS reset: boot loop: "
                                            r"invalid header: 0xffffffff"):
            board.reset("hard", only=True)
    finally:
        board.close()


def test_rfc2217_urls_renegotiate_line_settings_only_when_they_change(esp32, monkeypatch):
    from host_harness.transport.urls import register
    from host_harness.transport.urls.protocol_rfc2217 import Serial as OurSerial

    register()  # what the harness does before it opens a port (transport/urls/__init__.py)

    # pyserial's client class our handler extends (taken from it: an in-process pytester run elsewhere in the
    # session may have re-imported pyserial, so `serial.rfc2217` need not be that module object any more)
    base = OurSerial.__mro__[1]
    sent = []
    original = base._reconfigure_port
    monkeypatch.setattr(base, "_reconfigure_port", lambda self: (sent.append(1), original(self)))
    port = serial.serial_for_url(esp32.url, baudrate=115200, timeout=1)
    try:
        assert isinstance(port, OurSerial)
        assert len(sent) == 1  # at open
        for t in (0.1, 3, 0.5, 2):
            port.timeout = t  # what esptool does before every command
        port.write_timeout = 2  # BoardSession's deadlines; pyserial's client refuses it outright
        assert len(sent) == 1
        port.baudrate = 230400
        assert len(sent) == 2 and port.baudrate == 230400
    finally:
        port.close()


def test_boot_loop_error_reads_a_tail_of_rom_output():
    from host_harness.flash.bootcheck import boot_loop_error

    loop = bootchain.plan(_flash_with(b""), download=False).text.encode()
    assert boot_loop_error(loop) == "invalid header: 0xffffffff"
    assert boot_loop_error(loop[-60:]) == "invalid header: 0xffffffff"  # the reset line scrolled out
    assert boot_loop_error(b"MicroPython v1.24.1 on 2024-11-29; ESP32 module with ESP32\r\n>>> ") is None


def test_a_board_with_nothing_bootable_in_flash_is_reported_not_booting(tmp_path):
    from host_harness.virtual.esp32_serial.device import VirtualEsp32

    with VirtualEsp32() as dev:  # a new board: its flash erased
        r = _cli("test", "--board", "virtual-esp32", "--port", dev.url, "-k", "udp_echo", "--report-dir",
                 str(tmp_path), timeout=120)
    assert r.returncode == 2, r.stdout[-2000:] + r.stderr[-2000:]
    assert "not-booting: boot loop: invalid header: 0xffffffff" in r.stdout + r.stderr, r.stderr[-2000:]
    assert "--firmware" in r.stdout + r.stderr and "Traceback" not in r.stdout + r.stderr
