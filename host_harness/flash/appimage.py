"""What an ESP32 flash holds, read as the chip's boot chain reads it: partition table, app image, app descriptor.

Formats (ESP-IDF documentation, "App Image Format" and "Partition Tables"; esptool/cmds.py _parse_app_info
reads the same descriptor):
- the partition table sits at flash 0x8000: 32-byte entries starting with magic 0x50AA (type, subtype,
  offset, size, 16-byte label, flags), optionally an MD5 entry (magic 0xEBEB), then 0xFF padding
  (esp-idf components/partition_table/gen_esp32part.py, PartitionDefinition.to_binary);
- an app image is an ESP image (magic 0xE9) whose first segment (DROM) starts with esp_app_desc_t
  (esp-idf components/esp_app_format/include/esp_app_desc.h): magic 0xABCD5432, secure_version, 8 reserved
  bytes, version[32], project_name[32], time[16], date[16], idf_ver[32], app_elf_sha256[32], ...

Both the flash side (what `flash` writes) and the virtual ESP32 (what it boots) use this one reader, over a
`read(address, length)` function, so a firmware file and a chip's flash are read the same way.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Callable
from dataclasses import dataclass

FlashRead = Callable[[int, int], bytes]

PARTITION_TABLE_OFFSET = 0x8000  # CONFIG_PARTITION_TABLE_OFFSET default
PARTITION_MAGIC = b"\xaa\x50"
PARTITION_MD5_MAGIC = b"\xeb\xeb"
PARTITION_ENTRY = struct.Struct("<2sBBII16sI")
PARTITION_TABLE_MAX = 0xC00  # gen_esp32part.py MAX_PARTITION_LENGTH
APP_TYPE = 0x00
SUBTYPE_FACTORY = 0x00
SUBTYPE_OTA_0 = 0x10
APP_DESC_MAGIC = 0xABCD5432
APP_DESC = struct.Struct("<II8s32s32s16s16s32s32s")  # the fields up to app_elf_sha256
BOOT_DESC_MAGIC = 0x50  # esp_bootloader_desc_t: magic byte, reserved[3], version, idf_ver[32], date_time[24]
BOOT_DESC = struct.Struct("<B3sI32s24s16s")
IMAGE_HEADER_LEN = 24  # common (8) + extended (16) header of an ESP32 image
SEGMENT_HEADER_LEN = 8


class FlashFormatError(ValueError):
    """The flash does not hold what the boot chain expects here; the message says what and where."""


@dataclass(frozen=True)
class Partition:
    label: str
    type: int
    subtype: int
    offset: int
    size: int

    @property
    def is_app(self) -> bool:
        return self.type == APP_TYPE

    def usage(self) -> str:
        """The 'Usage' column of the 2nd-stage bootloader's partition list."""
        if self.type == APP_TYPE:
            if self.subtype == SUBTYPE_FACTORY:
                return "factory app"
            if SUBTYPE_OTA_0 <= self.subtype < SUBTYPE_OTA_0 + 16:
                return f"OTA app {self.subtype - SUBTYPE_OTA_0}"
            return "unknown app"
        return {(1, 0): "OTA data", (1, 1): "RF data", (1, 2): "WiFi data", (1, 0x81): "FAT data",
                (1, 0x82): "SPIFFS data"}.get((self.type, self.subtype), "unknown data")


@dataclass(frozen=True)
class AppDescriptor:
    project_name: str
    version: str
    time: str
    date: str
    idf_ver: str
    secure_version: int
    elf_sha256: str

    def label(self) -> str:
        return f"{self.project_name} {self.version}"


def _text(raw: bytes) -> str:
    return raw.split(b"\0", 1)[0].decode("ascii", "replace")


def parse_app_desc(segment: bytes) -> AppDescriptor | None:
    """esp_app_desc_t at the start of an app's first segment; None when the magic word is not there."""
    if len(segment) < APP_DESC.size:
        return None
    magic, secure, _res, version, project, time, date, idf, sha = APP_DESC.unpack_from(segment)
    if magic != APP_DESC_MAGIC:
        return None
    return AppDescriptor(project_name=_text(project), version=_text(version), time=_text(time),
                         date=_text(date), idf_ver=_text(idf), secure_version=secure, elf_sha256=sha.hex())


def parse_bootloader_desc(segment: bytes) -> tuple[str, str] | None:
    """(idf_ver, date_time) of esp_bootloader_desc_t at the start of the bootloader's first segment."""
    if len(segment) < BOOT_DESC.size or segment[0] != BOOT_DESC_MAGIC:
        return None
    _m, _r, _v, idf, when, _r2 = BOOT_DESC.unpack_from(segment)
    return _text(idf), _text(when)


def parse_partition_table(raw: bytes) -> list[Partition]:
    """Entries up to the end marker; FlashFormatError for a table the bootloader would refuse."""
    parts: list[Partition] = []
    for pos in range(0, min(len(raw), PARTITION_TABLE_MAX), PARTITION_ENTRY.size):
        entry = raw[pos:pos + PARTITION_ENTRY.size]
        if len(entry) < PARTITION_ENTRY.size or entry == b"\xff" * PARTITION_ENTRY.size:
            break
        magic = entry[:2]
        if magic == PARTITION_MD5_MAGIC:
            digest = entry[16:32]
            if hashlib.md5(raw[:pos]).digest() != digest:
                raise FlashFormatError("partition table MD5 mismatch")
            break
        if magic != PARTITION_MAGIC:
            word = struct.unpack_from("<H", entry)[0]
            raise FlashFormatError(f"partition {len(parts)} invalid magic number 0x{word:x}")
        _m, ptype, subtype, offset, size, label, _flags = PARTITION_ENTRY.unpack(entry)
        parts.append(Partition(_text(label), ptype, subtype, offset, size))
    if not parts:
        raise FlashFormatError("partition 0 invalid magic number 0xffff")
    return parts


def boot_partition(parts: list[Partition]) -> Partition | None:
    """The app the bootloader starts without OTA data: factory, else ota_0 (bootloader_utility.c)."""
    apps = [p for p in parts if p.is_app]
    for want in (SUBTYPE_FACTORY, SUBTYPE_OTA_0):
        for p in apps:
            if p.subtype == want:
                return p
    return None


def app_desc_at(read: FlashRead, offset: int) -> AppDescriptor | None:
    """The descriptor of the app image at flash `offset` (it follows the image and first segment headers)."""
    if read(offset, 1) != b"\xe9":
        return None
    return parse_app_desc(read(offset + IMAGE_HEADER_LEN + SEGMENT_HEADER_LEN, APP_DESC.size))


def firmware_app_desc(data: bytes, flash_offset: int) -> AppDescriptor | None:
    """The descriptor of the app a combined firmware file (bootloader + table + app) carries when written
    at `flash_offset`; None for an app-only or foreign image (nothing to compare the boot with)."""

    def read(addr: int, length: int) -> bytes:
        start = addr - flash_offset
        return data[start:start + length] if start >= 0 else b""

    try:
        part = boot_partition(parse_partition_table(read(PARTITION_TABLE_OFFSET, PARTITION_TABLE_MAX)))
    except FlashFormatError:
        return None
    return app_desc_at(read, part.offset) if part else None
