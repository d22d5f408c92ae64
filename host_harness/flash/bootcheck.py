"""After the hard reset that ends a flash: did the board boot the image, and is it the firmware we wrote?

Read on the port esptool still holds (a USB-UART or an RFC2217 server keeps nothing while no one listens),
at 115200 baud, the rate of the ROM and of MicroPython's REPL:
- a boot loop — a second ROM banner ("rst:0x.. (REASON),boot:0x..") before any MicroPython banner, e.g.
  "invalid header: 0xffffffff" (nothing bootable at 0x1000) or the 2nd-stage bootloader's "E (..)" lines —
  is `not-booting`, with the first error line as the reason;
- "waiting for download" is `not-booting` too: IO0 was held low (the BOOT button, or the reset wiring);
- MicroPython's banner ("MicroPython v1.24.1 on 2024-11-29; ...") is `booted` when its version matches the
  version in the image's esp_app_desc_t (appimage.py), else `mismatch` (the board runs other firmware);
- nothing conclusive before the deadline is `unknown` (e.g. a build that prints no banner): not a failure,
  the REPL identity check that follows decides.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

from .appimage import AppDescriptor

BOOT_WATCH_S = 10.0
ROM_BAUD = 115200
ROM_RESET = re.compile(rb"rst:(0x[0-9a-fA-F]+) \((\w+)\),boot:(0x[0-9a-fA-F]+)")
BANNER = re.compile(rb"MicroPython (\S+) on (\S+); ([^\r\n]*)\r?\n")
ERROR_LINE = re.compile(rb"(invalid header: 0x[0-9a-fA-F]+|E \(\d+\) [^\r\n]+|ets_main\.c[^\r\n]*|"
                        rb"flash read err[^\r\n]*)")
BOOTING_STATES = ("booted", "unknown")


@dataclass(frozen=True)
class BootResult:
    status: str  # booted | mismatch | not-booting | unknown
    reason: str
    banner: str | None = None

    @property
    def ok(self) -> bool:
        return self.status in BOOTING_STATES


def boot_line(status: str, reason: str) -> str:
    """The verdict as the summaries print it: "boot: booted MicroPython v1.24.1", "boot not-booting: ..."."""
    return f"boot: {reason}" if reason.startswith(status) else f"boot {status}: {reason}"


def same_version(banner_version: str, app_version: str) -> bool:
    """The banner's version against the descriptor's: equal, or one a '-suffix' build of the other
    (ESP-IDF takes the app version from `git describe`, e.g. v1.24.1-dirty)."""
    a, b = banner_version.strip(), app_version.strip()
    return a == b or a.startswith(b + "-") or b.startswith(a + "-")


def judge(data: bytes, expected: AppDescriptor | None, *, final: bool) -> BootResult | None:
    """The verdict on the output so far; None while it is open (and `final` is False)."""
    banner = BANNER.search(data)
    resets = list(ROM_RESET.finditer(data))
    if banner and (len(resets) < 2 or resets[1].start() > banner.start()):
        version = banner.group(1).decode(errors="replace")
        text = banner.group(0).decode(errors="replace").strip()
        if expected is not None and not same_version(version, expected.version):
            return BootResult("mismatch", f"the board runs MicroPython {version}, the image is "
                                          f"{expected.label()}", text)
        return BootResult("booted", f"booted MicroPython {version}", text)
    if b"waiting for download" in data:
        return BootResult("not-booting", "the chip started in download mode (IO0 held low at reset)")
    if len(resets) >= 2:
        first = data[resets[0].end():resets[1].start()]
        error = ERROR_LINE.search(first)
        why = error.group(0).decode(errors="replace") if error else "no error text"
        again = resets[1].group(2).decode()
        return BootResult("not-booting", f"boot loop: {why} (then {again})")
    if not final:
        return None
    if resets:
        return BootResult("unknown", "the ROM started the image, but no MicroPython banner followed")
    return BootResult("unknown", "no boot output on the port (is it the board's UART?)")


def boot_loop_error(tail: bytes) -> str | None:
    """The ROM's error line when `tail` (the last bytes a port gave) is an ESP boot loop: an error line after
    a ROM reset line, or the same error twice (the reset line scrolled out); else None."""
    errors = ERROR_LINE.findall(tail)
    if errors and (ROM_RESET.search(tail) or len(errors) >= 2):
        return errors[-1].decode(errors="replace")
    return None


def watch_boot(port, expected: AppDescriptor | None, *, timeout: float = BOOT_WATCH_S,
               log=None) -> BootResult:
    """Read `port` (an open pyserial port, just after the reset) until judge() decides or `timeout`."""
    if getattr(port, "baudrate", ROM_BAUD) != ROM_BAUD:
        port.baudrate = ROM_BAUD
    port.timeout = 0.1
    data = bytearray()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        chunk = port.read(max(1, port.in_waiting))
        if chunk:
            data += chunk
            verdict = judge(bytes(data), expected, final=False)
            if verdict is not None:
                break
    else:
        verdict = judge(bytes(data), expected, final=True)
    if log is not None:
        log(bytes(data).decode("utf-8", "replace"))
    assert verdict is not None
    return verdict
