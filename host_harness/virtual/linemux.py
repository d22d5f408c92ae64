"""The supervisor's serial line: one console multiplexed between the host side (pty master, or a TCP
client, which takes the line over as reopening a port does) and the interpreter's stdin/stdout pipes.

Data path:  host --pty master / TCP--> [LineMux] --stdin pipe--> micropython (vboard.py)
            host <--pty master / TCP-- [LineMux] <--stdout pipe-- micropython (stdout and stderr)
A console connection made as an os.dupterm stream (services/base.py `open_console(dupterm=True)`: the ESP32's
WebREPL) does not take the line: as on esp32 (ports/esp32/mphalport.c: mp_hal_stdout_tx_strn writes to the
UART and then mp_os_dupterm_tx_strn; mp_hal_stdin_rx_chr takes the UART's ring buffer, then
mp_os_dupterm_rx_chr) the board's output goes to it and to the serial line, and input comes from either.
One such stream at a time (ports/esp32/mpconfigport.h MICROPY_PY_OS_DUPTERM 1).
Buffers have high-water marks so neither side can make the supervisor grow without bound.  A control pipe
from the board says when user code runs ("A") and when the REPL reads ("D"): only then is a 0x03 byte
turned into SIGINT, as a real board's interrupt character is armed only during execution.
A mixin of Supervisor (supervisor.py), which owns the fds; the interpreter's life cycle is interpreter.py.
"""

from __future__ import annotations

import math
import os
import select
import selectors
import signal
import socket
import threading
import time
from collections.abc import Callable

OUT_HIGH_WATER = 64 * 1024  # stop reading the board's output while this much waits for the host
IN_HIGH_WATER = 64 * 1024  # stop reading the host while this much waits for the board
# A SIGINT in the interpreter's first moments (before MicroPython installs its handler) kills it, so a
# Ctrl-C that arrives this soon after a spawn is held back until the window has passed.
SPAWN_GRACE_S = 0.5


class DuptermPorts:
    """The local ports of console connections that are dupterm streams, registered (in this process, by the
    service that makes the connection) before they connect, and taken by the line when it accepts them."""

    def __init__(self) -> None:
        self._ports: set[int] = set()
        self._lock = threading.Lock()

    def add(self, port: int) -> None:
        with self._lock:
            self._ports.add(port)

    def take(self, port: int) -> bool:
        with self._lock:
            if port not in self._ports:
                return False
            self._ports.discard(port)
            return True


DUPTERM_PORTS = DuptermPorts()


