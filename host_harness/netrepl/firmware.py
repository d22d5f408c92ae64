"""Updating a WiPy's firmware over the network, as docs/wipy/general.rst describes: upload mcuimg.bin to
/flash/sys/ over FTP, reset, and check which firmware runs afterwards.

An FTP "226" proves only the transfer.  On the reset the boot manager (ports/cc3200/bootmgr/main.c
bootmgr_image_loader/bootmgr_verify) checks the new image -- its last 32 bytes must be the hex MD5 of the rest
-- and silently boots the previous one if it fails.  The version that runs afterwards is read from the telnet
server's welcome line (telnet.c telnet_welcome_msg: "MicroPython <MICROPY_GIT_TAG> on <date>; ..."), and an
update is "updated" only when it names the image's version; the old version back is "rolled-back".
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import time
from dataclasses import dataclass

import serial

from ..errors import HilError
from ..transport.urls import register
from .ftp import WipyFtp

IMG_SIZE = 192 * 1024  # bootmgr/flc.h: the largest image the updater accepts
IMAGE_PATH = "/flash/sys/mcuimg.bin"  # updater.c UPDATER_IMG_PATH
_BANNER = re.compile(rb"MicroPython (v[0-9][^\s\x00]{0,40}) on ([0-9-]{10})")


class FirmwareError(HilError):
    """The image cannot be sent, or the board did not come back after the reset."""


def image_version(data: bytes) -> str | None:
    """The MICROPY_GIT_TAG a firmware image carries in its banner string, if any."""
    m = _BANNER.search(data)
    return m.group(1).decode("ascii", "replace") if m else None


def md5_ok(data: bytes) -> bool:
    """bootmgr_verify(): the last 32 bytes are the lower-case hex MD5 of everything before them."""
    return len(data) > 32 and hashlib.md5(data[:-32]).hexdigest().encode() == data[-32:].lower()


def sign(payload: bytes) -> bytes:
    """An image as the cc3200 build signs it (payload + hex MD5), what bootmgr_verify accepts."""
    return payload + hashlib.md5(payload).hexdigest().encode()


@dataclass
class UpdateResult:
    outcome: str  # "updated", "rolled-back", "unchanged" (same version before and after), "unknown"
    before: str | None
    after: str | None
    expected: str | None
    seconds: float
    warning: str = ""

    @property
    def ok(self) -> bool:
        return self.outcome in ("updated", "unchanged")

    def summary(self) -> str:
        text = {
            "updated": f"updated: {self.before} -> {self.after}",
            "rolled-back": f"ROLLED BACK: the boot manager rejected the image (MD5 check) and still runs "
                           f"{self.after}; the upload itself had succeeded",
            "unchanged": f"running {self.after}, the image's version, before and after",
            "unknown": f"the board runs {self.after} after the reset, not the image's {self.expected}",
        }[self.outcome]
        return text + f" [{self.seconds:.1f} s]"


def running_version(url: str, timeout: float) -> str | None:
    """Log in over telnet within `timeout` (retrying while the board boots) and read the welcome line."""
    register()
    end = time.monotonic() + timeout
    last = "no attempt"
    while time.monotonic() < end:
        try:
            s = serial.serial_for_url(url, timeout=1)
        except (serial.SerialException, ValueError) as exc:
            last = str(exc)
            time.sleep(0.3)
            continue
        try:
            return s.firmware_version
        finally:
            s.close()
    raise FirmwareError(f"{url}: no telnet login within {timeout:g} s after the reset ({last})")


def reset(url: str, timeout: float = 10.0) -> None:
    """machine.reset() from the friendly REPL; the session dies with the board, so no answer is awaited."""
    register()
    s = serial.serial_for_url(url, timeout=1)
    try:
        s.write(b"\r\x03\x03\x02")  # stop anything running; Ctrl-B: friendly REPL
        time.sleep(0.2)
        s.reset_input_buffer()
        s.write(b"import machine\r\nmachine.reset()\r\n")
        end = time.monotonic() + timeout
        with contextlib.suppress(serial.SerialException):
            while time.monotonic() < end:
                s.read(256)  # until the board drops the session
        return
    finally:
        s.close()


def update(url: str, image: bytes, *, boot_timeout: float = 60.0) -> UpdateResult:
    """Upload `image` as the next firmware, reset, and report what runs afterwards."""
    start = time.monotonic()
    if len(image) > IMG_SIZE:
        raise FirmwareError(f"image is {len(image)} bytes; the WiPy's updater takes at most {IMG_SIZE} "
                            "(bootmgr/flc.h IMG_SIZE)")
    warning = "" if md5_ok(image) else ("the image's last 32 bytes are not its MD5: the boot manager will "
                                        "reject it and boot the previous firmware")
    expected = image_version(image)
    before = running_version(url, 10.0)
    with WipyFtp.from_url(url) as ftp:
        ftp.put_special(IMAGE_PATH, image)
    reset(url)
    after = running_version(url, boot_timeout)
    if expected is not None and after == expected:
        outcome = "unchanged" if before == expected else "updated"
    elif after == before:
        outcome = "rolled-back"
    else:
        outcome = "unknown"
    return UpdateResult(outcome, before, after, expected, time.monotonic() - start, warning)
