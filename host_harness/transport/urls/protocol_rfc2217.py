"""rfc2217:// — pyserial's RFC2217 client, renegotiating line settings only when they change.

pyserial's rfc2217.Serial runs _reconfigure_port() — all four line settings sent and a wait, polled every
50 ms, for the server's answers — on every `timeout` assignment, although read timeouts are kept on the client
(its read() waits on a local queue).  esptool sets the timeout for each command, so flashing over RFC2217 spent
~0.2 s per command on settings that did not change (a 64 KiB image: ~16 s instead of ~2 s).  This subclass
sends them when baud rate, data bits, parity, stop bits or flow control differ from what the server last
accepted (always at open); timeouts alone stay local, write_timeout included (RFC2217 writes go to a socket).
"""

from __future__ import annotations

from serial import rfc2217


class Serial(rfc2217.Serial):
    _applied: tuple | None = None

    def _line_settings(self) -> tuple:
        return (self._baudrate, self._bytesize, self._parity, self._stopbits, self._rtscts, self._xonxoff)

    def open(self) -> None:
        self._applied = None  # a new connection: the server knows nothing yet
        super().open()

    def _reconfigure_port(self) -> None:
        if self._socket is not None and self._applied == self._line_settings():
            return
        saved, self._write_timeout = self._write_timeout, None  # not a line setting: nothing to send
        try:
            super()._reconfigure_port()
        finally:
            self._write_timeout = saved
        self._applied = self._line_settings()
