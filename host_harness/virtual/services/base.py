"""What the network services of a virtual board share: sockets in the board's namespace, the console line,
a stop signal, and a session that a reset or a WLAN event cuts.

A service session reaches the board's REPL by connecting to the supervisor's console listener on loopback,
the way a cable takes over a UART (supervisor.py: one console line at a time; the pty gets it back when
the session ends), or as an os.dupterm stream beside the line (the ESP32's WebREPL; linemux.py).
"""

from __future__ import annotations

import logging
import os
import select
import socket
import threading
from collections.abc import Callable

from ..linemux import DUPTERM_PORTS

log = logging.getLogger(__name__)

SocketFactory = Callable[[], socket.socket]


class Stopper:
    """A pipe that wakes every select() of a service when it must stop or drop its sessions."""

    def __init__(self) -> None:
        self.r, self.w = os.pipe()
        os.set_blocking(self.r, False)
        self.stopping = False
        self.generation = 0  # bumped by every reset: a session started in an older one ends

    def kick(self, *, stop: bool = False) -> None:
        self.generation += 1
        self.stopping = self.stopping or stop
        try:
            os.write(self.w, b"x")
        except OSError:
            pass

    def drain(self) -> None:
        try:
            while os.read(self.r, 512):
                pass
        except (BlockingIOError, OSError):
            pass

    def close(self) -> None:
        for fd in (self.r, self.w):
            try:
                os.close(fd)
            except OSError:
                pass


class Service(threading.Thread):
    """One server: a thread that listens on the board's address until stopped."""

    name_ = "service"

    def __init__(self, *, board_socket: SocketFactory, board_ip: str, console_port: int, stopper: Stopper,
                 on_sockets: Callable[[], None]) -> None:
        super().__init__(name=f"vboard-{self.name_}", daemon=True)
        self.board_socket = board_socket
        self.board_ip = board_ip
        self.console_port = console_port
        self.stopper = stopper
        self.on_sockets = on_sockets
        self.sockets = 0  # this server's open sockets (the WiPy's socket budget)

    def count(self, delta: int) -> None:
        self.sockets += delta
        self.on_sockets()

    def listen(self, port: int, backlog: int = 0) -> socket.socket:
        s = self.board_socket()
        try:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # inherited by accepted connections:
            s.bind((self.board_ip, port))  # raw-paste's one-byte window grants must not wait for Nagle
            s.listen(backlog)
        except OSError:
            s.close()
            raise
        self.count(+1)
        return s

    def close_counted(self, s: socket.socket | None) -> None:
        if s is not None and s.fileno() >= 0:
            s.close()
            self.count(-1)

    def wait(self, socks: list[socket.socket], timeout: float) -> list[socket.socket]:
        """select() on `socks` and the stop pipe; [] when the stopper kicked or time ran out."""
        ready, _, _ = select.select([*socks, self.stopper.r], [], [], timeout)
        if self.stopper.r in ready:
            self.stopper.drain()
            return []
        return [s for s in ready if s is not self.stopper.r]

    def open_console(self, *, dupterm: bool = False) -> socket.socket:
        """A connection to the board's console: it takes the line over, as a cable on the UART does, or with
        `dupterm` is an os.dupterm stream beside the line (linemux.py)."""
        if not dupterm:
            c = socket.create_connection(("127.0.0.1", self.console_port), timeout=5)
        else:
            c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            try:
                c.bind(("127.0.0.1", 0))
                DUPTERM_PORTS.add(c.getsockname()[1])  # known to the line before it accepts us
                c.settimeout(5)
                c.connect(("127.0.0.1", self.console_port))
            except OSError:
                DUPTERM_PORTS.take(c.getsockname()[1])
                c.close()
                raise
        c.settimeout(None)  # the connect has a deadline; reads wait for the board as long as the session lasts
        c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return c

    def run(self) -> None:
        while not self.stopper.stopping:
            try:
                self.serve()
            except Exception as exc:  # noqa: BLE001  (a server must outlive one bad session)
                if self.stopper.stopping:
                    break
                log.warning("%s: %s; restarting the server", self.name_, exc)
                self.wait([], 0.5)

    def serve(self) -> None:
        raise NotImplementedError