class LineMux:
    """Moves bytes between the host side and the interpreter; relays an armed Ctrl-C as SIGINT."""

    dupterm: socket.socket | None = None  # the dupterm stream attached, if any
    dup_out = bytearray()  # replaced by the stream's own buffer when one attaches (accept)

    def drain_ctl(self) -> None:
        try:
            data = os.read(self.pipes["ctl"][0], 4096)
        except BlockingIOError:
            return
        if data:
            self.armed = data[-1:] == b"A"

    def from_host(self, data: bytes) -> None:
        self.drain_ctl()  # the board may have just started running code
        if b"\x03" not in data or not self.armed:
            self.inbuf += data
            return
        for part_index, part in enumerate(data.split(b"\x03")):
            if part_index:
                self.interrupt()
            self.inbuf += part

    def interrupt(self) -> None:
        # A real board's interrupt character never reaches its input buffer while code runs.
        if time.monotonic() - self.spawned_at < SPAWN_GRACE_S:
            self.pending_sigint = True
            return
        self.send_sigint()

    def send_sigint(self) -> None:
        self.pending_sigint = False
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.kill(self.proc.pid, signal.SIGINT)
            except ProcessLookupError:
                pass

    def from_board(self, data: bytes) -> None:
        self.tail.append(data)
        # One serial line: a TCP client, when connected, is the console; otherwise the pty is.
        if self.client is not None:
            self.tcp_out += data
        else:
            self.pty_out += data
            if self.dupterm is not None and len(self.pty_out) > OUT_HIGH_WATER:
                # A UART sends whether or not anyone listens: an unread pty must not stall the dupterm stream
                del self.pty_out[:len(self.pty_out) - OUT_HIGH_WATER]
        if self.dupterm is not None:
            self.dup_out += data

    def backlog(self) -> int:
        """Board output still waiting for a reader that holds the board back (an unread pty beside a dupterm
        stream does not: it drops its oldest bytes)."""
        pty = len(self.pty_out) if self.dupterm is None or self.client is not None else 0
        return pty + len(self.tcp_out) + len(self.dup_out)

    def accept(self) -> None:
        assert self.listener is not None
        try:
            conn, peer = self.listener.accept()
        except BlockingIOError:
            return
        if DUPTERM_PORTS.take(peer[1]):
            self.drop_dupterm()  # (one stream: the service makes one at a time)
            conn.setblocking(False)
            self.dupterm = conn
            self.dup_out = bytearray()
            return
        if self.client is not None:  # a new connection takes the line over, as reopening a port does
            self.drop_client()
        conn.setblocking(False)
        self.client = conn
        self.tcp_out.clear()

    def drop_client(self) -> None:
        if self.client is not None:
            self.client.close()
            self.client = None
            self.tcp_out.clear()

    def drop_dupterm(self) -> None:
        if self.dupterm is not None:
            self.dupterm.close()
            self.dupterm = None
            self.dup_out = bytearray()

    def pump(self, timeout: float) -> None:
        stdin_w = self.pipes["stdin"][1]
        out_r = self.pipes["stdout"][0]
        ctl_r = self.pipes["ctl"][0]
        # Which fds to watch depends on the buffers' fill levels, so they are registered anew each round: on a
        # poll object, which costs no system call until the poll (a fresh epoll selector cost ~8 a round).
        poller = select.poll()
        names: dict[int, tuple[str, int]] = {}

        def watch(f: int | socket.socket, events: int, name: str) -> None:
            fd = f if isinstance(f, int) else f.fileno()
            poller.register(fd, events)
            names[fd] = (name, events)

        watch(self.wake_r, select.POLLIN, "wake")
        watch(ctl_r, select.POLLIN, "ctl")
        if self.backlog() < OUT_HIGH_WATER:
            watch(out_r, select.POLLIN, "out")
        master_ev = (select.POLLIN if len(self.inbuf) < IN_HIGH_WATER else 0) | (
            select.POLLOUT if self.pty_out else 0)
        if master_ev:
            watch(self.master, master_ev, "master")
        if self.inbuf:
            watch(stdin_w, select.POLLOUT, "stdin")
        if self.listener is not None:
            watch(self.listener, select.POLLIN, "listen")
        for conn, out, what in ((self.client, self.tcp_out, "client"), (self.dupterm, self.dup_out, "dupterm")):
            if conn is not None and (ev := self._connection_events(out)):
                watch(conn, ev, what)
        events = []
        for fd, revents in poller.poll(math.ceil(timeout * 1000)):
            name, wanted = names[fd]
            # as the selectors module reads poll's answer: a hang-up or error wakes both directions
            mask = (selectors.EVENT_WRITE if revents & ~select.POLLIN else 0) | (
                selectors.EVENT_READ if revents & ~select.POLLOUT else 0)
            interest = (selectors.EVENT_READ if wanted & select.POLLIN else 0) | (
                selectors.EVENT_WRITE if wanted & select.POLLOUT else 0)
            if mask & interest:
                events.append((name, mask & interest))
        order = {"wake": 0, "ctl": 1}  # control first: arming must be known before a 0x03 is judged
        for what, mask in sorted(events, key=lambda e: order.get(e[0], 2)):
            if what == "wake":
                try:
                    os.read(self.wake_r, 512)
                except BlockingIOError:
                    pass
            elif what == "ctl":
                self.drain_ctl()
            elif what == "out":
                try:
                    data = os.read(out_r, 65536)
                except BlockingIOError:
                    data = b""
                if data:
                    self.from_board(data)
            elif what == "master":
                if mask & selectors.EVENT_READ:
                    try:
                        data = os.read(self.master, 65536)
                    except (BlockingIOError, OSError):
                        data = b""
                    if data:
                        self.from_host(data)
                if mask & selectors.EVENT_WRITE and self.pty_out:
                    try:
                        n = os.write(self.master, self.pty_out)
                        del self.pty_out[:n]
                    except BlockingIOError:
                        pass
            elif what == "stdin":
                try:
                    n = os.write(stdin_w, self.inbuf)
                    del self.inbuf[:n]
                except BlockingIOError:
                    pass
            elif what == "listen":
                self.accept()
            elif what == "client" and self.client is not None:
                self._serve_connection(self.client, mask, self.tcp_out, self.drop_client)
            elif what == "dupterm" and self.dupterm is not None:
                self._serve_connection(self.dupterm, mask, self.dup_out, self.drop_dupterm)

    def _connection_events(self, out: bytearray) -> int:
        """What to wait for on a console connection: input while the board's buffer has room, output pending."""
        return (select.POLLIN if len(self.inbuf) < IN_HIGH_WATER else 0) | (select.POLLOUT if out else 0)

    def _serve_connection(self, conn: socket.socket, mask: int, out: bytearray, drop: Callable[[], None]) -> None:
        """One console connection's turn: what it sent goes to the board, what waits for it is sent."""
        try:
            if mask & selectors.EVENT_READ:
                data = conn.recv(65536)
                if not data:
                    drop()
                    return
                self.from_host(data)
            if mask & selectors.EVENT_WRITE and out:
                n = conn.send(out)
                del out[:n]
        except BlockingIOError:
            pass
        except OSError:
            drop()
