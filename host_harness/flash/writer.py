"""Flash one board on one port through esptool's Python API.

Sequence per attempt: detect_chip → (chip check) → run_stub → change_baud → attach_flash →
[MD5 compare: skip when identical] → write_flash → verify_flash → reset_chip → boot output (bootcheck.py).

Retry ladder (as mpflash does for flaky USB-UARTs): compressed at the board's baud → uncompressed at
the board's baud → uncompressed at 115200. Each rung opens a fresh connection. Problems that a retry
cannot fix (wrong chip, nothing answering, port busy) stop at once.
"""

from __future__ import annotations

import dataclasses
import socket
import time
from dataclasses import dataclass, field

import serial

from ..boards import Board
from .appimage import firmware_app_desc
from .bootcheck import BOOTING_STATES, boot_line, watch_boot
from .errors import ConnectError, FlashError, PortError, VerifyError, WrongChipError
from .esplog import BoardLog
from .image import FirmwareImage, esptool_chip_names, flash_layout
from .ports import SOCKET_NOTE, check_local_port, check_port_url, is_network, is_socket, open_failure

ROM_BAUD = 115200


@dataclass(frozen=True)
class Rung:
    label: str
    compress: bool
    baud: int | None  # None: the board's [flash] baud


LADDER = (
    Rung("compressed", True, None),
    Rung("uncompressed", False, None),
    Rung("uncompressed at 115200 baud", False, ROM_BAUD),
)


@dataclass(frozen=True)
class FlashOptions:
    force: bool = False  # write even when the flash already holds the image
    verify_only: bool = False  # compare only; never write
    connect_attempts: int = 7  # esptool's sync attempts (each cycles a reset strategy)
    baud: int | None = None  # override the board's [flash] baud
    ladder: tuple[Rung, ...] = LADDER
    deadline_s: float = 600.0  # whole flash of one board


@dataclass
class FlashResult:
    board: str
    port: str
    outcome: str = "failed"  # written | skipped | verified | checked (identity only) | failed
    error: str | None = None
    attempts: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    chip: str | None = None
    bytes_written: int = 0
    duration: float = 0.0
    log_path: str | None = None
    identity: dict | None = None  # IdentityResult as a dict, when the identity step ran
    boot: dict | None = None  # bootcheck.BootResult as a dict, when the reset's boot output was read

    @property
    def ok(self) -> bool:
        identity_ok = self.identity is None or self.identity["status"] in ("ok", "skipped")
        boot_ok = self.boot is None or self.boot["status"] in BOOTING_STATES
        return self.outcome != "failed" and identity_ok and boot_ok


class _Retryable(Exception):
    """A failure during write/verify that the next ladder rung may get past."""


def flash_port(board: Board, url: str, image: FirmwareImage, options: FlashOptions,
               log: BoardLog) -> FlashResult:
    """Flash (or verify) `image` on the board at `url`; raise a FlashError subclass on failure."""
    from esptool.util import FatalError

    flash_layout(board)  # refuses boards without a usable [flash] table before the port is touched
    result = FlashResult(board=board.name, port=url, log_path=str(log.path))
    start = time.monotonic()
    check_port_url(url)
    check_local_port(url)
    if is_socket(url):
        result.notes.append(SOCKET_NOTE)
        log.line(f"Note: {SOCKET_NOTE}")
    rungs = options.ladder[:1] if options.verify_only else options.ladder
    last_error = ""
    for index, rung in enumerate(rungs):
        label = "verify" if options.verify_only else rung.label
        result.attempts.append(label)
        if index:
            log.status(f"retrying {label} (previous attempt: {last_error})")
            time.sleep(0.3)  # let the board (or a socket server) drop the old session first
        try:
            _attempt(board, url, image, options, rung, log, result, first=index == 0)
            result.duration = time.monotonic() - start
            return result
        except _Retryable as exc:
            last_error = str(exc)
            log.line(f"attempt '{label}' failed: {last_error}")
        except (FatalError, serial.SerialException, OSError) as exc:  # e.g. stub upload or baud change
            last_error = _first_line(exc)
            log.line(f"attempt '{label}' failed: {last_error}")
    raise FlashError(f"{board.name} on {url}: flashing failed after {len(rungs)} attempts "
                     f"({', '.join(result.attempts)}); last error: {last_error}")


