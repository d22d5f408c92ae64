"""The one place that reaches into mpremote's internals: its SerialTransport with deadline-bounded I/O.

mpremote speaks the raw-REPL protocol (raw REPL, raw-paste with flow control, the fs_* file operations); we do
not re-implement it.  What it lacks for a test harness is an overall deadline: its timeouts are per character
(a chatty or garbage-spewing port never times out), its serial reads block with no timeout at all, and it treats
`/dev/pts/*` as a QEMU pty whose reads ignore its timeouts.  `open_transport` returns a SerialTransport whose
every read/write goes through `DeadlineSerial` and a deadline-capped `read_until`, both stopping at the
caller's deadline (raising `Deadline`).  Everything mpremote-specific the session needs is exported here.
"""

from __future__ import annotations

import contextlib
import io
import math
import select
import struct
import sys
import threading
from collections.abc import Callable, Iterator

import serial
from mpremote.transport import TransportError as MpTransportError
from mpremote.transport import TransportExecError
from mpremote.transport_serial import SerialTransport

from ..errors import TransportError
from . import urls

# How long one blocking serial read may wait before we look at the deadline again.
POLL_S = 0.2

# mpremote's waits for the raw REPL's own replies (the prompt before a command, the raw-paste fallback's
# banner) end within this: a board at its prompt answers in milliseconds, and one that does not (noise put
# it in another mode) is resynchronised by the session instead of being waited on for the whole exec.
HANDSHAKE_S = 3.0
RAW_BANNER = b"raw REPL; CTRL-B to exit\r\n"
_HANDSHAKE_ENDINGS = (b">", b"w REPL; CTRL-B to exit\r\n>", RAW_BANNER)

# What a transport call throws when the link or the board misbehaves.  (SerialException is an OSError.)
LINK_ERRORS = (MpTransportError, OSError, struct.error)

__all__ = ["LINK_ERRORS", "RAW_BANNER", "Deadline", "DeadlineSerial", "MpTransportError", "SerialTransport",
           "TransportExecError", "open_transport", "quiet"]


class Deadline(Exception):
    """The caller's current deadline passed inside a transport call."""


class _QuietThreads(io.TextIOBase):
    """sys.stdout while some thread is inside quiet(): those threads' prints vanish, the others' go through.
    (contextlib.redirect_stdout is process-wide: two boards brought up side by side in threads would
    restore each other's StringIO, and every later print of the process would be lost.)"""

    def __init__(self, real) -> None:
        self.real = real
        self.threads: dict[int, int] = {}  # thread id -> quiet() depth

    def write(self, text: str) -> int:
        return len(text) if threading.get_ident() in self.threads else self.real.write(text)

    def flush(self) -> None:
        self.real.flush()


_quiet_lock = threading.Lock()
_quiet_out: _QuietThreads | None = None


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """mpremote print()s raw bytes before some errors; keep them off our stdout (we report them ourselves)."""
    global _quiet_out
    me = threading.get_ident()
    with _quiet_lock:
        if _quiet_out is None:
            _quiet_out = _QuietThreads(sys.stdout)
            sys.stdout = _quiet_out
        _quiet_out.threads[me] = _quiet_out.threads.get(me, 0) + 1
    try:
        yield
    finally:
        with _quiet_lock:
            out = _quiet_out
            assert out is not None
            out.threads[me] -= 1
            if not out.threads[me]:
                del out.threads[me]
            if not out.threads:
                if sys.stdout is out:  # (unless someone replaced it meanwhile: theirs stays)
                    sys.stdout = out.real
                _quiet_out = None


