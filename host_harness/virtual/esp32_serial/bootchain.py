"""What an ESP32 prints on UART0 at 115200 from reset to the app, computed from what its flash holds.

Port model of the boot chain (each step names what it reproduces):
- ROM (the chip's mask ROM, ESP32 ECO3 "ets Jul 29 2019"): the banner with the reset reason and the boot
  mode from the strapping pins (boot:0x13 SPI_FAST_FLASH_BOOT, boot:0x3 DOWNLOAD_BOOT + "waiting for
  download", the text esptool/loader.py _connect_attempt looks for); the SPI config lines; then it reads
  the image header at flash 0x1000 — no 0xE9 magic gives "invalid header: 0x<word>" until the RTC watchdog
  resets it (rst:0x10 RTCWDT_RTC_RESET), a boot loop; else "load:" per RAM segment and "entry".
- 2nd-stage bootloader (esp-idf components/bootloader_support/src/bootloader_utility.c
  bootloader_utility_load_partition_table / bootloader_utility_load_boot_image, esp_image_format.c
  process_segments / verify_image_header / verify_simple_hash): partition list, segment lines, the image
  checks, "Loaded app from partition at offset"; on failure its E lines and a software reset (rst:0x3).
- app start (esp-idf components/esp_system/port/cpu_start.c and app_init.c): "Application information".
ESP-IDF prints "I (<ms>) <tag>: ..." lines at log level INFO; MicroPython's own builds set
CONFIG_BOOTLOADER_LOG_LEVEL_WARN (ports/esp32/boards/sdkconfig.base), so `log_level="warn"` keeps only
the ROM lines, warnings and errors, as a MicroPython board prints them.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from ...flash.appimage import (
    IMAGE_HEADER_LEN,
    PARTITION_TABLE_MAX,
    PARTITION_TABLE_OFFSET,
    AppDescriptor,
    FlashFormatError,
    FlashRead,
    app_desc_at,
    boot_partition,
    parse_bootloader_desc,
    parse_partition_table,
)

BOOTLOADER_OFFSET = 0x1000
ROM_DATE = "ets Jul 29 2019 12:21:46"
POWERON_RESET = (0x1, "POWERON_RESET")
SW_RESET = (0x3, "SW_RESET")
RTCWDT_RTC_RESET = (0x10, "RTCWDT_RTC_RESET")
SPI_FAST_FLASH_BOOT = "boot:0x13 (SPI_FAST_FLASH_BOOT)"
DOWNLOAD_BOOT = "boot:0x3 (DOWNLOAD_BOOT(UART0/UART1/SDIO_REI_REO_V2))"
INVALID_HEADER_LINES = 24  # printed before the RTC watchdog fires (a real chip prints them ~every 20 ms)
FLASH_MODES = {0: "QIO", 1: "QOUT", 2: "DIO", 3: "DOUT"}
CLOCK_DIV = {0x0: 2, 0x1: 3, 0x2: 4, 0xF: 1}  # header freq nibble → ROM "clock div" (40/26/20/80 MHz)
SPI_SPEED = {0x0: "40MHz", 0x1: "26.7MHz", 0x2: "20MHz", 0xF: "80MHz"}
FLASH_SIZES = {0x0: "1MB", 0x1: "2MB", 0x2: "4MB", 0x3: "8MB", 0x4: "16MB"}
PARTITION_TABLE_LEN = PARTITION_TABLE_MAX


@dataclass(frozen=True)
class Boot:
    text: str  # everything UART0 prints in this boot, CRLF line ends
    outcome: str  # download | app | reset (the chip resets itself and boots again: a boot loop)
    next_reason: tuple[int, str] = POWERON_RESET  # for outcome "reset"
    app: AppDescriptor | None = None


class _Log:
    """ESP-IDF's log lines: "I (ms) tag: text" with a running millisecond clock, filtered by level."""

    LEVELS = {"error": 1, "warn": 2, "info": 3}

    def __init__(self, level: str, start_ms: int = 27) -> None:
        self.level = self.LEVELS[level]
        self.ms = start_ms
        self.lines: list[str] = []

    def _add(self, letter: str, rank: int, tag: str, text: str) -> None:
        self.ms += 4
        if rank <= self.level:
            self.lines.append(f"{letter} ({self.ms}) {tag}: {text}")

    def i(self, tag: str, text: str) -> None:
        self._add("I", 3, tag, text)

    def e(self, tag: str, text: str) -> None:
        self._add("E", 1, tag, text)


def rom_banner(reason: tuple[int, str], boot_mode: str) -> list[str]:
    return [ROM_DATE, "", f"rst:{reason[0]:#x} ({reason[1]}),{boot_mode}"]


def _image(read: FlashRead, offset: int, limit: int = 0x400000):
    """esptool's parser over the flash from `offset` (the ROM and the bootloader read the same header)."""
    from esptool.bin_image import LoadFirmwareImage

    return LoadFirmwareImage("esp32", read(offset, limit))


