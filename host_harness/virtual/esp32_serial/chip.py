"""A virtual ESP32 on the far side of a USB-UART bridge: reset circuit, ROM, flash and the booted firmware.

The DevKitC auto-reset circuit (Espressif ESP32-DevKitC schematic: two NPN transistors cross-coupled
between DTR/RTS and EN/IO0) as esp_pylib/serial_reset.py drives it — an asserted line pulls its pin low:
    DTR RTS  ->  EN  IO0
     0   0       1   1
     1   1       1   1
     0   1       0   1     (RTS alone: chip held in reset)
     1   0       1   0     (DTR alone: IO0 low)
EN carries an RC delay (10 kΩ pull-up, 1 µF), so the chip leaves reset EN_RELEASE_S after EN rises and
latches IO0 then: that is why ClassicReset's brief DTR=RTS=1 step between "EN low" and "IO0 low" does not
boot the chip normally.  IO0 low at the latch → ROM download mode, where the real esp32-mock-bootloader
(its server.handle_client, over a socket pair) speaks the ROM/stub protocol against this chip's flash;
IO0 high → the boot chain of bootchain.py, then, for a MicroPython app, the virtual-esp32 board
(host_harness.virtual.VirtualBoard, esp32 port model) showing the app descriptor's version in its banner.

One chip per process: the firmware version reaches the board's banner through the environment.
"""

from __future__ import annotations

import os
import select
import socket
import threading
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from ...flash.appimage import AppDescriptor
from . import bootchain

EN_RELEASE_S = 0.02
ROM_BAUD = 115200
BOOT_LOOP_PAUSE_S = 0.4  # a self-reset and the ROM's restart before the next banner
BYTES_PER_S = ROM_BAUD // 10  # 8N1: the boot log arrives at the pace a real UART sends it

Output = Callable[[bytes], None]


def _drop(_data: bytes) -> None:
    """No terminal open on the bridge: the bytes are lost, as on a USB-UART whose port is closed."""


def banner_date(app: AppDescriptor) -> str:
    """__DATE__ ("Nov 29 2025") as MicroPython's banner prints its build date ("2025-11-29")."""
    try:
        return datetime.strptime(" ".join(app.date.split()), "%b %d %Y").strftime("%Y-%m-%d")
    except ValueError:
        return app.date


class Chip:
    def __init__(self, *, flash_file: Path | None = None, log_level: str = "info",
                 board: str = "virtual-esp32", log: Callable[[str], None] = lambda s: None) -> None:
        from esp32_mock_bootloader.server import FlashImage

        self.flash = FlashImage()  # the mock's flash store: 4 MiB of 0xFF until written
        self.flash_file = flash_file
        if flash_file is not None and flash_file.exists():
            data = flash_file.read_bytes()
            self.flash.data[:len(data)] = data
        self.log_level = log_level
        self.board = board
        self.log = log
        self.output: Output = _drop
        self._lock = threading.Lock()
        self._dtr = self._rts = False
        self._en = True
        self._io0 = True
        self._run: _PowerCycle | None = None
        self._sink: Callable[[bytes], None] = _drop
        self.host_baud = ROM_BAUD
        self.follows_host_baud = False  # the stub changes the chip's baud with the host's; the app does not
        self.boots = 0
        self._start_cycle()  # power applied: EN rises through its RC like after any reset

    # -- the bridge side ------------------------------------------------------------------------
    def set_lines(self, *, dtr: bool | None = None, rts: bool | None = None) -> None:
        with self._lock:
            if dtr is not None:
                self._dtr = dtr
            if rts is not None:
                self._rts = rts
            en = not (self._rts and not self._dtr)
            self._io0 = not (self._dtr and not self._rts)
            if en == self._en:
                return
            self._en = en
            if not en:
                self.log("EN low: chip in reset")
                self._stop_cycle()
            else:
                self._start_cycle()

    def from_host(self, data: bytes) -> None:
        if not self.follows_host_baud and self.host_baud != ROM_BAUD:
            return  # framing errors at the wrong baud rate: the chip's UART receives nothing usable
        self._sink(data)

    def emit(self, data: bytes) -> None:
        if not self.follows_host_baud and self.host_baud != ROM_BAUD:
            data = bytes((b | 0x80) ^ 0x15 for b in data)  # what a terminal at the wrong baud shows
        self.output(data)

    def close(self) -> None:
        with self._lock:
            self._stop_cycle()
            run, self._run = self._run, None
        if run is not None:
            run.thread.join(15)

    # -- power cycles ---------------------------------------------------------------------------
    def _start_cycle(self) -> None:
        previous = self._run
        self._run = _PowerCycle(self, previous)
        self._run.thread.start()

    def _stop_cycle(self) -> None:
        if self._run is not None:
            self._run.cancel.set()
        self._sink = _drop

    def io0_low(self) -> bool:
        with self._lock:
            return not self._io0

    def read_flash(self, addr: int, length: int) -> bytes:
        return self.flash.read(addr, length)

    def save_flash(self) -> None:
        if self.flash_file is not None:
            tmp = self.flash_file.with_name(self.flash_file.name + ".tmp")
            tmp.write_bytes(bytes(self.flash.data))
            os.replace(tmp, self.flash_file)


