"""Build a test firmware image for ESP32 with the app descriptor you choose (no toolchain needed).

The file has MicroPython's ESP32 firmware.bin layout (written at 0x1000): second-stage bootloader image,
partition table at 0x8000 and the app at 0x10000 whose first segment begins with esp_app_desc_t (formats in
host_harness/flash/appimage.py). The images are built with esptool's own ESP32FirmwareImage, so header,
checksum and SHA-256 digest are what esptool and the ROM check. The segments hold no code: the image is for
the virtual ESP32 (host_harness/virtual/esp32_serial), which boots by reading these structures.

    python -m host_harness.flash.testimage -o fw.bin --project micropython --version v1.28.0
    python -m host_harness.flash.testimage -o bad.bin --corrupt app      # fails the app's SHA-256 check

`--target wipy` writes a WiPy 1.0 mcuimg.bin instead, for `usocket-hil flash --port wipy://...` on the virtual
WiPy: a payload carrying the banner string the telnet server's welcome line shows (ports/cc3200/telnet/telnet.c
telnet_welcome_msg), signed as ports/cc3200/appsign.sh does (the hex MD5 appended, what bootmgr_verify checks;
host_harness/netrepl/firmware.py).  `--corrupt md5` spoils the signature: the boot manager keeps the old image.
A real WiPy's mcuimg.bin comes from the cc3200 build (`make BTARGET=application BTYPE=release BOARD=WIPY` in
ports/cc3200: build/WIPY/release/mcuimg.bin).
"""

from __future__ import annotations

import argparse
import hashlib
import re
import struct
import sys
from pathlib import Path

from .appimage import (
    APP_DESC_MAGIC,
    BOOT_DESC,
    BOOT_DESC_MAGIC,
    PARTITION_ENTRY,
    PARTITION_MAGIC,
    PARTITION_MD5_MAGIC,
    PARTITION_TABLE_OFFSET,
)

FIRMWARE_OFFSET = 0x1000  # ESP32: the bootloader (so MicroPython's combined image) starts at 0x1000
APP_OFFSET = 0x10000
# MicroPython's ports/esp32/partitions-4MiB.csv layout (facts, not the file).
PARTITIONS = (("nvs", 1, 2, 0x9000, 0x6000), ("phy_init", 1, 1, 0xF000, 0x1000),
              ("factory", 0, 0, APP_OFFSET, 0x1F0000), ("vfs", 1, 0x81, 0x200000, 0x200000))
# Load addresses of an ESP-IDF v5 ESP32 bootloader and app (DRAM/IRAM/DROM/IROM regions of the ESP32 TRM).
BOOT_SEGMENTS = ((0x3FFF0030, 0x1000), (0x40078000, 0x2000), (0x40080400, 0x800))
BOOT_ENTRY = 0x400805B8
APP_DROM = 0x3F400020
APP_IRAM = 0x40080000
APP_ENTRY = 0x40081000
CORRUPTIONS = ("none", "app", "partition-table", "header")


