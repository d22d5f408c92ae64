"""A local pty in front of a network REPL, so tools that only open serial ports (the real mpremote) drive a
WiPy over telnet or a board over WebREPL unchanged: `usocket-hil bridge URL` (commands/bridge.py).

Two threads move bytes (pty -> session, session -> pty).  When the board drops the session (idle timeout,
WLAN event, reset, WebREPL soft reset) the bridge logs in again within `reconnect_timeout` and keeps the pty,
so the tool on the other side sees a pause, not a vanished port; bytes in flight at the drop are lost, as on
a UART during a reset.  The pty's slave end stays open here, so a tool closing it is no hang-up for us.
"""

from __future__ import annotations

import contextlib
import os
import pty
import select
import sys
import threading
import time
import tty
from collections.abc import Callable
from pathlib import Path

import serial

from ..transport.urls import register


class Bridge:
    def __init__(self, url: str, *, link: Path | None = None, reconnect_timeout: float = 30.0,
                 log: Callable[[str], None] | None = None) -> None:
        register()
        self.url = url
        self.link = link
        self.reconnect_timeout = reconnect_timeout
        self.log = log or (lambda msg: print(f"bridge: {msg}", file=sys.stderr, flush=True))
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.net: serial.SerialBase | None = None
        self.reconnects = 0
        self.master, self.slave = pty.openpty()
        tty.setraw(self.slave)
        os.set_blocking(self.master, False)
        self.pty_path = os.ttyname(self.slave)
        if link is not None:
            with contextlib.suppress(FileNotFoundError):
                if link.is_symlink():
                    link.unlink()
            os.symlink(self.pty_path, link)

    @property
    def port(self) -> str:
        """What to give the tool: the symlink (mpremote treats /dev/pts/* as a QEMU pty) or the pty."""
        return str(self.link) if self.link is not None else self.pty_path

    def open(self) -> None:
        """First connection; SerialException (with the reason) if it fails."""
        self.net = serial.serial_for_url(self.url, timeout=0.2)

    def _reconnect(self, why: str) -> bool:
        with self.lock:
            old, self.net = self.net, None
            if old is not None:
                with contextlib.suppress(Exception):
                    old.close()
            self.log(f"session dropped ({why}); logging in again")
            end = time.monotonic() + self.reconnect_timeout
            last = why
            while not self.stop.is_set() and time.monotonic() < end:
                try:
                    self.net = serial.serial_for_url(self.url, timeout=0.2)
                    self.reconnects += 1
                    self.log("reconnected")
                    return True
                except (serial.SerialException, ValueError) as exc:
                    last = str(exc)
                    self.stop.wait(0.3)
            self.log(f"could not reconnect within {self.reconnect_timeout:g} s: {last}")
            self.stop.set()
            return False

    def _net_to_pty(self) -> None:
        while not self.stop.is_set():
            net = self.net
            if net is None:
                self.stop.wait(0.05)
                continue
            try:
                data = net.read(1)
                if data:
                    data += net.read(net.in_waiting)
            except (serial.SerialException, OSError) as exc:
                if self.net is net:
                    self._reconnect(str(exc))
                continue
            view = memoryview(data)
            while view and not self.stop.is_set():
                try:
                    n = os.write(self.master, view)
                    view = view[n:]
                except BlockingIOError:
                    select.select([], [self.master], [], 0.2)

    def _pty_to_net(self) -> None:
        while not self.stop.is_set():
            ready, _, _ = select.select([self.master], [], [], 0.2)
            if not ready:
                continue
            try:
                data = os.read(self.master, 4096)
            except (BlockingIOError, OSError):
                continue
            while data and not self.stop.is_set():
                net = self.net
                if net is None:
                    self.stop.wait(0.05)
                    continue
                try:
                    net.write(data)
                    data = b""
                except serial.SerialException as exc:
                    if "would be dropped" in str(exc):  # the WiPy's ASCII-only input: tell, do not loop
                        self.log(str(exc))
                        data = b""
                    elif self.net is net:
                        self._reconnect(str(exc))

    def serve(self) -> None:
        """Relay until stop is set (Ctrl-C, SIGTERM, or a reconnect that failed)."""
        threads = [threading.Thread(target=f, name=f.__name__, daemon=True)
                   for f in (self._net_to_pty, self._pty_to_net)]
        for t in threads:
            t.start()
        try:
            while not self.stop.wait(0.5):
                pass
        finally:
            self.stop.set()
            for t in threads:
                t.join(2)

    def close(self) -> None:
        self.stop.set()
        if self.net is not None:
            with contextlib.suppress(Exception):
                self.net.close()
        for fd in (self.master, self.slave):
            with contextlib.suppress(OSError):
                os.close(fd)
        if self.link is not None and self.link.is_symlink():
            self.link.unlink()