class _PowerCycle:
    """From one EN rise to the next EN fall: waits out the RC delay, latches IO0, runs ROM → app."""

    def __init__(self, chip: Chip, previous: _PowerCycle | None) -> None:
        self.chip = chip
        self.previous = previous
        self.cancel = threading.Event()
        self.thread = threading.Thread(target=self._main, name="esp32-power", daemon=True)

    def _main(self) -> None:
        if self.previous is not None:
            self.previous.thread.join()  # the last firmware is fully stopped before this boot starts
            self.previous = None
        if self.cancel.wait(EN_RELEASE_S):
            return
        chip = self.chip
        download = chip.io0_low()
        chip.boots += 1
        reason = bootchain.POWERON_RESET
        try:
            while not self.cancel.is_set():
                boot = bootchain.plan(chip.read_flash, download=download, reason=reason,
                                      log_level=chip.log_level)
                chip.log(f"boot #{chip.boots}: {boot.outcome}" + (f" ({boot.app.label()})" if boot.app else ""))
                if download:
                    chip.emit(boot.text.encode())
                    self._download()
                    return
                if not self._paced(boot.text.encode()):
                    return
                if boot.outcome == "reset":
                    if self.cancel.wait(BOOT_LOOP_PAUSE_S):
                        return
                    reason = boot.next_reason
                    continue
                assert boot.app is not None
                self._app(boot.app)
                return
        except Exception as exc:  # noqa: BLE001  (a model bug must show in the device log, not vanish)
            chip.log(f"power cycle failed: {type(exc).__name__}: {exc}")

    def _paced(self, data: bytes) -> bool:
        for pos in range(0, len(data), 256):
            self.chip.emit(data[pos:pos + 256])
            if self.cancel.wait(256 / BYTES_PER_S):
                return False
        return True

    def _download(self) -> None:
        """ROM download mode: the mock bootloader answers esptool until the next reset."""
        from esp32_mock_bootloader.server import BootloaderConnection, handle_client

        chip = self.chip
        ours, theirs = socket.socketpair()
        conn = BootloaderConnection(sock=theirs, track_disconnect=True)
        mock = threading.Thread(target=handle_client, args=(conn, self.cancel, "esp32"),
                                kwargs={"exit_on_disconnect": True, "flash": chip.flash},
                                name="esp32-rom", daemon=True)
        mock.start()
        chip.follows_host_baud = True
        chip._sink = ours.sendall
        ours.settimeout(0.05)
        try:
            while not self.cancel.is_set():
                try:
                    data = ours.recv(65536)
                except TimeoutError:
                    continue
                if not data:
                    break
                chip.emit(data)
        finally:
            chip._sink = _drop
            chip.follows_host_baud = False
            ours.close()
            mock.join(5)
            chip.save_flash()

    def _app(self, app: AppDescriptor) -> None:
        if app.project_name != "micropython":
            self.chip.log(f"app {app.label()} is not MicroPython: it runs silently")
            self.cancel.wait()
            return
        from .. import VirtualBoard

        os.environ["VBOARD_FW_VERSION"] = app.version
        os.environ["VBOARD_FW_DATE"] = banner_date(app)
        vb = VirtualBoard(self.chip.board, network=False)
        try:
            vb.start()
            if self.cancel.is_set():
                return
            self._bridge(vb.port_url)
        finally:
            vb.close()

    def _bridge(self, pty_path: str) -> None:
        """UART0 <-> the board's pty, until the next reset."""
        chip = self.chip
        fd = os.open(pty_path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)

        def to_board(data: bytes) -> None:  # runs in the bridge's client thread: backpressure is fine there
            view = memoryview(data)
            while view and not self.cancel.is_set():
                try:
                    view = view[os.write(fd, view):]
                except BlockingIOError:
                    time.sleep(0.001)

        chip._sink = to_board
        try:
            while not self.cancel.is_set():
                if select.select([fd], [], [], 0.05)[0]:
                    try:
                        data = os.read(fd, 65536)
                    except (BlockingIOError, OSError):
                        data = b""
                    if data:
                        chip.emit(data)
        finally:
            chip._sink = _drop
            os.close(fd)