def _filler(tag: bytes, size: int) -> bytes:
    return (tag * (size // len(tag) + 1))[:size]


def app_descriptor(project: str, version: str, date: str, time: str, idf: str) -> bytes:
    """esp_app_desc_t (256 bytes): the fields ESP-IDF's esp_app_desc.h defines, zeroes where unused."""
    def field(text: str, size: int) -> bytes:
        raw = text.encode()
        if len(raw) >= size:
            raise ValueError(f"{text!r} does not fit the {size}-byte field (at most {size - 1} bytes)")
        return raw.ljust(size, b"\0")

    elf_sha = hashlib.sha256(f"{project} {version}".encode()).digest()
    body = struct.pack("<II8s", APP_DESC_MAGIC, 0, b"") + field(version, 32) + field(project, 32) + \
        field(time, 16) + field(date, 16) + field(idf, 32) + elf_sha
    return body.ljust(256, b"\0")


def bootloader_descriptor(idf: str, date_time: str) -> bytes:
    """esp_bootloader_desc_t (ESP-IDF >= 5.2, esp_bootloader_desc.h): starts the bootloader's first segment."""
    return BOOT_DESC.pack(BOOT_DESC_MAGIC, b"", 1, idf.encode()[:31], date_time.encode()[:23], b"")


def _esp_image(segments: list[tuple[int, bytes]], entry: int, flash_mode: int = 2) -> bytes:
    # ELFSection: esptool's save() names each segment in its padding messages.
    from esptool.bin_image import ELFSection, ESP32FirmwareImage

    image = ESP32FirmwareImage()
    image.entrypoint = entry
    image.flash_mode = flash_mode  # DIO
    image.flash_size_freq = 0x20  # 4MB, 40 MHz
    image.segments = [ELFSection(f".seg{i}".encode(), addr, data, 0) for i, (addr, data) in enumerate(segments)]
    return image.save(None)


def partition_table(parts=PARTITIONS) -> bytes:
    rows = b"".join(PARTITION_ENTRY.pack(PARTITION_MAGIC, t, st, off, size, label.encode().ljust(16, b"\0"), 0)
                    for label, t, st, off, size in parts)
    md5 = PARTITION_MD5_MAGIC + b"\xff" * 14 + hashlib.md5(rows).digest()
    return (rows + md5).ljust(0xC00, b"\xff")


def build(project: str = "micropython", version: str = "v1.28.0", *, date: str = "Nov 29 2025",
          time: str = "12:00:00", idf: str = "v5.4.1", corrupt: str = "none") -> bytes:
    """The whole firmware file, to be written at FIRMWARE_OFFSET."""
    if corrupt not in CORRUPTIONS:
        raise ValueError(f"corrupt must be one of {', '.join(CORRUPTIONS)}")
    boot_segments = [(addr, _filler(b"usocket-hil test bootloader ", size)) for addr, size in BOOT_SEGMENTS]
    first = boot_segments[0]
    boot_segments[0] = (first[0], bootloader_descriptor(idf, f"{date} {time}") + first[1][BOOT_DESC.size:])
    boot = _esp_image(boot_segments, BOOT_ENTRY)
    desc = app_descriptor(project, version, date, time, idf)
    app = bytearray(_esp_image([(APP_DROM, desc + _filler(b"rodata ", 0x400)),
                                (APP_IRAM, _filler(b"text ", 0x800))], APP_ENTRY))
    table = partition_table()
    out = bytearray(b"\xff" * (APP_OFFSET - FIRMWARE_OFFSET + len(app)))
    out[:len(boot)] = boot
    pt = PARTITION_TABLE_OFFSET - FIRMWARE_OFFSET
    out[pt:pt + len(table)] = table
    ap = APP_OFFSET - FIRMWARE_OFFSET
    out[ap:] = app
    if corrupt == "app":  # one byte of the app's code flipped: its SHA-256 digest no longer matches
        out[ap + 0x600] ^= 0xFF
    elif corrupt == "partition-table":
        out[pt] = 0x00
    elif corrupt == "header":  # not an ESP image at all: `flash` refuses it before any port is opened
        out[0] = 0x00
    return bytes(out)


# a release tag as MICROPY_GIT_TAG spells it (v1.28.0, v1.25.0-preview): what the CLI's --version takes
VERSION_RE = re.compile(r"v\d+\.\d+(\.\d+)?(-[0-9A-Za-z.\-]+)?")
WIPY_DATE = "2026-03-01"  # the banner's date: MICROPY_BUILD_DATE, ISO as the cc3200 build writes it


def build_wipy(version: str, *, date: str = WIPY_DATE, corrupt: str = "none", size: int = 16384) -> bytes:
    """A signed WiPy 1.0 application image whose banner names `version` (netrepl/firmware.py image_version)."""
    from ..netrepl.firmware import IMG_SIZE, image_version, sign

    banner = f"MicroPython {version} on {date}; WiPy with CC3200\0".encode()
    body = b"\0" * 4096 + banner
    payload = body + _filler(b"wipy-test-image ", max(0, size - 32 - len(body)))
    if len(payload) + 32 > IMG_SIZE:
        raise ValueError(f"an mcuimg.bin holds at most {IMG_SIZE} bytes")
    if image_version(payload) != version:
        raise ValueError(f"version {version!r} must look like v1.29.0 (the banner's MICROPY_GIT_TAG)")
    image = bytearray(sign(payload))
    if corrupt == "md5":
        image[-1] ^= 0x01
    elif corrupt != "none":
        raise ValueError(f"--target wipy takes --corrupt none or md5, not {corrupt}")
    return bytes(image)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m host_harness.flash.testimage",
                                description="Write an ESP32 test firmware image with a chosen app descriptor, "
                                            "or (--target wipy) a signed WiPy 1.0 mcuimg.bin.")
    p.add_argument("-o", "--output", type=Path, required=True, help="firmware file to write")
    p.add_argument("--target", choices=("esp32", "wipy"), default="esp32",
                   help="esp32: firmware.bin for esptool (default); wipy: mcuimg.bin for flash --port wipy://")
    p.add_argument("--project", default="micropython", help="esp_app_desc_t project_name")
    p.add_argument("--version", default="v1.28.0", help="esp_app_desc_t version (the banner shows it)")
    p.add_argument("--date", default=None,
                   help=f"esp_app_desc_t date (__DATE__ format, default Nov 29 2025); wipy: {WIPY_DATE}")
    p.add_argument("--idf", default="v5.4.1", help="esp_app_desc_t idf_ver")
    p.add_argument("--corrupt", choices=CORRUPTIONS + ("md5",), default="none",
                   help="build a broken image on purpose (esp32: app, partition-table, header; wipy: md5)")
    args = p.parse_args(argv)
    try:
        if not VERSION_RE.fullmatch(args.version):
            raise ValueError(f"--version {args.version!r} must look like v1.28.0 (a MicroPython release tag, "
                             "as the boot banner and `flash` identity read it)")
        if args.target == "wipy":
            data = build_wipy(args.version, date=args.date or WIPY_DATE, corrupt=args.corrupt)
        elif args.corrupt == "md5":
            raise ValueError("--corrupt md5 is for --target wipy")
        else:
            data = build(args.project, args.version, date=args.date or "Nov 29 2025", idf=args.idf,
                         corrupt=args.corrupt)
    except ValueError as exc:
        print(f"testimage: error: {exc}", file=sys.stderr)
        return 2
    try:
        args.output.write_bytes(data)
    except OSError as exc:
        print(f"testimage: error: cannot write {args.output}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    if args.target == "wipy":
        signed = "signed, MD5 deliberately wrong" if args.corrupt == "md5" else "signed"
        print(f"{args.output}: {len(data)} bytes, WiPy mcuimg.bin {args.version} ({signed})")
    else:
        print(f"{args.output}: {len(data)} bytes, {args.project} {args.version}, write at {FIRMWARE_OFFSET:#x}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
