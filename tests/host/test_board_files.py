"""Every board file loads, and the real boards carry the facts flashing and deploying rely on."""

from __future__ import annotations

import pytest
from esptool.targets import CHIP_DEFS
from esptool.util import flash_size_bytes

from host_harness.boards import all_boards, board_names, load_board, parse_board
from host_harness.errors import BoardFileError
from host_harness.flash import NotFlashableError, flash_layout

BOARDS = {b.name: b for b in all_boards()}
REAL = ["esp32-devkitc", "esp32s3-devkitc", "wipy3", "wipy1", "circuitpython-esp32s3"]
# Where MicroPython/CircuitPython's combined image starts: the chip's second-stage bootloader offset.
FIRMWARE_OFFSET = {"esp32": 0x1000, "esp32s3": 0x0}


def test_every_board_file_loads_and_names_match():
    assert set(REAL) <= set(board_names())
    for name in board_names():
        assert load_board(name).name == name


@pytest.mark.parametrize("name", REAL)
def test_real_boards_are_serial_and_identify_themselves(name):
    b = BOARDS[name]
    assert b.kind == "serial"
    assert b.expect_implementation in ("micropython", "circuitpython")
    assert b.expect_machine
    assert b.usb, "real boards need USB IDs for discovery"
    for u in b.usb:
        assert 0 < u.vid <= 0xFFFF and 0 < u.pid <= 0xFFFF
    assert len({(u.vid, u.pid, u.serial) for u in b.usb}) == len(b.usb)


@pytest.mark.parametrize("name", [n for n in REAL if n != "wipy1"])
def test_esp_boards_flash_layout_matches_the_chip(name):
    b = BOARDS[name]
    layout = flash_layout(b)
    assert layout.chip in CHIP_DEFS
    assert layout.firmware_offset == FIRMWARE_OFFSET[layout.chip]
    assert layout.firmware_offset == CHIP_DEFS[layout.chip].BOOTLOADER_FLASH_OFFSET
    assert flash_size_bytes(layout.size) == layout.size_bytes and 4 << 20 <= layout.size_bytes <= 16 << 20
    assert layout.before in ("default-reset", "usb-reset", "no-reset")
    assert layout.baud in (115200, 230400, 460800, 921600)


def test_target_specific_facts():
    assert BOARDS["esp32-devkitc"].mpy_arch == "xtensawin"
    assert BOARDS["esp32s3-devkitc"].mpy_arch == "xtensawin"
    assert BOARDS["wipy3"].mpy_arch == "xtensawin"
    assert BOARDS["wipy1"].target == "wipy" and BOARDS["wipy1"].mpy_arch == "bytecode"
    assert "float" not in BOARDS["wipy1"].capabilities  # the cc3200 port has no float
    assert BOARDS["circuitpython-esp32s3"].expect_implementation == "circuitpython"
    assert BOARDS["circuitpython-esp32s3"].target == "circuitpython"
    usb = {(u.vid, u.pid) for u in BOARDS["esp32-devkitc"].usb}
    assert {(0x10C4, 0xEA60), (0x1A86, 0x7523)} <= usb  # CP2102, CH340
    assert (0x303A, 0x1001) in {(u.vid, u.pid) for u in BOARDS["esp32s3-devkitc"].usb}  # USB-Serial/JTAG
    assert (0x239A, 0x811C) in {(u.vid, u.pid) for u in BOARDS["circuitpython-esp32s3"].usb}
    # The devkitc's machine substring must not also match the S3 build's machine string.
    assert BOARDS["esp32-devkitc"].expect_machine not in "Generic ESP32S3 module with ESP32S3"


def test_wipy1_has_no_flash_and_says_how_to_update():
    b = BOARDS["wipy1"]
    assert b.flash is None and "FTP" in b.firmware_update
    with pytest.raises(NotFlashableError, match="no \\[flash\\] table.*FTP"):
        flash_layout(b)


def _doc(**flash) -> dict:
    return {
        "board": {"name": "t", "description": "d", "kind": "serial", "target": "esp32", "repl": "uart",
                  "mpy_arch": "xtensawin"},
        "flash": flash,
    }


@pytest.mark.parametrize("missing", ["chip", "size", "firmware_offset"])
def test_missing_flash_field_is_named(missing):
    flash = {"chip": "esp32", "size": "4MB", "firmware_offset": 0x1000}
    del flash[missing]
    with pytest.raises(BoardFileError, match=f"t.toml \\[flash\\]: missing field '{missing}'"):
        parse_board(_doc(**flash), "t.toml")


@pytest.mark.parametrize("field,value,message", [
    ("size", "4 MiB", "must look like '4MB'"),
    ("firmware_offset", "0x1000", "must be int"),
    ("baud", "fast", "must be int"),
    ("before", "hard-reset", "expected one of default-reset"),
    ("mode", "quad", "expected one of keep"),
])
def test_bad_flash_field_values(field, value, message):
    flash = {"chip": "esp32", "size": "4MB", "firmware_offset": 0x1000, field: value}
    with pytest.raises(BoardFileError, match=message):
        parse_board(_doc(**flash), "t.toml")


def test_flash_layout_rejects_unknown_chip_and_unaligned_offset():
    with pytest.raises(BoardFileError, match="not an esptool chip"):
        flash_layout(parse_board(_doc(chip="esp33", size="4MB", firmware_offset=0x1000), "t.toml"))
    with pytest.raises(BoardFileError, match="multiple of 0x1000"):
        flash_layout(parse_board(_doc(chip="esp32", size="4MB", firmware_offset=0x1800), "t.toml"))


def test_serial_esp_board_without_flash_table_is_refused():
    doc = _doc()
    del doc["flash"]
    with pytest.raises(BoardFileError, match="needs a \\[flash\\] table"):
        parse_board(doc, "t.toml")