def _attempt(board: Board, url: str, image: FirmwareImage, options: FlashOptions, rung: Rung,
             log: BoardLog, result: FlashResult, *, first: bool) -> None:
    from esptool.cmds import attach_flash, detect_flash_size, reset_chip, run_stub, verify_flash, write_flash
    from esptool.util import FatalError, flash_size_bytes

    layout = flash_layout(board)
    esp = _connect(board, url, options, log)
    try:
        result.chip = esp.CHIP_NAME
        log.status("starting stub flasher")
        esp = run_stub(esp)  # the returned stub loader replaces the ROM loader
        baud = rung.baud or options.baud or layout.baud
        if not is_network(url) and baud != ROM_BAUD:
            esp.change_baud(baud)  # a socket:// link has no baud rate to change
        attach_flash(esp)
        detected = detect_flash_size(esp)
        if detected and image.offset + image.size > flash_size_bytes(detected):
            raise FlashError(f"{board.name} on {url}: the chip reports {detected} of flash; "
                             f"{image.path.name} ({image.size} bytes at {image.offset:#x}) does not fit "
                             f"(board file says {layout.size})")
        params = {"flash_freq": layout.freq, "flash_mode": layout.mode, "flash_size": layout.size}
        addr_data = [(image.offset, image.data)]
        if options.verify_only or (first and not options.force):
            log.status("comparing flash with image (MD5)")
            same = _same_md5(esp, addr_data, params, verify_flash, FatalError)
            if options.verify_only:
                if not same:
                    raise VerifyError(f"{board.name} on {url}: flash at {image.offset:#x} does not hold "
                                      f"{image.path.name} (MD5 differs)")
                result.outcome = "verified"
                return
            if same:
                log.line(f"{image.path.name} already in flash at {image.offset:#x}: write skipped")
                result.outcome = "skipped"
                _reset(esp, url, image, log, reset_chip, result)
                return
        log.status(f"writing {image.size} bytes at {image.offset:#x} ({rung.label})")
        try:
            write_flash(esp, addr_data, compress=rung.compress, no_compress=not rung.compress, **params)
            log.status("verifying")
            if not _same_md5(esp, addr_data, params, verify_flash, FatalError):
                raise _Retryable("verification after write failed (MD5 differs)")
        except (FatalError, serial.SerialException, OSError) as exc:
            raise _Retryable(_first_line(exc)) from None
        result.outcome = "written"
        result.bytes_written = image.size
        _reset(esp, url, image, log, reset_chip, result)
    finally:
        close_port(esp._port)


def _connect(board: Board, url: str, options: FlashOptions, log: BoardLog):
    """Reach the ROM bootloader and check the chip; one-line errors for the cases a retry cannot fix."""
    from esptool.cmds import detect_chip
    from esptool.util import FatalError

    from ..transport.urls import register

    register()  # esptool opens the URL through pyserial: our rfc2217:// (transport/urls/protocol_rfc2217.py)
    layout = flash_layout(board)
    before = "no-reset" if is_socket(url) else layout.before
    log.status(f"connecting ({before})")
    try:
        esp = detect_chip(url, ROM_BAUD, connect_mode=before, connect_attempts=options.connect_attempts)
    except FatalError as exc:
        text = str(exc)
        if "Could not open" in text:
            if is_network(url):
                raise open_failure(url, _first_line(exc)) from None  # (why, in the transport's words)
            if "busy" in text.lower() and "Errno 2" not in text and "No such file" not in text:
                raise PortError(f"port {url} is busy or cannot be opened: {_first_line(exc)}") from None
            raise open_failure(url, _first_line(exc)) from None
        if "magic value" in text or "chip ID" in text:
            raise WrongChipError(f"{board.name} on {url}: chip not recognised by esptool "
                                 f"({_first_line(exc)})") from None
        hint = ("the board must already be in download mode" if is_socket(url) or before == "no-reset"
                else "hold BOOT (IO0) and tap EN/RST to enter download mode, or check the cable")
        raise ConnectError(f"{board.name} on {url}: no ROM bootloader answered after "
                           f"{options.connect_attempts} connect attempts; {hint}") from None
    except (serial.SerialException, OSError) as exc:
        raise open_failure(url, _first_line(exc)) from None
    expected = esptool_chip_names()[layout.chip]
    if esp.CHIP_NAME != expected:
        close_port(esp._port)
        raise WrongChipError(f"{board.name} on {url}: the chip is {esp.CHIP_NAME}, but the board file says "
                             f"{expected}; nothing was written")
    log.line(f"chip {esp.CHIP_NAME} detected")
    return esp


def _same_md5(esp, addr_data, params, verify_flash, fatal) -> bool:
    """esptool's verify_flash compares MD5s on the chip (no read-back: the mock's stub read is broken)."""
    try:
        verify_flash(esp, addr_data, diff=False, **params)
    except fatal as exc:
        if "Verification failed" in str(exc):
            return False
        raise
    return True


def _reset(esp, url: str, image: FirmwareImage, log: BoardLog, reset_chip, result: FlashResult) -> None:
    log.status("resetting")
    if is_socket(url):
        log.line("socket:// port: no reset line; reset the board by hand to run the new firmware")
        return
    reset_chip(esp, "hard-reset")
    log.status("watching the boot")
    boot = watch_boot(esp._port, firmware_app_desc(image.data, image.offset),
                      log=lambda text: log.write("boot output:\n" + text + "\n"))
    log.line(boot_line(boot.status, boot.reason))
    result.boot = dataclasses.asdict(boot)


def close_port(port) -> None:
    """Close esptool's port. For socket:// close the socket directly: pyserial's close() sleeps 0.3 s
    "for quick reconnects", which would be most of an identical re-flash; the ladder waits itself."""
    try:
        sock = getattr(port, "_socket", None)
        if is_socket(getattr(port, "portstr", "") or "") and sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()
            port._socket = None
            port.is_open = False
            return
        port.close()
    except (OSError, AttributeError):
        pass


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__