def plan(read: FlashRead, *, download: bool, reason: tuple[int, str] = POWERON_RESET,
         log_level: str = "info") -> Boot:
    """The boot after a reset: `download` is IO0 low at the moment EN rose (the strapping latch)."""
    if download:
        lines = rom_banner(reason, DOWNLOAD_BOOT) + ["waiting for download"]
        return Boot("\r\n".join(lines) + "\r\n", "download")
    lines = rom_banner(reason, SPI_FAST_FLASH_BOOT)
    header = read(BOOTLOADER_OFFSET, 24)
    word = struct.unpack_from("<I", header.ljust(4, b"\xff"))[0]
    if header[:1] != b"\xe9":
        lines += ["invalid header: " + f"{word:#010x}"] * INVALID_HEADER_LINES
        return Boot("\r\n".join(lines) + "\r\n", "reset", RTCWDT_RTC_RESET)
    lines += ["configsip: 0, SPIWP:0xee",
              "clk_drv:0x00,q_drv:0x00,d_drv:0x00,cs0_drv:0x00,hd_drv:0x00,wp_drv:0x00",
              f"mode:{FLASH_MODES.get(header[2], 'DIO')}, clock div:{CLOCK_DIV.get(header[3] & 0xF, 2)}"]
    try:
        boot_image = _image(read, BOOTLOADER_OFFSET, 0x7000)
    except Exception as exc:  # noqa: BLE001  (esptool raises several types on a torn image)
        lines.append(f"ets_main.c 371 ({type(exc).__name__})")
        return Boot("\r\n".join(lines) + "\r\n", "reset", RTCWDT_RTC_RESET)
    for seg in boot_image.segments:
        lines.append(f"load:{seg.addr:#010x},len:{len(seg.data)}")
    lines.append(f"entry {boot_image.entrypoint:#010x}")
    log = _Log(log_level)
    desc = parse_bootloader_desc(boot_image.segments[0].data) if boot_image.segments else None
    idf, built = desc if desc else ("", "")
    log.i("boot", f"ESP-IDF {idf} 2nd stage bootloader".replace("  ", " "))
    if built:
        log.i("boot", f"compile time {built}")
    log.i("boot", "Multicore bootloader")
    log.i("boot", "chip revision: v3.0")
    log.i("boot.esp32", f"SPI Speed      : {SPI_SPEED.get(header[3] & 0xF, '40MHz')}")
    log.i("boot.esp32", f"SPI Mode       : {FLASH_MODES.get(header[2], 'DIO')}")
    log.i("boot.esp32", f"SPI Flash Size : {FLASH_SIZES.get(header[3] >> 4, '4MB')}")
    log.i("boot", "Enabling RNG early entropy source...")
    app = _second_stage(read, log)
    lines += log.lines
    if app is None:
        return Boot("\r\n".join(lines) + "\r\n", "reset", SW_RESET)
    return Boot("\r\n".join(lines) + "\r\n", "app", app=app)


def _second_stage(read: FlashRead, log: _Log) -> AppDescriptor | None:
    try:
        parts = parse_partition_table(read(PARTITION_TABLE_OFFSET, PARTITION_TABLE_LEN))
    except FlashFormatError as exc:
        log.e("flash_parts", str(exc))
        log.e("boot", "Failed to verify partition table")
        log.e("boot", "load partition table error!")
        return None
    log.i("boot", "Partition Table:")
    log.i("boot", "## Label            Usage          Type ST Offset   Length")
    for n, p in enumerate(parts):
        log.i("boot", f"{n:2d} {p.label:<16s} {p.usage():<16s} {p.type:02x} {p.subtype:02x} "
                      f"{p.offset:08x} {p.size:08x}")
    log.i("boot", "End of partition table")
    part = boot_partition(parts)
    app = _load_app(read, part.offset, log) if part else None
    if app is None:
        if part is not None:
            log.e("boot", f"{part.usage().capitalize()} partition is not bootable")
        log.e("boot", "No bootable app partitions in the partition table")
        return None
    log.i("boot", f"Loaded app from partition at offset {part.offset:#x}")
    log.i("boot", "Disabling RNG early entropy source...")
    _app_start(app, log)
    return app


def _load_app(read: FlashRead, offset: int, log: _Log) -> AppDescriptor | None:
    if read(offset, 1) != b"\xe9":
        log.e("esp_image", f"image at {offset:#x} has invalid magic byte (nothing flashed here?)")
        return None
    try:
        image = _image(read, offset)
    except Exception as exc:  # noqa: BLE001
        log.e("esp_image", f"image at {offset:#x} is not a valid image ({type(exc).__name__})")
        return None
    pos = offset + IMAGE_HEADER_LEN
    for n, seg in enumerate(image.segments):
        kind = "map" if image.is_flash_addr(seg.addr) else "load"
        log.i("esp_image", f"segment {n}: paddr={pos + 8:08x} vaddr={seg.addr:08x} size={len(seg.data):05x}h "
                           f"({len(seg.data):6d}) {kind}")
        pos += 8 + len(seg.data)
    if image.checksum != image.calculate_checksum():
        log.e("esp_image", f"Checksum failed. Calculated {image.calculate_checksum():#x} read {image.checksum:#x}")
        return None
    if image.append_digest and image.stored_digest != image.calc_digest:
        log.e("esp_image", "Image hash failed - image is corrupt")
        return None
    desc = app_desc_at(read, offset)
    if desc is None:
        log.e("esp_image", f"image at {offset:#x}: no application description (esp_app_desc_t)")
        return None
    return desc


def _app_start(app: AppDescriptor, log: _Log) -> None:
    log.i("cpu_start", "Multicore app")
    log.i("cpu_start", "Pro cpu start user code")
    log.i("cpu_start", "cpu freq: 160000000 Hz")
    log.i("app_init", "Application information:")
    log.i("app_init", f"Project name:     {app.project_name}")
    log.i("app_init", f"App version:      {app.version}")
    log.i("app_init", f"Compile time:     {app.date} {app.time}")
    log.i("app_init", f"ELF file SHA256:  {app.elf_sha256[:16]}...")
    log.i("app_init", f"ESP-IDF:          {app.idf_ver}")
    log.i("main_task", "Started on CPU0")
    log.i("main_task", "Calling app_main()")

