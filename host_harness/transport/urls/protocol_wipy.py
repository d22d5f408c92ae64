"""wipy://HOST[:23][?user=&password=&netns=]: the WiPy 1.0 telnet REPL as a pyserial port.

What the client must respect, from the server in ports/cc3200/telnet/telnet.c:
* telnet_run(): a welcome line ("MicroPython <tag> on <date>; <board> with <mcu>"), IAC option bytes, then
  "Login as: " and "Password: "; each credential ends at '\\r' (telnet_process_credential, at most
  SERVERS_USER_PASS_LEN_MAX = 32 bytes); a wrong pair answers "\\r\\nInvalid credentials, try again.\\r\\n"
  and after TELNET_LOGIN_RETRIES_MAX = 3 the server drops the connection.  Defaults micro/python
  (serverstask.h SERVERS_DEF_USER/PASS).  We try once: a wrong password is the user's to fix.
* TELNET_MAX_CLIENTS = 1, and the listening socket is closed while a client is connected
  (telnet_wait_for_connection): a second client is refused.
* telnet_parse_input(): a byte > 127 is taken for a telnet option and it and the next two bytes are dropped;
  NUL is dropped; the interrupt character raises KeyboardInterrupt instead of reaching the REPL.  write()
  therefore refuses bytes > 127 and NUL (send ASCII: mpremote's file writes are repr()s, ASCII already).
* The 256-byte receive ring (TELNET_RX_BUFFER_SIZE) is filled only as far as it has room; TCP holds the rest,
  so the raw-paste window the REPL grants (at most the ring) is safe without extra pacing here.
* The session is dropped after servers_get_timeout() (SERVERS_DEF_TIMEOUT_MS = 300 s) of silence and on any
  WLAN event (modwlan.c calls servers_reset()): that reads here as SerialException, and BoardSession
  reopens the URL, which logs in again.
After "Login succeeded!" the stream is the REPL's, byte for byte (the server sends no IAC after login).
"""

from __future__ import annotations

import re
import select
import socket
import time

import serial

from .netserial import NetSerial
from .network import NetUrl, connect

DEFAULT_USER = "micro"
DEFAULT_PASSWORD = "python"
_CRED_MAX = 32  # SERVERS_USER_PASS_LEN_MAX
OPTIONS_PASS = bytes((255, 251, 1, 255, 252, 3, 255, 251, 34))  # telnet_options_pass
LOGIN_OK = b'Login succeeded!\r\nType "help()" for more information.\r\n'
LOGIN_BAD = b"Invalid credentials, try again."
_IAC = re.compile(rb"\xff[\xfb-\xfe].|\xff[\xf0-\xfa]", re.S)
_WELCOME = re.compile(rb"MicroPython (\S+) on (\S+); ([^\r\n]*)\r\n")


class Serial(NetSerial):
    SCHEME = "wipy"
    DEFAULT_PORT = 23
    OPTIONS = ("netns", "user", "password")

    sock: socket.socket | None = None
    welcome: str = ""  # the server's first line: names the firmware version (read again after an update)

    def _open_session(self, u: NetUrl) -> None:
        user = u.params.get("user", DEFAULT_USER)
        password = u.params.get("password", DEFAULT_PASSWORD)
        for what, value in (("user", user), ("password", password)):
            if not value.isascii() or len(value) > _CRED_MAX or "\r" in value:
                raise serial.SerialException(f"{u.where()}: the {what} must be ASCII, at most {_CRED_MAX} bytes")
        self.sock = connect(u, self.OPEN_TIMEOUT)
        try:
            self._login(u, user, password)
        except BaseException:
            self._close_session()
            raise

    def _login(self, u: NetUrl, user: str, password: str) -> None:
        end = time.monotonic() + self.OPEN_TIMEOUT
        got = bytearray()

        def wait_for(*markers: bytes, raw: bool = False) -> bytes:
            while True:
                text = bytes(got) if raw else _IAC.sub(b"", bytes(got))
                for m in markers:
                    if m in text:
                        return m
                left = end - time.monotonic()
                if left <= 0:
                    raise serial.SerialException(
                        f"{u.where()}: no telnet login prompt within {self.OPEN_TIMEOUT:g} s (received "
                        f"{text[-60:]!r}): is this a WiPy telnet server?")
                got.extend(self._recv_raw(left))

        wait_for(b"Login as: ")
        m = _WELCOME.search(_IAC.sub(b"", bytes(got)))
        self.welcome = m.group(0).decode("ascii", "replace").strip() if m else ""
        del got[:]
        self._send_raw(user.encode() + b"\r\n")
        # The server drops left-over input after "Password: " and only then sends its options: answering
        # before those arrive could lose the password (telnet.c E_TELNET_STE_SUB_SND_PASSWORD_OPTIONS).
        wait_for(b"Password: " + OPTIONS_PASS, raw=True)
        del got[:]
        self._send_raw(password.encode() + b"\r\n")
        if wait_for(LOGIN_OK, LOGIN_BAD) == LOGIN_BAD:
            raise serial.SerialException(f"{u.where()}: login refused: wrong user or password "
                                         "(set ?user=...&password=... in the URL; default micro/python)")
        text = _IAC.sub(b"", bytes(got))
        self._buf += text[text.index(LOGIN_OK) + len(LOGIN_OK):]

    @property
    def firmware_version(self) -> str | None:
        m = _WELCOME.match(self.welcome.encode() + b"\r\n")
        return m.group(1).decode() if m else None

    # -- bytes ----------------------------------------------------------------------------------------
    def _recv_raw(self, timeout: float | None) -> bytes:
        sock = self.sock
        if sock is None:
            raise serial.SerialException("telnet session is closed")
        ready, _, _ = select.select([sock], [], [], timeout)
        if not ready:
            return b""
        try:
            data = sock.recv(4096)
        except OSError as exc:
            raise serial.SerialException(f"telnet session to {self._where()} lost: {exc.strerror or exc}") from None
        if not data:
            raise serial.SerialException(f"telnet session to {self._where()} dropped by the board "
                                         "(idle timeout, WLAN event or reset)")
        return data

    def _send_raw(self, data: bytes) -> None:
        if self.sock is None:
            raise serial.SerialException("telnet session is closed")
        try:
            self.sock.settimeout(self._write_timeout if self._write_timeout is not None else self.OPEN_TIMEOUT)
            self.sock.sendall(data)
        except OSError as exc:
            raise serial.SerialException(f"telnet session to {self._where()} lost: {exc.strerror or exc}") from None

    def _recv_some(self, timeout: float | None) -> bytes:
        return self._recv_raw(timeout)

    def _send(self, data: bytes) -> None:
        bad = next((i for i, b in enumerate(data) if b > 127 or b == 0), None)
        if bad is not None:
            raise serial.SerialException(
                f"{self._where()}: byte 0x{data[bad]:02x} at offset {bad} would be dropped by the WiPy telnet "
                "server (it passes ASCII 1-127 only): send ASCII, e.g. \\x or \\u escapes in strings")
        self._send_raw(data)

    def _close_session(self) -> None:
        sock, self.sock = self.sock, None
        if sock is not None:
            sock.close()

    def _where(self) -> str:
        return self.url.where() if self.url else "wipy://?"
