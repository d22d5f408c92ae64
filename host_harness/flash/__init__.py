"""Firmware flashing through esptool's Python API: image checks, per-board logs, retries, identity.

Public API:
    load_image(path, board) -> FirmwareImage          offline checks; raises ImageError/NotFlashableError
    flash_boards(board, ports, image, options=..., log_dir=...) -> list[FlashResult]
    FlashOptions, FlashResult, LADDER
    read_identity(url) / check_identity(board, identity) / Identity
"""

from ..lazy import lazy_exports

# public name -> the submodule that defines it; esptool loads only with a submodule that uses it (not bootcheck)
_EXPORTS = {
    **dict.fromkeys(("ConnectError", "FlashCancelled", "FlashError", "ImageError", "NotFlashableError",
                     "PortError", "VerifyError", "WrongChipError"), "errors"),
    **dict.fromkeys(("Identity", "IdentityError", "IdentityResult", "check_identity", "read_identity"), "identity"),
    **dict.fromkeys(("FirmwareImage", "flash_layout", "load_image"), "image"),
    "flash_boards": "runner",
    **dict.fromkeys(("LADDER", "FlashOptions", "FlashResult", "Rung"), "writer"),
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
__all__ = sorted(_EXPORTS)
