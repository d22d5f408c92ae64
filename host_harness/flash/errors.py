"""Flash failures as HilErrors: each message is one line naming the board, the port and what to do."""

from __future__ import annotations

from ..errors import HilError


class FlashError(HilError):
    """Flashing could not start or did not complete."""


class NotFlashableError(FlashError):
    """The board has no [flash] table (e.g. cc3200): esptool does not apply."""


class ImageError(FlashError):
    """The firmware file is missing, not an image for this chip, or does not fit the board's flash."""


class PortError(FlashError):
    """The port does not exist, is busy (held by another program), or was given twice."""


class ConnectError(FlashError):
    """No ROM bootloader answered: the board is not in download mode, or not on this port."""


class WrongChipError(FlashError):
    """The chip on the port is not the chip named in the board file."""


class VerifyError(FlashError):
    """Flash contents do not match the image (MD5 differs)."""


class FlashCancelled(FlashError):
    """Ctrl-C or a deadline stopped the flash of this board."""

    exit_code = 130
