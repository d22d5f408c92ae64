"""The virtual ESP32's WebREPL: extmod/modwebrepl.c behind micropython-lib's webrepl.py, host-side in the
board's namespace, started and stopped by the board itself through the esp32 model's `webrepl` module
(models/esp32/webrepl.py writes <flash>/.webrepl.json; start() semantics are reproduced there).

Reproduced:
* webrepl.py setup_conn()/accept_conn(): listens on the port given to start() (8266); one client at a time --
  a second connection is closed right after its handshake ("Concurrent WebREPL connection ... rejected");
* modwebrepl.c: "Password: " on connect, no output forwarded until the password is entered; the password
  ends at '\\r' or '\\n', at most 10 characters are kept; a mismatch sends denied_prompt and ends the session,
  a match sends connected_prompt; REPL bytes travel in text frames both ways (modwebsocket's default
  FRAME_TXT), not necessarily valid UTF-8;
* the binary file protocol (struct webrepl_file, 82 bytes): GET_VER answers 3 version bytes; PUT and GET open
  the file through the board's filesystem -- an open that fails raises inside dupterm and ends the session,
  no error reply --, answer b"WB\\0\\0", PUT then takes `size` bytes, GET sends u16 length + up to 256 bytes per
  b"\\0" request (write_file_chunk), then both a final b"WB\\0\\0";
* the session is the board's os.dupterm stream (webrepl.py accept_conn: os.dupterm(ws)): the serial REPL
  keeps working beside it, output to both, input from either (linemux.py);
* a soft or hard reset closes the listener and the session (ports/esp32/main.c gc_sweep_all() finalises the
  board's sockets); boot.py calling webrepl.start() opens it again.
The websocket layer is the `websockets` library's sync server (compression off, no pings: modwebsocket.c
has neither).
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import struct
import threading
from pathlib import Path

from websockets.exceptions import ConnectionClosed
from websockets.frames import Frame, Opcode
from websockets.sync.server import Server, ServerConnection, serve

from .base import Service

log = logging.getLogger(__name__)

REQUEST_FILE = ".webrepl.json"  # written by models/esp32/webrepl.py start(), removed by stop()
HEADER = struct.Struct("<2sBBQLH64s")
PUT_FILE, GET_FILE, GET_VER = 1, 2, 3
PASSWORD_PROMPT = b"Password: "
CONNECTED = b"\r\nWebREPL connected\r\n>>> "
DENIED = b"\r\nAccess denied\r\n"
RESP_OK = b"WB\x00\x00"


class _Connection(ServerConnection):
    """Records whether each message began as text or binary (recv(decode=False) gives bytes for both)."""

    def __init__(self, *args, **kwargs) -> None:
        import collections

        self.opcodes: collections.deque[Opcode] = collections.deque()
        super().__init__(*args, **kwargs)

    def process_event(self, event) -> None:
        if isinstance(event, Frame) and event.opcode in (Opcode.TEXT, Opcode.BINARY):
            self.opcodes.append(event.opcode)
        super().process_event(event)


class _SessionEnded(Exception):
    pass


class WebreplServer(Service):
    name_ = "webrepl"

    def __init__(self, *, flash_dir: Path, version: tuple[int, int, int], **kw) -> None:
        super().__init__(**kw)
        self.flash_dir = flash_dir
        self.version = bytes(version)  # GET_VER: MICROPY_VERSION_MAJOR, _MINOR, _MICRO
        self.server: Server | None = None
        self.config: dict | None = None
        self.busy = threading.Lock()
        self.sessions = 0

    def request(self) -> dict | None:
        try:
            data = json.loads((self.flash_dir / REQUEST_FILE).read_text())
        except (OSError, ValueError):
            return None
        if isinstance(data, dict) and isinstance(data.get("port"), int) and isinstance(data.get("password"), str):
            return data
        return None

    def clear(self) -> None:
        """A reset: the board's sockets are gone, and so is its request until boot.py asks again."""
        with contextlib.suppress(OSError):
            (self.flash_dir / REQUEST_FILE).unlink()

    def serve(self) -> None:
        while not self.stopper.stopping:
            wanted = self.request()
            if wanted != self.config:
                self.stop_listening()
                if wanted is not None:
                    self.start_listening(wanted)
            self.wait([], 0.2)
        self.stop_listening()

    def start_listening(self, config: dict) -> None:
        s = self.board_socket()
        try:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            s.bind((self.board_ip, config["port"]))
            s.listen(1)
        except OSError as exc:
            s.close()
            log.warning("webrepl: cannot listen on %s:%s: %s", self.board_ip, config["port"], exc)
            self.config = config
            return
        self.config = config
        self.generation = self.stopper.generation
        self.server = serve(self.handle, sock=s, compression=None, ping_interval=None, max_size=None,
                            create_connection=_Connection, server_header=None, close_timeout=1)
        threading.Thread(target=self.server.serve_forever, name="vboard-webrepl-accept", daemon=True).start()

    def stop_listening(self) -> None:
        server, self.server = self.server, None
        self.config = None
        if server is not None:
            server.shutdown()

    # -- one client ---------------------------------------------------------------------------------
    def handle(self, ws: ServerConnection) -> None:
        if not self.busy.acquire(blocking=False):
            ws.close()  # accept_conn(): a concurrent connection is rejected
            return
        try:
            self.session(ws)
        except (_SessionEnded, ConnectionClosed, OSError) as exc:
            log.debug("webrepl session ended: %r", exc)
        except Exception as exc:  # noqa: BLE001  (logged: one bad session must not take the server down)
            log.warning("webrepl session failed: %r", exc)
        finally:
            self.busy.release()
            with contextlib.suppress(Exception):
                ws.close()

    def recv(self, ws: _Connection, generation: int) -> tuple[bool, bytes]:
        """(is_text, payload) of the next message; _SessionEnded on a reset or stop."""
        while True:
            if self.stopper.stopping or self.stopper.generation != generation or self.server is None:
                raise _SessionEnded()
            try:
                data = ws.recv(timeout=0.2, decode=False)
            except TimeoutError:
                continue
            return ws.opcodes.popleft() is Opcode.TEXT, bytes(data)

    def session(self, ws: _Connection) -> None:
        generation = self.stopper.generation
        config = self.config or {}
        ws.send(PASSWORD_PROMPT, text=True)
        entered = bytearray()
        pending = b""
        while True:
            _, data = self.recv(ws, generation)
            for i, c in enumerate(data):
                if c in (13, 10):
                    if entered.decode("latin-1") != config.get("password"):
                        ws.send(DENIED, text=True)
                        return
                    pending = data[i + 1:]
                    break
                if len(entered) < 10:
                    entered.append(c)
            else:
                continue
            break
        ws.send(CONNECTED, text=True)
        self.sessions += 1
        console = self.open_console(dupterm=True)  # webrepl.py: os.dupterm(ws), the UART REPL stays
        pump = threading.Thread(target=self.to_client, args=(console, ws), name="vboard-webrepl-out", daemon=True)
        pump.start()
        try:
            if pending:
                console.sendall(pending)
            files = _Files(self.flash_dir, ws, self.version)
            while True:
                is_text, data = self.recv(ws, generation)
                if is_text:
                    console.sendall(data)
                else:
                    files.feed(data)
        finally:
            with contextlib.suppress(OSError):
                console.shutdown(socket.SHUT_RDWR)  # wakes the pump's recv (close alone would not)
            console.close()
            pump.join(2)

    @staticmethod
    def to_client(console: socket.socket, ws: ServerConnection) -> None:
        try:
            while data := console.recv(65536):
                ws.send(data, text=True)
        except (OSError, ConnectionClosed) as exc:
            log.debug("webrepl console pump ended: %r", exc)
        with contextlib.suppress(Exception):
            ws.close()


