"""Host end of the board<->host sync channel: a TCP server in the namespace the board reaches.

Frames are a 4-byte big-endian length followed by UTF-8 JSON, each request carrying an id that its reply
echoes (device side: host_harness/plugin/device/hilsync.py).  Values are kept per name in FIFO order, so a
publish that arrives before anyone waits is never lost and names can be awaited in any order (unlike
run-multitests, whose wait() drops every line it was not looking for).
"""

from __future__ import annotations

import json
import socket
import struct
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from ..transport.result import SyncTimeout

SocketFactory = Callable[[int, int], socket.socket]
_MAX_FRAME = 65536


def _recv_exact(conn: socket.socket, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        chunk = conn.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("sync peer closed the connection")
        buf += chunk
    return bytes(buf)


def send_frame(conn: socket.socket, obj: Any) -> None:
    body = json.dumps(obj).encode()
    conn.sendall(struct.pack(">I", len(body)) + body)


def recv_frame(conn: socket.socket) -> Any:
    (n,) = struct.unpack(">I", _recv_exact(conn, 4))
    if n > _MAX_FRAME:
        raise ConnectionError(f"sync frame of {n} bytes exceeds {_MAX_FRAME}")
    return json.loads(_recv_exact(conn, n))


class SyncServer:
    """One per session; `begin(token)` starts a fresh exchange for each test (old connections are dropped)."""

    def __init__(self, bind_host: str, socket_factory: SocketFactory | None = None) -> None:
        factory = socket_factory or (lambda fam, typ: socket.socket(fam, typ))
        family = socket.AF_INET6 if ":" in bind_host else socket.AF_INET
        self._listener = factory(family, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind((bind_host, 0))
        self._listener.listen(4)
        # accept() polls so close() is noticed promptly without relying on shutdown() semantics.
        self._listener.settimeout(0.2)
        self.address: tuple[str, int] = self._listener.getsockname()[:2]
        self._cond = threading.Condition()
        self._token: str | None = None
        self._to_host: dict[str, deque] = {}
        self._to_board: dict[str, deque] = {}
        self._conns: set[socket.socket] = set()
        self._closed = False
        self._threads: list[threading.Thread] = []
        t = threading.Thread(target=self._accept_loop, name="hil-sync-accept", daemon=True)
        t.start()
        self._threads.append(t)

    # -- per-test lifecycle --------------------------------------------------------------------------
    def begin(self, token: str) -> None:
        with self._cond:
            self._drop_connections()
            self._token = token
            self._to_host.clear()
            self._to_board.clear()
            self._cond.notify_all()

    def end(self) -> None:
        self.begin("")  # no board message matches an empty token

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._drop_connections()
            self._cond.notify_all()
        self._listener.close()
        for t in self._threads:
            t.join(timeout=2)

    def _drop_connections(self) -> None:
        for c in list(self._conns):
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            c.close()
        self._conns.clear()

    # -- host API ------------------------------------------------------------------------------------
    def publish(self, name: str, value: Any) -> None:
        json.dumps(value)  # fail here, in the test, if the value cannot travel
        with self._cond:
            self._to_board.setdefault(name, deque()).append(value)
            self._cond.notify_all()

    def wait(self, name: str, timeout: float) -> Any:
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                q = self._to_host.get(name)
                if q:
                    return q.popleft()
                left = deadline - time.monotonic()
                if left <= 0 or self._closed:
                    pending = sorted(k for k, v in self._to_host.items() if v)
                    raise SyncTimeout(
                        f"sync: the board did not publish {name!r} within {timeout:g} s"
                        + (f" (pending from board: {', '.join(pending)})" if pending else "")
                    )
                self._cond.wait(left)

    def pending(self) -> dict[str, list]:
        with self._cond:
            return {k: list(v) for k, v in self._to_host.items() if v}

    # -- server side ---------------------------------------------------------------------------------
    def _accept_loop(self) -> None:
        while not self._closed:
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.settimeout(None)
            with self._cond:
                if self._closed:
                    conn.close()
                    return
                self._conns.add(conn)
            t = threading.Thread(target=self._serve, args=(conn,), name="hil-sync-conn", daemon=True)
            t.start()
            self._threads = [x for x in self._threads if x.is_alive()] + [t]

    def _serve(self, conn: socket.socket) -> None:
        token = None
        try:
            while True:
                msg = recv_frame(conn)
                if not isinstance(msg, dict):
                    raise ConnectionError("sync frame is not an object")
                reply = self._handle(msg, token)
                if msg.get("op") == "hello" and reply.get("ok"):
                    token = msg.get("token")
                send_frame(conn, reply)
        except (OSError, ConnectionError, ValueError):
            pass
        finally:
            with self._cond:
                self._conns.discard(conn)
            conn.close()

    def _handle(self, msg: dict, token: str | None) -> dict:
        mid = msg.get("id")
        op = msg.get("op")
        with self._cond:
            if op == "hello":
                if not msg.get("token") or msg.get("token") != self._token:
                    return {"id": mid, "ok": False, "error": "stale token (a previous test's board code?)"}
                return {"id": mid, "ok": True}
            if token is None or token != self._token:
                return {"id": mid, "ok": False, "error": "not greeted for the current test"}
            name = msg.get("name")
            if not isinstance(name, str):
                return {"id": mid, "ok": False, "error": "name must be a string"}
            if op == "publish":
                self._to_host.setdefault(name, deque()).append(msg.get("value"))
                self._cond.notify_all()
                return {"id": mid, "ok": True}
            if op == "wait":
                timeout_ms = msg.get("timeout_ms")
                if not isinstance(timeout_ms, int) or timeout_ms < 0:
                    return {"id": mid, "ok": False, "error": "timeout_ms must be a non-negative int"}
                deadline = time.monotonic() + timeout_ms / 1000
                while True:
                    q = self._to_board.get(name)
                    if q:
                        return {"id": mid, "ok": True, "value": q.popleft()}
                    left = deadline - time.monotonic()
                    if left <= 0 or self._closed or token != self._token:
                        return {"id": mid, "ok": False, "error": "timeout"}
                    self._cond.wait(left)
            return {"id": mid, "ok": False, "error": f"unknown op {op!r}"}


class SyncChannel:
    """What the `sync` fixture gives a test: publish/wait bounded by the test's remaining budget."""

    def __init__(self, server: SyncServer, budget: Callable[[], float]) -> None:
        self._server = server
        self._budget = budget

    @property
    def address(self) -> tuple[str, int]:
        return self._server.address

    def publish(self, name: str, value: Any) -> None:
        self._server.publish(name, value)

    def wait(self, name: str, timeout: float = 10.0) -> Any:
        return self._server.wait(name, min(timeout, max(self._budget(), 0.0)))

    def pending(self) -> dict[str, list]:
        return self._server.pending()
