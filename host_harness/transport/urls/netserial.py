"""NetSerial: the pyserial face (read/write/in_waiting/timeouts) of a REPL session carried over the network.

Subclasses open the session (TCP, login or password, websocket) and move bytes; this class gives them the
serial semantics mpremote and BoardSession rely on: `read(n)` waits at most `timeout` and may return short,
`in_waiting` never blocks, and a session the board dropped raises SerialException (an OSError), which
BoardSession treats as a lost link and answers by reopening the URL: a new login, as after a USB unplug.
Modem lines (dtr/rts) are accepted and do nothing: a network REPL has no reset wiring.
"""

from __future__ import annotations

import serial
from serial.serialutil import PortNotOpenError, SerialBase, Timeout

from .network import NetUrl


class NetSerial(SerialBase):
    SCHEME = ""
    DEFAULT_PORT = 0
    OPTIONS: tuple[str, ...] = ("netns",)
    OPEN_TIMEOUT = 10.0  # connect + login

    def __init__(self, *args, **kwargs) -> None:
        self._buf = bytearray()
        self.url: NetUrl | None = None
        super().__init__(*args, **kwargs)

    # -- what a subclass provides ---------------------------------------------------------------------
    def _open_session(self, u: NetUrl) -> None:
        raise NotImplementedError

    def _recv_some(self, timeout: float | None) -> bytes:
        """Bytes that arrived within `timeout` (b"" if none); SerialException if the session is gone."""
        raise NotImplementedError

    def _send(self, data: bytes) -> None:
        raise NotImplementedError

    def _close_session(self) -> None:
        raise NotImplementedError

    # -- pyserial -------------------------------------------------------------------------------------
    def from_url(self, url: str) -> NetUrl:
        from .network import parse

        return parse(url, self.SCHEME, self.DEFAULT_PORT, self.OPTIONS)

    def open(self) -> None:
        if self._port is None:
            raise serial.SerialException("port must be configured before it can be used")
        if self.is_open:
            raise serial.SerialException("port already open")
        self.url = self.from_url(self.portstr)
        self._buf.clear()
        self._open_session(self.url)  # raises SerialException with the reason
        self.is_open = True

    def _reconfigure_port(self, force_update: bool = False) -> None:
        pass  # baud rate, parity, ...: nothing to configure on a network REPL

    def close(self) -> None:
        if self.is_open:
            self.is_open = False
            self._close_session()
        self._buf.clear()

    @property
    def in_waiting(self) -> int:
        if not self.is_open:
            raise PortNotOpenError()
        for _ in range(64):  # take what has arrived (several frames or segments), never wait
            chunk = self._recv_some(0)
            if not chunk:
                break
            self._buf += chunk
        return len(self._buf)

    def read(self, size: int = 1) -> bytes:
        if not self.is_open:
            raise PortNotOpenError()
        timeout = Timeout(self._timeout)
        while len(self._buf) < size:
            left = timeout.time_left()
            if left is not None and left <= 0:
                break
            self._buf += self._recv_some(left)
        out = bytes(self._buf[:size])
        del self._buf[:size]
        return out

    def write(self, data: bytes) -> int:
        if not self.is_open:
            raise PortNotOpenError()
        data = bytes(data)
        self._send(data)
        return len(data)

    def flush(self) -> None:
        pass

    def reset_input_buffer(self) -> None:
        if not self.is_open:
            raise PortNotOpenError()
        self._buf.clear()
        while self._recv_some(0):
            pass

    def reset_output_buffer(self) -> None:
        pass

    def send_break(self, duration: float = 0.25) -> None:
        pass

    def _update_break_state(self) -> None:
        pass

    def _update_rts_state(self) -> None:
        pass

    def _update_dtr_state(self) -> None:
        pass

    @property
    def cts(self) -> bool:
        return True

    @property
    def dsr(self) -> bool:
        return True

    @property
    def ri(self) -> bool:
        return False

    @property
    def cd(self) -> bool:
        return True
