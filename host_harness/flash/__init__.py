"""Firmware flashing through esptool's Python API: image checks, per-board logs, retries, identity.

Public API:
    load_image(path, board) -> FirmwareImage          offline checks; raises ImageError/NotFlashableError
    flash_boards(board, ports, image, options=..., log_dir=...) -> list[FlashResult]
    FlashOptions, FlashResult, LADDER
    read_identity(url) / check_identity(board, identity) / Identity
"""

from .errors import (
    ConnectError,
    FlashCancelled,
    FlashError,
    ImageError,
    NotFlashableError,
    PortError,
    VerifyError,
    WrongChipError,
)
from .identity import Identity, IdentityError, IdentityResult, check_identity, read_identity
from .image import FirmwareImage, flash_layout, load_image
from .runner import flash_boards
from .writer import LADDER, FlashOptions, FlashResult, Rung

__all__ = [
    "ConnectError", "FirmwareImage", "FlashCancelled", "FlashError", "FlashOptions", "FlashResult",
    "Identity", "IdentityError", "IdentityResult", "ImageError", "LADDER", "NotFlashableError", "PortError",
    "Rung", "VerifyError", "WrongChipError", "check_identity", "flash_boards", "flash_layout", "load_image",
    "read_identity",
]