class DeadlineSerial:
    """Stands in for the pyserial object inside SerialTransport so that its blocking reads and writes end at
    the deadline (mpremote opens ports with timeout=None and would wait forever), and so that a pty whose
    other side has gone (POLLHUP) reads as a lost link instead of as silence.

    It also reads ahead: mpremote reads one byte per call, and fetching all that is waiting at once keeps a
    chatty board (or a flood of stale output to skip) from outrunning us.  `unread()` puts bytes back.
    """

    def __init__(self, real: serial.SerialBase, remaining: Callable[[], float]) -> None:
        object.__setattr__(self, "_real", real)
        object.__setattr__(self, "_remaining", remaining)
        object.__setattr__(self, "_timeout", real.timeout)
        object.__setattr__(self, "_ahead", bytearray())
        object.__setattr__(self, "eot_written", False)

    def __getattr__(self, name: str):
        return getattr(self._real, name)

    def __setattr__(self, name: str, value) -> None:  # mpremote sets .rts/.dtr on close
        setattr(self._real, name, value)

    @property
    def real(self) -> serial.SerialBase:
        return self._real

    def _set_timeout(self, value: float) -> None:
        if value != self._timeout:  # each change is a tcsetattr; only change it when needed
            self._real.timeout = value
            object.__setattr__(self, "_timeout", value)

    def inWaiting(self) -> int:  # noqa: N802 (mpremote's name)
        if self._ahead:  # (mpremote asks before every byte it reads: what is read ahead answers, no ioctl)
            return len(self._ahead)
        n = self._real.in_waiting
        fd = getattr(self._real, "fd", None)
        if n == 0 and isinstance(fd, int):
            p = select.poll()
            p.register(fd, select.POLLIN)
            for _, ev in p.poll(0):
                if ev & (select.POLLHUP | select.POLLERR | select.POLLNVAL):
                    raise serial.SerialException("the other end of the port hung up")
        return n + len(self._ahead)

    in_waiting = property(inWaiting)

    def read(self, size: int = 1) -> bytes:
        out = bytearray()
        while len(out) < size:
            if self._ahead:
                take = self._ahead[: size - len(out)]
                del self._ahead[: len(take)]
                out += take
                continue
            rem = self._remaining()
            if rem <= 0:
                break  # short read, like a serial timeout; callers check the length
            self._set_timeout(min(rem, POLL_S))
            self._ahead += self._real.read(max(size - len(out), self._real.in_waiting))
        return bytes(out)

    def expect_code(self) -> None:
        """Code is about to be sent: no Ctrl-D of it has been written yet (see write)."""
        object.__setattr__(self, "eot_written", False)

    def unread(self, data: bytes) -> None:
        """Bytes read too far: the next read returns them first."""
        self._ahead[:0] = data

    def write(self, data: bytes) -> int | None:
        if self._remaining() <= 0:
            raise Deadline()
        if b"\x04" in data:
            # A Ctrl-D ends the code in the raw REPL (raw and raw-paste modes): from this write on the board
            # may run it.  Set before writing, so a write that fails halfway counts too.  BoardSession
            # re-sends code only while this is False.
            object.__setattr__(self, "eot_written", True)
        return self._real.write(data)


def open_transport(url: str, *, baudrate: int, remaining: Callable[[], float],
                   on_short_read: Callable[[bytes], None]) -> SerialTransport:
    """mpremote's SerialTransport on `url`, opened exclusively, with every wait ending at `remaining()`.

    `on_short_read` gets what a wait received when it ended without its expected ending (error messages).
    Raises TransportError (one line, saying what to do) when the port cannot be opened.
    """
    urls.check_url(url)
    urls.register()
    try:
        t = SerialTransport(url, baudrate=baudrate, wait=0, exclusive=True, timeout=POLL_S)
    except MpTransportError:
        raise TransportError(_why_not_open(url, baudrate)) from None
    except (ValueError, OSError, TypeError) as exc:  # a malformed URL fails before mpremote's own handler
        raise TransportError(urls.explain_open_error(url, exc)) from None

    def read_until(min_num_bytes: int, ending: bytes, timeout: float | None = 10,
                   data_consumer: Callable[[bytes], None] | None = None,
                   timeout_overall: float | None = None) -> bytes:
        rem = remaining()
        if rem <= 0:
            raise Deadline()
        overall = rem if timeout_overall is None else min(timeout_overall, rem)
        if ending in _HANDSHAKE_ENDINGS:
            overall = min(overall, HANDSHAKE_S)
        if math.isinf(overall):
            overall = None
        data = SerialTransport.read_until(t, min_num_bytes, ending, timeout, data_consumer, overall)
        if not data.endswith(ending):
            if data_consumer is None:
                on_short_read(data)
            if remaining() <= 0 or ending in _HANDSHAKE_ENDINGS:
                raise Deadline()
        return data

    # mpremote's /dev/pts/* special case reads with no timeout; polling in_waiting (what every other port
    # does) keeps deadlines honest.  Every wait goes through the deadline-capped read_until.
    t.is_pty = False
    t.read_until = read_until
    t.serial = DeadlineSerial(t.serial, remaining)
    return t


def _why_not_open(url: str, baudrate: int) -> str:
    """mpremote only says 'failed to access'; open once more to learn why (busy, refused, ...)."""
    try:
        s = serial.serial_for_url(url, baudrate=baudrate, exclusive=True, timeout=0)
    except (OSError, ValueError, TypeError) as exc:
        return urls.explain_open_error(url, exc)
    s.close()
    return f"cannot open {url}: failed to open (the port became free again: retry)"
