"""Firmware image checks done before any port is opened: right file, right chip, fits the board's flash.

Everything here is offline, so a bad image is refused with nothing written to any board.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

from ..boards import Board, FlashLayout
from ..errors import BoardFileError
from .errors import ImageError, NotFlashableError

ESP_IMAGE_MAGIC = 0xE9
UF2_MAGIC = b"UF2\n"  # first word of every UF2 block (CircuitPython's .uf2 updates)


@dataclass(frozen=True)
class FirmwareImage:
    path: Path
    data: bytes
    offset: int
    chip: str  # esptool chip name from the board file
    image_chip_id: int | None  # chip id written in the image's extended header, if any

    @property
    def size(self) -> int:
        return len(self.data)


def esptool_chip_names() -> dict[str, str]:
    """esptool chip argument → chip's display name (e.g. 'esp32s3' → 'ESP32-S3')."""
    from esptool.targets import CHIP_DEFS  # imported lazily: esptool takes ~0.3 s to import

    return {name: cls.CHIP_NAME for name, cls in CHIP_DEFS.items()}


def flash_layout(board: Board) -> FlashLayout:
    """The board's [flash] table, checked against what esptool knows; refuse boards esptool cannot flash."""
    if board.flash is None:
        how = f"; update it this way instead: {board.firmware_update}" if board.firmware_update else ""
        raise NotFlashableError(
            f"board '{board.name}' (target {board.target}) has no [flash] table: "
            f"its firmware is not written with esptool{how}")
    layout = board.flash
    where = board.source.name if board.source else board.name
    chips = esptool_chip_names()
    if layout.chip not in chips:
        raise BoardFileError(f"{where} [flash]: chip {layout.chip!r} is not an esptool chip "
                             f"(one of {', '.join(sorted(chips))})")
    if layout.firmware_offset < 0 or layout.firmware_offset % 0x1000:
        raise BoardFileError(f"{where} [flash]: firmware_offset {layout.firmware_offset:#x} "
                             "must be a non-negative multiple of 0x1000 (a flash sector)")
    return layout


def load_image(path: Path | str, board: Board) -> FirmwareImage:
    """Read and check a firmware file for `board`; raise ImageError with a one-line reason."""
    layout = flash_layout(board)
    path = Path(path)
    if not path.exists():
        raise ImageError(f"firmware file {path} does not exist")
    if not path.is_file():
        raise ImageError(f"firmware path {path} is not a file")
    data = path.read_bytes()
    return check_image_bytes(data, layout, path)


def check_image_bytes(data: bytes, layout: FlashLayout, path: Path) -> FirmwareImage:
    name = path.name
    if not data:
        raise ImageError(f"firmware file {name} is empty")
    if data[:4] == UF2_MAGIC:
        raise ImageError(f"{name} is a UF2 file: copy it to the board's UF2 boot drive; "
                         "`flash` writes ESP .bin images with esptool")
    if data[0] != ESP_IMAGE_MAGIC:
        raise ImageError(f"{name} is not an ESP firmware image (first byte {data[0]:#04x}, "
                         f"expected {ESP_IMAGE_MAGIC:#04x})")
    chip_id = _parse_chip_id(data, layout.chip, name)
    names = esptool_chip_names()
    from esptool.targets import CHIP_DEFS

    expected_id = getattr(CHIP_DEFS[layout.chip], "IMAGE_CHIP_ID", None)
    if chip_id is not None and expected_id is not None and chip_id != expected_id:
        built_for = next((cls.CHIP_NAME for cls in CHIP_DEFS.values()
                          if getattr(cls, "IMAGE_CHIP_ID", None) == chip_id), f"chip id {chip_id}")
        raise ImageError(f"{name} was built for {built_for}, but the board's chip is "
                         f"{names[layout.chip]} ([flash] chip = {layout.chip!r})")
    end = layout.firmware_offset + len(data)
    if end > layout.size_bytes:
        raise ImageError(f"{name} is {len(data)} bytes; written at {layout.firmware_offset:#x} it ends at "
                         f"{end:#x}, beyond the board's {layout.size} flash ({layout.size_bytes:#x})")
    return FirmwareImage(path=path, data=data, offset=layout.firmware_offset, chip=layout.chip,
                         image_chip_id=chip_id)


def _parse_chip_id(data: bytes, chip: str, name: str) -> int | None:
    """Parse the leading image with esptool's own reader; return the chip id in its extended header."""
    from esptool.bin_image import LoadFirmwareImage
    from esptool.util import FatalError

    try:
        image = LoadFirmwareImage(chip, data)
    except (FatalError, struct.error, RuntimeError, ValueError, TypeError, IndexError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ImageError(f"{name} is not a valid {chip} image ({reason})") from None
    return getattr(image, "chip_id", None)
