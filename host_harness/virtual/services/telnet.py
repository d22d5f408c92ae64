"""The virtual WiPy's telnet server: ports/cc3200/telnet/telnet.c, as a host-side server in the board's
namespace (see __init__.py for why there), relaying the logged-in session to the board's console.

Reproduced (telnet.c unless named):
* port 23 (TELNET_PORT); one client (TELNET_MAX_CLIENTS): the listening socket is closed while a client is
  connected (telnet_wait_for_connection), so a second client is refused;
* telnet_run(): welcome line telnet_welcome_msg, IAC options telnet_options_user, "Login as: ", the user up to
  '\\r' (at most SERVERS_USER_PASS_LEN_MAX = 32), "Password: " + telnet_options_pass, the password; left-over
  input is dropped before each prompt; a wrong pair sends telnet_invalid_loggin and after
  TELNET_LOGIN_RETRIES_MAX = 3 closes the connection (telnet_reset); success sends telnet_options_repl,
  telnet_loggin_success and fills the line with backspaces and a '\\r' (telnet_reset_buffer) for a prompt;
* telnet_parse_input(): a byte > 127 drops it and the next two (a telnet option); NUL is dropped;
* telnet_process(): at most the free part of the 256-byte ring (TELNET_RX_BUFFER_SIZE, 255 usable) is taken
  from the socket per read: the rest waits in TCP;
* the session ends after servers_get_timeout() of client silence (serverstask.h SERVERS_DEF_TIMEOUT_MS =
  300 s) and on every WLAN event (modwlan.c -> servers_reset()); a reset of the board ends it too.
Default credentials micro/python (serverstask.h).
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable

from .base import Service

PORT = 23
RING = 256
LOGIN_RETRIES = 3
CRED_MAX = 32
OPTIONS_USER = bytes((255, 252, 1, 255, 252, 3, 255, 251, 34))
OPTIONS_PASS = bytes((255, 251, 1, 255, 252, 3, 255, 251, 34))
OPTIONS_REPL = bytes((255, 251, 1, 255, 251, 3, 255, 252, 34))
INVALID = b"\r\nInvalid credentials, try again.\r\n"
SUCCESS = b'\r\nLogin succeeded!\r\nType "help()" for more information.\r\n'


class _Dropped(Exception):
    """The session ends (client gone, timeout, reset, WLAN event)."""


def parse_input(data: bytes) -> bytes:
    """telnet_parse_input(): keep ASCII 1-127; a byte > 127 and the two after it are dropped."""
    out = bytearray()
    i = 0
    while i < len(data):
        b = data[i]
        if b > 127:
            i += 3
            continue
        if b:
            out.append(b)
        i += 1
    return bytes(out)


class TelnetServer(Service):
    name_ = "telnet"

    def __init__(self, *, welcome: Callable[[], bytes], user: str = "micro", password: str = "python",
                 timeout: Callable[[], float], wlan_events: Callable[[], int], **kw) -> None:
        super().__init__(**kw)
        self.welcome = welcome
        self.user = user.encode()
        self.password = password.encode()
        self.timeout = timeout
        self.wlan_events = wlan_events
        self.sessions = 0  # logged-in sessions so far (tests read it)

    def serve(self) -> None:
        listener = self.listen(PORT)
        try:
            while not self.stopper.stopping:
                if self.wait([listener], 0.5):
                    conn, _ = listener.accept()
                    break
            else:
                return
        finally:
            self.close_counted(listener)  # closed while a client is connected: a second one is refused
        self.count(+1)
        try:
            self.session(conn)
        except (_Dropped, OSError):
            pass
        finally:
            self.close_counted(conn)

    def session(self, conn: socket.socket) -> None:
        generation = self.stopper.generation
        events = self.wlan_events()
        state = {"last": time.monotonic()}

        def check() -> None:
            if self.stopper.stopping or self.stopper.generation != generation:
                raise _Dropped()
            if self.wlan_events() != events:
                raise _Dropped()
            if time.monotonic() - state["last"] > self.timeout():
                raise _Dropped()

        def recv(limit: int, wait: float = 0.1) -> bytes:
            check()
            if not self.wait([conn], wait):
                check()
                return b""
            data = conn.recv(limit)
            if not data:
                raise _Dropped()
            state["last"] = time.monotonic()
            return parse_input(data)

        def flush() -> None:
            conn.setblocking(False)
            try:
                while conn.recv(RING):
                    pass
            except BlockingIOError:
                pass
            finally:
                conn.setblocking(True)

        def credential() -> bytes:
            buf = bytearray()
            while True:
                buf += recv(RING)
                cr = buf.find(b"\r")
                if cr >= 0 or len(buf) >= CRED_MAX:
                    return bytes(buf[:cr if cr >= 0 else CRED_MAX])

        conn.sendall(self.welcome())
        for _attempt in range(LOGIN_RETRIES):
            conn.sendall(OPTIONS_USER)
            flush()
            conn.sendall(b"Login as: ")
            user = credential()
            conn.sendall(b"Password: ")
            flush()
            conn.sendall(OPTIONS_PASS)
            password = credential()
            if user == self.user and password == self.password:
                break
            conn.sendall(INVALID)
        else:
            return
        conn.sendall(OPTIONS_REPL + SUCCESS)
        self.sessions += 1
        console = self.open_console(dupterm=True)  # cc3200_hal.c: output to telnet and the UART, input from either
        try:
            console.sendall(b"\b" * (RING // 2) + b"\r")
            self.relay(conn, console, recv)
        finally:
            console.close()

    def relay(self, conn: socket.socket, console: socket.socket, recv: Callable[..., bytes]) -> None:
        while True:
            ready = self.wait([conn, console], 0.1)
            if console in ready:
                out = console.recv(65536)
                if not out:
                    raise _Dropped()  # the console line was taken over
                conn.sendall(out)
            if conn in ready or not ready:
                data = recv(RING - 1, 0)
                if data:
                    console.sendall(data)
