"""webrepl://HOST[:8266][?password=&netns=]: a MicroPython WebREPL session as a pyserial port.

The board side is extmod/modwebrepl.c (with micropython-lib micropython/net/webrepl/webrepl.py accepting):
* a websocket on port 8266 (webrepl.start(port=8266)); the handshake is webrepl.py's server_handshake;
* the first text frame is "Password: " (passwd_prompt); the password ends at '\\r' or '\\n' and is compared
  with the one set by webrepl.start(password=) or webrepl_cfg.PASS (at most 9 characters,
  webrepl_set_password); a match answers "\\r\\nWebREPL connected\\r\\n>>> ", a mismatch "\\r\\nAccess denied\\r\\n"
  and the session ends (_webrepl_read returns EOF, dupterm drops it);
* the REPL runs over text frames both ways.  Their payload is raw REPL bytes, not necessarily UTF-8 (raw-paste
  flow-control bytes, binary output), so frames are read as bytes (recv(decode=False)), never decoded;
* binary frames carry the file protocol (webrepl_files.py): they are kept apart from the REPL stream;
* one client at a time: webrepl.py accept_conn() closes a second connection ("Concurrent WebREPL connection
  ... rejected") right after the handshake.
* a soft reset closes the board's sockets (ports/esp32/main.c: gc_sweep_all() runs the socket finalisers),
  so it ends the session; boot.py's webrepl.start() listens again.
The websocket layer is the `websockets` library (sync client), with compression and pings off: the board's
modwebsocket.c speaks neither.
"""

from __future__ import annotations

import collections
import time

import serial
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI
from websockets.frames import Frame, Opcode
from websockets.sync.client import ClientConnection
from websockets.sync.client import connect as ws_connect

from .netserial import NetSerial
from .network import Busy, NetUrl, connect, while_busy

PASSWORD_PROMPT = b"Password: "
CONNECTED = b"\r\nWebREPL connected\r\n"
DENIED = b"\r\nAccess denied\r\n"
PASSWORD_MAX = 9  # webrepl_passwd[10] in modwebrepl.c


class _Connection(ClientConnection):
    """Remembers whether each message began as a text or a binary frame: recv(decode=False) returns bytes for
    both, and only that keeps REPL bytes that are not UTF-8 intact while file-protocol frames stay apart."""

    def __init__(self, *args, **kwargs) -> None:
        self.opcodes: collections.deque[Opcode] = collections.deque()
        super().__init__(*args, **kwargs)

    def process_event(self, event) -> None:  # runs in the library's receiving thread, in frame order
        if isinstance(event, Frame) and event.opcode in (Opcode.TEXT, Opcode.BINARY):
            self.opcodes.append(event.opcode)
        super().process_event(event)


class Serial(NetSerial):
    SCHEME = "webrepl"
    DEFAULT_PORT = 8266
    OPTIONS = ("netns", "password")

    ws: ClientConnection | None = None

    def __init__(self, *args, **kwargs) -> None:
        self.binary: collections.deque[bytes] = collections.deque()  # file-protocol frames, in order
        super().__init__(*args, **kwargs)

    def _open_session(self, u: NetUrl) -> None:
        password = u.params.get("password")
        if password is None:
            raise serial.SerialException(f"{u.where()}: give the WebREPL password: {u.where()}?password=...")
        if not 1 <= len(password.encode()) <= PASSWORD_MAX:
            raise serial.SerialException(f"{u.where()}: a WebREPL password has 1 to {PASSWORD_MAX} characters")
        # The board rejects a client while dupterm still holds the previous one, which it lets go only once it
        # has read that one's end: a rejection right after another session is retried for a moment.
        while_busy(lambda: self._open_once(u, password),
                   f"{u.where()}: the board closed the session before the password prompt (another WebREPL "
                   "client connected? it takes one at a time)")

    def _open_once(self, u: NetUrl, password: str) -> None:
        sock = connect(u, self.OPEN_TIMEOUT)
        try:
            self.ws = ws_connect(f"ws://{u.host}:{u.port}/", sock=sock, create_connection=_Connection,
                                 compression=None, ping_interval=None,
                                 open_timeout=self.OPEN_TIMEOUT, close_timeout=1, max_size=None,
                                 user_agent_header=None, proxy=None)
        except (InvalidHandshake, InvalidURI, OSError, TimeoutError) as exc:
            sock.close()
            raise serial.SerialException(f"{u.where()}: websocket handshake failed: {exc}") from None
        try:
            self._login(u, password)
        except BaseException:
            self._close_session()
            raise

    def _login(self, u: NetUrl, password: str) -> None:
        end = time.monotonic() + self.OPEN_TIMEOUT
        got = bytearray()

        def wait_for(*markers: bytes) -> bytes:
            while True:
                for m in markers:
                    if m in got:
                        return m
                left = end - time.monotonic()
                if left <= 0:
                    raise serial.SerialException(f"{u.where()}: no WebREPL prompt within {self.OPEN_TIMEOUT:g} s "
                                                 f"(received {bytes(got[-60:])!r})")
                try:
                    got.extend(self._recv_frame(left))
                except serial.SerialException:
                    if DENIED in got:
                        return DENIED
                    raise Busy() from None

        wait_for(PASSWORD_PROMPT)
        del got[:]
        self._send(password.encode() + b"\r")
        if wait_for(CONNECTED, DENIED) == DENIED:
            raise serial.SerialException(f"{u.where()}: password refused (WebREPL: Access denied)")
        self._buf += got[got.index(CONNECTED) + len(CONNECTED):]

    # -- frames ---------------------------------------------------------------------------------------
    def _recv_frame(self, timeout: float | None) -> bytes:
        """The next text frame's bytes; b"" on timeout or after a binary frame (kept in self.binary)."""
        ws = self.ws
        if ws is None:
            raise serial.SerialException("WebREPL session is closed")
        while True:
            try:
                frame = ws.recv(timeout=timeout, decode=False)
            except TimeoutError:
                return b""
            except ConnectionClosed:
                raise serial.SerialException(f"WebREPL session to {self._where()} closed by the board "
                                             "(soft reset, webrepl.stop(), or the network)") from None
            if self._is_text(ws):
                return bytes(frame)
            self.binary.append(bytes(frame))
            return b""  # the caller looks at self.binary (file protocol) or reads on

    @staticmethod
    def _is_text(ws: ClientConnection) -> bool:
        assert isinstance(ws, _Connection)
        return ws.opcodes.popleft() is Opcode.TEXT

    def _recv_some(self, timeout: float | None) -> bytes:
        return self._recv_frame(timeout)

    def _send(self, data: bytes) -> None:
        self._send_frame(data, text=True)

    def _send_frame(self, data: bytes, *, text: bool) -> None:
        if self.ws is None:
            raise serial.SerialException("WebREPL session is closed")
        try:
            self.ws.send(data, text=text)
        except (ConnectionClosed, OSError) as exc:
            raise serial.SerialException(f"WebREPL session to {self._where()} lost: {exc}") from None

    def recv_binary(self, timeout: float) -> bytes:
        """The next binary frame (file protocol), reading text frames into the REPL buffer meanwhile."""
        end = time.monotonic() + timeout
        while not self.binary:
            left = end - time.monotonic()
            if left <= 0:
                raise TimeoutError
            self._buf += self._recv_frame(left)
        return self.binary.popleft()

    def send_binary(self, data: bytes) -> None:
        self._send_frame(data, text=False)

    def _close_session(self) -> None:
        ws, self.ws = self.ws, None
        if ws is not None:
            ws.close()

    def _where(self) -> str:
        return self.url.where() if self.url else "webrepl://?"
