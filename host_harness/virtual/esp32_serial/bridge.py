"""The USB-UART bridge of a virtual ESP32, served as RFC2217 on loopback with pyserial's PortManager.

pyserial's rfc2217.PortManager is the server half of the protocol (telnet negotiation, SET_BAUDRATE,
SET_CONTROL DTR/RTS, modem state); it drives a pyserial-like port object.  `BridgePort` is that object: its
DTR/RTS are the bridge's outputs wired to the chip's auto-reset circuit (chip.Chip).

Timing: "the RTS and DTR signals cannot be retransmitted through RFC 2217 with proper timing" (esptool's
esp_rfc2217_server/esp_port_manager.py, which therefore runs the whole reset sequence on the server).  The
pyserial client waits for each SET_CONTROL answer, polling every 50 ms, so ClassicReset's step from "EN low"
(RTS) to "IO0 low" (DTR) passes through DTR=RTS=1 for ~50 ms — longer than the EN RC delay — and the chip
would boot normally.  The bridge therefore holds a DTR rise that comes while RTS holds EN low, for up to
DTR_HOLD_S, and applies it together with the RTS release that follows: the single transition esptool's
UnixTightReset makes with one TIOCMSET on a local tty.  Every other change (an open's DTR/RTS, HardReset's
RTS pulse, BoardSession's pulse) goes through at once, so opening the port resets nothing.
One client at a time, as a tty held open by one program: a second connection is refused with a line of
text and closed.  A client that goes away deasserts DTR and RTS together (HUPCL on close): no reset.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable

import serial
from serial.rfc2217 import PortManager

from .chip import ROM_BAUD, Chip, _drop

DTR_HOLD_S = 0.3
BUSY_TEXT = b"usocket-hil virtual ESP32: port busy (another client holds it)\r\n"


class BridgePort:
    """What PortManager reads and sets: line settings, the modem inputs, and DTR/RTS into the chip."""

    def __init__(self, chip: Chip) -> None:
        self._chip = chip
        self.bytesize = serial.EIGHTBITS
        self.parity = serial.PARITY_NONE
        self.stopbits = serial.STOPBITS_ONE
        self.xonxoff = False
        self.rtscts = False
        self.break_condition = False
        self.cts = self.dsr = self.ri = self.cd = False  # not wired on a DevKitC
        self._dtr = self._rts = False
        self._lock = threading.Lock()
        self._held: threading.Timer | None = None

    @property
    def baudrate(self) -> int:
        return self._chip.host_baud

    @baudrate.setter
    def baudrate(self, value: int) -> None:
        self._chip.host_baud = int(value)

    @property
    def dtr(self) -> bool:
        return self._dtr

    @dtr.setter
    def dtr(self, value: bool) -> None:
        value = bool(value)
        with self._lock:
            rising_in_reset = value and not self._dtr and self._rts
            self._dtr = value
            if rising_in_reset:  # ClassicReset's middle step: wait for the RTS release that follows
                self._held = threading.Timer(DTR_HOLD_S, self._apply_held)
                self._held.start()
                return
            self._cancel_held()
            self._chip.set_lines(dtr=value)

    def _apply_held(self) -> None:
        with self._lock:
            if self._held is not None:
                self._held = None
                self._chip.set_lines(dtr=self._dtr)

    def _cancel_held(self) -> None:
        if self._held is not None:
            self._held.cancel()
            self._held = None

    @property
    def rts(self) -> bool:
        return self._rts

    @rts.setter
    def rts(self, value: bool) -> None:
        with self._lock:
            self._rts = bool(value)
            self._cancel_held()  # a held DTR rise goes out in the same transition
            self._chip.set_lines(dtr=self._dtr, rts=self._rts)

    def release(self) -> None:
        """Both lines deasserted at once, as the tty driver does on close (one at a time could reset)."""
        with self._lock:
            self._cancel_held()
            self._dtr = self._rts = False
            self._chip.set_lines(dtr=False, rts=False)

    def reset_input_buffer(self) -> None:
        pass

    def reset_output_buffer(self) -> None:
        pass


class _Connection:
    """PortManager's `connection`: write() sends to the client; shared by the chip and telnet replies."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.lock = threading.Lock()

    def write(self, data: bytes) -> None:
        with self.lock:
            self.sock.sendall(data)


class Rfc2217Bridge:
    def __init__(self, chip: Chip, *, host: str = "127.0.0.1", port: int = 0,
                 log: Callable[[str], None] = lambda s: None) -> None:
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError("the virtual ESP32 serves on loopback only")
        self.chip = chip
        self.port = BridgePort(chip)
        self.log = log
        self.listener = socket.create_server((host, port))
        self.listener.settimeout(0.2)
        self.stop = threading.Event()
        self._client: socket.socket | None = None
        self._threads: list[threading.Thread] = []

    @property
    def url(self) -> str:
        host, port = self.listener.getsockname()[:2]
        return f"rfc2217://{host}:{port}"

    def serve(self) -> None:
        """Accept clients until stop is set (run it in a thread or as the process's main loop)."""
        while not self.stop.is_set():
            try:
                sock, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                break
            if self._client is not None:
                try:
                    sock.sendall(BUSY_TEXT)
                finally:
                    sock.close()
                self.log("refused a second client")
                continue
            self._client = sock
            t = threading.Thread(target=self._serve_client, args=(sock,), name="rfc2217-client", daemon=True)
            self._threads = [x for x in self._threads if x.is_alive()] + [t]
            t.start()

    def _serve_client(self, sock: socket.socket) -> None:
        conn = _Connection(sock)
        manager = PortManager(self.port, conn)
        self.chip.host_baud = ROM_BAUD  # a fresh open starts at the client's rate (it sets it at once)

        def to_client(data: bytes) -> None:
            try:
                conn.write(b"".join(manager.escape(data)))
            except OSError:
                pass

        self.chip.output = to_client
        sock.settimeout(0.2)
        self.log("client connected")
        try:
            while not self.stop.is_set():
                try:
                    data = sock.recv(65536)
                except TimeoutError:
                    manager.check_modem_lines()
                    continue
                if not data:
                    break
                payload = b"".join(manager.filter(data))
                if payload:
                    self.chip.from_host(payload)
        except OSError:
            pass
        finally:
            self.chip.output = _drop
            self.port.release()
            sock.close()
            self._client = None
            self.log("client disconnected")

    def close(self) -> None:
        self.stop.set()
        self.listener.close()
        client = self._client
        if client is not None:
            try:
                client.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        for t in self._threads:
            t.join(5)