class _Files:
    """The binary side of one session (modwebrepl.c _webrepl_read's header/data states)."""

    def __init__(self, flash_dir: Path, ws: ServerConnection, version: bytes) -> None:
        self.flash_dir = flash_dir
        self.ws = ws
        self.version = version
        self.hdr = b""
        self.op: tuple[int, object, int] | None = None  # (type, file, bytes still to receive)

    def _open(self, name: str, mode: str):
        rel = name.lstrip("/")
        path = (self.flash_dir / rel).resolve()
        if self.flash_dir.resolve() not in (path, *path.parents) or not rel:
            raise _SessionEnded()  # outside the board's filesystem: open() fails on the board
        try:
            return open(path, mode)
        except OSError:
            raise _SessionEnded() from None  # the OSError kills the session; no error reply

    def feed(self, data: bytes) -> None:
        while data:
            if self.op is None:
                take = HEADER.size - len(self.hdr)
                self.hdr += data[:take]
                data = data[take:]
                if len(self.hdr) == HEADER.size:
                    self.start(HEADER.unpack(self.hdr))
                    self.hdr = b""
                continue
            kind, fh, left = self.op
            if kind == PUT_FILE:
                chunk, data = data[:left], data[left:]
                fh.write(chunk)
                self.op = (kind, fh, left - len(chunk))
                self.finish_if_done()
            else:  # GET: each byte (a 0) asks for the next chunk
                data = data[1:]
                chunk = fh.read(256)
                self.ws.send(struct.pack("<H", len(chunk)) + chunk, text=False)
                if not chunk:
                    self.op = (kind, fh, 0)
                    self.finish_if_done()

    def start(self, fields: tuple) -> None:
        sig, kind, _flags, _offset, size, name_len, name = fields
        if sig != b"WA":
            raise _SessionEnded()
        if kind == GET_VER:
            self.ws.send(self.version, text=False)
            return
        fname = name[:min(name_len, 64)].split(b"\0", 1)[0].decode("utf-8", "replace")
        if kind == PUT_FILE:
            fh = self._open(fname, "wb")
            self.ws.send(RESP_OK, text=False)
            self.op = (PUT_FILE, fh, size)
            self.finish_if_done()
        elif kind == GET_FILE:
            fh = self._open(fname, "rb")
            self.ws.send(RESP_OK, text=False)
            self.op = (GET_FILE, fh, 1)
        else:
            raise _SessionEnded()

    def finish_if_done(self) -> None:
        assert self.op is not None
        kind, fh, left = self.op
        if left == 0:
            fh.close()
            self.op = None
            self.ws.send(RESP_OK, text=False)
