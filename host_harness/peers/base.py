"""Common machinery for host peers: the live-listener registry, per-connection records, accept loop.

Every peer binds to a given host address through a `socket_factory` (``socket.socket`` by default;
``NetnsPair.host_socket`` binds inside a virtual board's host namespace).  Loops wake on a pipe when
the peer closes and poll with a bounded interval, so close() returns within a few seconds even if a
client misbehaves.
"""

from __future__ import annotations

import hashlib
import os
import select
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypedDict, TypeVar, Unpack

from host_harness.errors import HilError

SocketFactory = Callable[..., socket.socket]
_T = TypeVar("_T")
_POLL_S = 1.0  # upper bound on how long a loop sleeps before re-checking the stop flag
_JOIN_S = 5.0


class PeerError(HilError):
    """A peer could not be started, or did not stop cleanly."""


class PeerTimeout(PeerError):
    """A wait on a peer (connections finished, datagrams seen) passed its deadline."""


class Registry:
    """Peers whose listener is open; tests assert it is empty at teardown (nothing survives)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._live: dict[int, Peer] = {}

    def add(self, peer: Peer) -> None:
        with self._lock:
            self._live[id(peer)] = peer

    def remove(self, peer: Peer) -> None:
        with self._lock:
            self._live.pop(id(peer), None)

    def live(self) -> list[Peer]:
        with self._lock:
            return list(self._live.values())

    def close_all(self) -> list[str]:
        """Close every live peer; return descriptions of those that were still open."""
        survivors = self.live()
        for peer in survivors:
            peer.close()
        return [repr(p) for p in survivors]


registry = Registry()


@dataclass(eq=False)
class Connection:
    """What a peer saw on one accepted connection; final once `done` is set (the client closed)."""

    client: tuple[Any, ...]
    bytes_in: int = 0
    bytes_out: int = 0
    error: str | None = None  # None = ended cleanly; else why (reset by client, idle timeout, handshake...)
    note: str | None = None  # what the peer did on purpose (e.g. "sent RST")
    done: threading.Event = field(default_factory=threading.Event, repr=False)
    _hash_in: Any = field(default_factory=hashlib.sha256, repr=False)
    _hash_out: Any = field(default_factory=hashlib.sha256, repr=False)

    def got(self, data: bytes) -> None:
        self.bytes_in += len(data)
        self._hash_in.update(data)

    def sent(self, data: bytes | memoryview) -> None:
        self.bytes_out += len(data)
        self._hash_out.update(data)

    @property
    def sha256_in(self) -> str:
        """Hex SHA-256 of everything received (so far, or in total once done)."""
        return self._hash_in.hexdigest()

    @property
    def sha256_out(self) -> str:
        return self._hash_out.hexdigest()


def _family_for(host: str) -> int:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


class PeerOptions(TypedDict, total=False):
    """Keyword options every peer takes (see Peer); subclasses pass them through unchanged."""

    port: int
    socket_factory: SocketFactory
    idle_timeout: float


class StreamOptions(PeerOptions, total=False):
    """PeerOptions plus what a TCP peer takes (see StreamPeer)."""

    max_connections: int
    backlog: int


def wait_until(cond: threading.Condition, check: Callable[[], _T | None], timeout: float,
               failure: Callable[[], str]) -> _T:
    """Wait on `cond` until check() returns something other than None, and return that.

    check() and failure() run with the condition held; at the deadline PeerTimeout(failure()) is raised.
    The wait is re-checked at least every _POLL_S, so a missed notify costs a second, not a hang.
    """
    deadline = time.monotonic() + timeout
    with cond:
        while True:
            got = check()
            if got is not None:
                return got
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise PeerTimeout(failure())
            cond.wait(min(remaining, _POLL_S))


class Peer:
    """Base: a socket bound to (bind_host, port), served by a thread, registered while open."""

    socktype = socket.SOCK_STREAM

    def __init__(
        self,
        bind_host: str = "127.0.0.1",
        *,
        port: int = 0,
        socket_factory: SocketFactory = socket.socket,
        idle_timeout: float = 30.0,
    ) -> None:
        self.bind_host = bind_host
        self.idle_timeout = idle_timeout
        self.socket_factory = socket_factory  # also for sockets a peer makes itself (same namespace)
        self._closed = False
        self._stop = threading.Event()
        self._wake_r, self._wake_w = os.pipe()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        try:
            self._sock = socket_factory(_family_for(bind_host), self.socktype)
        except OSError as exc:
            self._close_pipe()
            raise PeerError(f"{type(self).__name__}: cannot create a socket: {exc}") from exc
        try:
            self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self._prepare(self._sock)
            self._sock.bind((bind_host, port))
            self._activate(self._sock)
        except OSError as exc:
            self._sock.close()
            self._close_pipe()
            raise PeerError(f"{type(self).__name__}: cannot listen on {bind_host}:{port}: {exc}") from exc
        self.address: tuple[str, int] = tuple(self._sock.getsockname()[:2])  # type: ignore[assignment]
        registry.add(self)
        self._start_thread(self._serve, f"{type(self).__name__}-serve")

    # hooks ------------------------------------------------------------------------------------

    def _prepare(self, sock: socket.socket) -> None:
        """Set options before bind (subclasses)."""

    def _activate(self, sock: socket.socket) -> None:
        """Make the bound socket live (listen for TCP)."""

    def _serve(self) -> None:
        """The serving thread: _on_readable() each time the bound socket is readable, until close()."""
        while not self._stop.is_set():
            if self._wait_readable(self._sock):
                self._on_readable()

    def _on_readable(self) -> None:
        """Take what is waiting on the bound socket (a connection, a datagram); must not block."""
        raise NotImplementedError

    # plumbing ---------------------------------------------------------------------------------

    @property
    def host(self) -> str:
        return self.address[0]

    @property
    def port(self) -> int:
        return self.address[1]

    def _start_thread(self, target: Callable[..., None], name: str, *args: Any) -> None:
        t = threading.Thread(target=target, args=args, name=name, daemon=True)
        with self._lock:
            self._threads = [x for x in self._threads if x.is_alive()]
            self._threads.append(t)
        t.start()

    def _wait_readable(self, sock: socket.socket, timeout: float = _POLL_S) -> bool:
        """True when `sock` is readable; False on timeout or when the peer is closing."""
        try:
            r, _, _ = select.select([sock, self._wake_r], [], [], timeout)
        except (OSError, ValueError):
            return False  # socket closed under us during close()
        return not self._stop.is_set() and sock in r

    def _close_pipe(self) -> None:
        for fd in (self._wake_r, self._wake_w):
            try:
                os.close(fd)
            except OSError:
                pass

    def _shutdown_clients(self) -> None:
        """Subclasses wake their per-connection threads here."""

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        """Stop serving, close the listener and every connection, join the threads.  Idempotent."""
        if self._closed:
            return
        self._closed = True
        self._stop.set()
        try:
            os.write(self._wake_w, b"x")
        except OSError:
            pass
        self._shutdown_clients()
        deadline = time.monotonic() + _JOIN_S
        with self._lock:
            threads = list(self._threads)
        for t in threads:
            t.join(max(0.0, deadline - time.monotonic()))
        self._sock.close()
        self._close_pipe()
        registry.remove(self)
        stuck = [t.name for t in threads if t.is_alive()]
        if stuck:
            raise PeerError(f"{self!r}: threads {', '.join(stuck)} did not stop within {_JOIN_S:.0f} s")

    def __enter__(self) -> Peer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        addr = getattr(self, "address", (self.bind_host, "?"))
        return f"<{type(self).__name__} {addr[0]}:{addr[1]} {state}>"


class StreamPeer(Peer):
    """TCP peer: an accept loop in a thread, one bounded thread per connection.

    Connections beyond `max_connections` concurrent ones are closed at once (recorded with
    error "over capacity") rather than queued, so overload is visible instead of a silent stall.
    Each connection has `idle_timeout` seconds of socket timeout; close() shuts all of them down.
    """

    def __init__(
        self,
        bind_host: str = "127.0.0.1",
        *,
        max_connections: int = 16,
        backlog: int = 16,
        **options: Unpack[PeerOptions],
    ) -> None:
        self.max_connections = max_connections
        self.backlog = backlog
        self.connections: list[Connection] = []
        self._active: dict[Connection, socket.socket] = {}
        self._cond = threading.Condition()
        super().__init__(bind_host, **options)

    def _activate(self, sock: socket.socket) -> None:
        sock.listen(self.backlog)
        sock.setblocking(False)

    def _on_readable(self) -> None:
        try:
            conn, client = self._sock.accept()
        except (BlockingIOError, InterruptedError, ConnectionAbortedError):
            return
        except OSError:
            if not self._stop.is_set():
                time.sleep(0.05)  # e.g. EMFILE: back off instead of spinning
            return
        conn.settimeout(self.idle_timeout)
        rec = Connection(client=tuple(client))
        with self._cond:
            self.connections.append(rec)
            over = len(self._active) >= self.max_connections
            if not over:
                self._active[rec] = conn
            self._cond.notify_all()
        if over:
            rec.error = "over capacity"
            conn.close()
            self._finish(rec)
            return
        self._start_thread(self._run_connection, f"{type(self).__name__}-conn", rec, conn)

    def _run_connection(self, rec: Connection, conn: socket.socket) -> None:
        try:
            self.handle(rec, conn)
        except TimeoutError:
            rec.error = rec.error or "idle timeout"
        except ConnectionResetError:
            rec.error = rec.error or "reset by client"
        except (OSError, ValueError) as exc:
            if not self._stop.is_set():
                rec.error = rec.error or f"{type(exc).__name__}: {exc}"
            else:
                rec.error = rec.error or "peer closed"
        finally:
            with self._cond:
                current = self._active.pop(rec, conn)
            try:
                current.close()
            except OSError:
                pass
            self._finish(rec)

    def _finish(self, rec: Connection) -> None:
        rec.done.set()
        with self._cond:
            self._cond.notify_all()

    def _replace_socket(self, rec: Connection, sock: socket.socket) -> None:
        """A handler swapped the connection's socket (TLS wrap): close() must shut the new one down."""
        with self._cond:
            self._active[rec] = sock

    def _shutdown_clients(self) -> None:
        with self._cond:
            socks = list(self._active.values())
        for s in socks:
            try:
                # Base-class shutdown on purpose: SSLSocket.shutdown would drop its SSL object under a
                # thread that is still reading.  A plain shutdown wakes that read with EOF.
                socket.socket.shutdown(s, socket.SHUT_RDWR)
            except OSError:
                pass

    def recv_some(self, rec: Connection, conn: socket.socket, size: int = 65536) -> bytes:
        """One bounded read: b"" on EOF or when the peer is closing; raises TimeoutError when idle."""
        deadline = time.monotonic() + self.idle_timeout
        while not self._stop.is_set():
            pending = getattr(conn, "pending", lambda: 0)()  # TLS may hold decrypted bytes already
            if pending or self._wait_readable(conn, min(_POLL_S, max(0.0, deadline - time.monotonic()))):
                data = conn.recv(size)
                rec.got(data)
                return data
            if time.monotonic() > deadline:
                raise TimeoutError("idle")
        return b""

    def send_all(self, rec: Connection, conn: socket.socket, data: bytes | memoryview) -> None:
        conn.sendall(data)
        rec.sent(data)

    def handle(self, rec: Connection, conn: socket.socket) -> None:
        raise NotImplementedError

    # waiting ----------------------------------------------------------------------------------

    def wait(self, count: int = 1, timeout: float = 10.0) -> list[Connection]:
        """Wait until the first `count` connections (accept order) have finished; return them."""

        def finished() -> list[Connection] | None:
            first = self.connections[:count]
            return first if len(first) == count and all(c.done.is_set() for c in first) else None

        def failure() -> str:
            done = sum(c.done.is_set() for c in self.connections[:count])
            return (f"{self!r}: {len(self.connections)} connection(s) accepted, {done} of the "
                    f"first {count} finished within {timeout:.1f} s")

        return wait_until(self._cond, finished, timeout, failure)

    def wait_accepted(self, count: int = 1, timeout: float = 10.0) -> list[Connection]:
        """Wait until `count` connections have been accepted (finished or not); return their records."""
        return wait_until(
            self._cond,
            lambda: self.connections[:count] if len(self.connections) >= count else None,
            timeout,
            lambda: f"{self!r}: {len(self.connections)} of {count} connection(s) accepted within {timeout:.1f} s",
        )

    def result(self, index: int = 0, timeout: float = 10.0) -> Connection:
        """The record of connection number `index` (0 = first, accept order), once it has finished."""

        def finished() -> Connection | None:
            if len(self.connections) > index and self.connections[index].done.is_set():
                return self.connections[index]
            return None

        def failure() -> str:
            state = "not finished" if len(self.connections) > index else "not accepted"
            return f"{self!r}: connection #{index} {state} within {timeout:.1f} s"

        return wait_until(self._cond, finished, timeout, failure)

    @property
    def active(self) -> int:
        with self._cond:
            return len(self._active)
