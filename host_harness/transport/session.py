"""BoardSession: a raw-REPL connection to a board over any pyserial URL, driven by mpremote's SerialTransport.

mpremote speaks the protocol (raw REPL, raw-paste with flow control, the fs_* file operations); we do not
re-implement it.  A test harness needs three things mpremote lacks, and this module adds only those:

* An overall deadline per operation.  mpremote's timeouts are per character (a chatty or garbage-spewing port
  never times out), its serial reads block with no timeout at all, and it treats `/dev/pts/*` as a QEMU pty
  whose reads ignore its timeouts.  We route every read through `_DeadlineSerial` and `_read_until`, which
  both stop at the session's current deadline.
* Outcomes instead of exceptions: ok / error / hung / crashed / transport (see result.py).
* Recovery of a hung board, escalating Ctrl-C -> soft reset -> hard reset, reported by step.
"""

from __future__ import annotations

import ast
import contextlib
import errno
import io
import logging
import math
import os
import re
import select
import struct
import time
from collections.abc import Callable, Iterator
from typing import Literal

import serial
from mpremote.transport import TransportError as MpTransportError
from mpremote.transport import TransportExecError
from mpremote.transport_serial import SerialTransport

from ..errors import HilError, TransportError
from .result import BoardExecError, ExecResult, RecoveryStep, parse_traceback

log = logging.getLogger(__name__)

# A hard-reset action: a callable (a virtual board's restart), "dtr-rts" (pulse the port's control lines, the
# classic ESP auto-reset wiring), or None (no hard reset available).
HardReset = Callable[[], object] | Literal["dtr-rts"] | None

# Lines that mean the board reset while our code ran: a soft reboot, the raw REPL coming back, a firmware
# boot banner ("MicroPython v1.22.0 on 2023-12-27; ESP32 module with ESP32" -- not sys.version, which lacks
# the "; ... with ..." part), or an ESP ROM reset report.  A program printing one of these reads as a crash.
_RESET_LINE = re.compile(
    rb"soft reboot\r?\n|raw REPL; CTRL-B to exit|(?:Micro|Adafruit Circuit)Python \S+ on \S+; [^\r\n]* with "
    rb"|rst:0x[0-9a-f]+ \("
)

# How long one blocking serial read may wait before we look at the deadline again.
_POLL_S = 0.2

# What a transport call throws when the link or the board misbehaves.  (SerialException is an OSError.)
_LINK_ERRORS = (MpTransportError, OSError, struct.error)


class _Deadline(Exception):
    """The session's current deadline passed inside a transport call."""


class _ConsumerFailed(Exception):
    """The caller's on_output callback raised (e.g. BrokenPipeError): not a link error, re-raised as is."""

    def __init__(self, exc: BaseException) -> None:
        super().__init__(str(exc))
        self.exc = exc


class _ResetSeen(Exception):
    """A reset/boot line appeared in the output of running code."""

    def __init__(self, line: bytes) -> None:
        super().__init__(line.decode("utf-8", "replace").strip())


class RemoteFileError(HilError):
    """A file operation failed on the board (missing file, read-only filesystem, ...)."""


class BoardValueError(HilError):
    """`eval` got back something that is not a Python literal."""


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """mpremote print()s raw bytes before some errors; keep them off our stdout (we report them ourselves)."""
    with contextlib.redirect_stdout(io.StringIO()):
        yield


class _DeadlineSerial:
    """Stands in for the pyserial object inside SerialTransport so that its blocking reads and writes end at
    the session deadline (mpremote opens ports with timeout=None and would wait forever), and so that a pty
    whose other side has gone (POLLHUP) reads as a lost link instead of as silence.

    It also reads ahead: mpremote reads one byte per call, and fetching all that is waiting at once keeps a
    chatty board (or a flood of stale output to skip) from outrunning us.
    """

    def __init__(self, real: serial.SerialBase, remaining: Callable[[], float]) -> None:
        object.__setattr__(self, "_real", real)
        object.__setattr__(self, "_remaining", remaining)
        object.__setattr__(self, "_timeout", real.timeout)
        object.__setattr__(self, "_ahead", bytearray())

    def __getattr__(self, name: str):
        return getattr(self._real, name)

    def __setattr__(self, name: str, value) -> None:  # mpremote sets .rts/.dtr on close
        setattr(self._real, name, value)

    def _set_timeout(self, value: float) -> None:
        if value != self._timeout:  # each change is a tcsetattr; only change it when needed
            self._real.timeout = value
            object.__setattr__(self, "_timeout", value)

    def inWaiting(self) -> int:  # noqa: N802 (mpremote's name)
        if self._ahead:
            return len(self._ahead)
        n = self._real.in_waiting
        fd = getattr(self._real, "fd", None)
        if n == 0 and isinstance(fd, int):
            p = select.poll()
            p.register(fd, select.POLLIN)
            for _, ev in p.poll(0):
                if ev & (select.POLLHUP | select.POLLERR | select.POLLNVAL):
                    raise serial.SerialException("the other end of the port hung up")
        return n

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
            self._set_timeout(min(rem, _POLL_S))
            self._ahead += self._real.read(max(size - len(out), self._real.in_waiting))
        return bytes(out)

    def write(self, data: bytes) -> int | None:
        if self._remaining() <= 0:
            raise _Deadline()
        return self._real.write(data)


class BoardSession:
    """A raw-REPL session with one board.

    `url` is anything pyserial opens: /dev/ttyUSB0, a pty symlink, socket://127.0.0.1:N, rfc2217://host:N.
    The port is opened exclusively and the raw REPL entered within `open_timeout` s, else TransportError.
    `hard_reset` is the last step of recovering a hung board (see HardReset).
    `enter_raw=False` only opens the port (for an interactive terminal).
    """

    def __init__(
        self,
        url: str,
        *,
        hard_reset: HardReset = None,
        open_timeout: float = 5.0,
        enter_raw: bool = True,
        baudrate: int = 115200,
        recover_timeout: float = 3.0,
    ) -> None:
        self.url = url
        self.open_timeout = open_timeout
        self.recover_timeout = recover_timeout
        self.baudrate = baudrate
        self._hard_reset = hard_reset
        self._deadline: float | None = None
        self._ready = False  # in the raw REPL with a `>` prompt pending
        self._last_read = b""  # what a failed wait received, for error messages
        self._t: SerialTransport | None = None
        self._closed = False  # close() was called: never reopen
        self._open()
        if enter_raw:
            err = self._resync(open_timeout, allow_reopen=False, settle=0.05)
            if err:
                self.close()
                raise TransportError(err)

    # --- context manager -------------------------------------------------------------------------------
    def __enter__(self) -> BoardSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def transport(self) -> SerialTransport:
        """The wrapped mpremote transport (for fs_* calls; wrap them in `with session.deadline(s):`)."""
        if self._t is None:
            raise TransportError(f"session to {self.url} is closed")
        return self._t

    @property
    def is_open(self) -> bool:
        return self._t is not None

    # --- deadlines -----------------------------------------------------------------------------------
    def _remaining(self) -> float:
        return math.inf if self._deadline is None else self._deadline - time.monotonic()

    @contextlib.contextmanager
    def deadline(self, seconds: float) -> Iterator[None]:
        """Every transport read/write inside this block ends by `seconds` from now (raises internally)."""
        outer = self._deadline
        self._deadline = time.monotonic() + seconds
        if self._t is not None:
            with contextlib.suppress(*_LINK_ERRORS):
                self._t.serial._real.write_timeout = max(0.05, seconds)
        try:
            yield
        finally:
            self._deadline = outer

    def _read_until(self, min_num_bytes: int, ending: bytes, timeout: float | None = 10,
                    data_consumer: Callable[[bytes], None] | None = None,
                    timeout_overall: float | None = None) -> bytes:
        """mpremote's read_until, with its overall timeout capped at the session deadline."""
        rem = self._remaining()
        if rem <= 0:
            raise _Deadline()
        overall = rem if timeout_overall is None else min(timeout_overall, rem)
        if math.isinf(overall):
            overall = None
        assert self._t is not None
        data = SerialTransport.read_until(self._t, min_num_bytes, ending, timeout, data_consumer, overall)
        if not data.endswith(ending):
            if data_consumer is None:
                self._last_read = data
            if self._remaining() <= 0:
                raise _Deadline()
        return data

    # --- opening, re-entering ------------------------------------------------------------------------
    def _open(self) -> None:
        if "://" not in self.url and not os.path.exists(self.url):
            raise TransportError(f"cannot open {self.url}: no such port")
        try:
            t = SerialTransport(self.url, baudrate=self.baudrate, wait=0, exclusive=True, timeout=_POLL_S)
        except MpTransportError:
            raise TransportError(f"cannot open {self.url}: {self._why_not_open()}") from None
        except (ValueError, OSError) as exc:  # a malformed URL fails before mpremote's own handler
            raise TransportError(f"cannot open {self.url}: {_one_line(exc)}") from None
        # mpremote's /dev/pts/* special case reads with no timeout; polling in_waiting (what every other port
        # does) keeps deadlines honest.  Every wait goes through our deadline-capped read_until.
        t.is_pty = False
        t.read_until = self._read_until
        t.serial = _DeadlineSerial(t.serial, self._remaining)
        self._t = t
        self._ready = False

    def _why_not_open(self) -> str:
        """mpremote only says 'failed to access'; open once more to learn why (busy, refused, ...)."""
        try:
            s = serial.serial_for_url(self.url, baudrate=self.baudrate, exclusive=True, timeout=0)
        except (OSError, ValueError) as exc:
            msg = _one_line(exc)
            if "exclusively lock" in msg:
                return "port is busy (another program has it open)"
            return msg
        s.close()
        return "failed to open (the port became free again: retry)"

    def _close_transport(self) -> None:
        t, self._t = self._t, None
        self._ready = False
        if t is None:
            return
        with contextlib.suppress(*_LINK_ERRORS, _Deadline):
            t.close()

    def _enter_raw(self, seconds: float, *, soft_reset: bool = False, settle: float = 0.05) -> None:
        """Ctrl-C, wait for the line to settle, then Ctrl-A (and Ctrl-D for a soft reset) via mpremote."""
        self._ready = False
        self._last_read = b""
        with self.deadline(seconds), _quiet():
            self._settle(settle)
            # A desynchronised earlier exchange can make mpremote give up on raw-paste for good; the board
            # has not changed, so let it ask again.
            self.transport.use_raw_paste = True
            self.transport.enter_raw_repl(soft_reset=soft_reset, timeout_overall=seconds)
        self._ready = True

    def _settle(self, quiet: float) -> None:
        """Ctrl-C, then drop input until the line has been quiet for `quiet` s.

        mpremote only drops what has arrived at that instant; output still on its way (an interrupted chatty
        program, the banner answering an earlier, timed-out attempt) would then be taken for fresh replies
        and desynchronise the exchange.
        """
        ser = self.transport.serial
        ser.write(b"\r\x03")
        last = time.monotonic()
        while time.monotonic() - last < quiet:
            if self._remaining() <= 0:
                raise _Deadline()
            if ser.inWaiting():
                self._last_read = (self._last_read + ser.read(ser.inWaiting()))[-200:]
                last = time.monotonic()
            else:
                time.sleep(0.01)

    def _resync(self, seconds: float, *, allow_reopen: bool = True, settle: float = 0.25) -> str | None:
        """Get back to a raw-REPL prompt within `seconds`, reopening the port if it broke.
        Returns None on success, else a one-line reason."""
        end = time.monotonic() + seconds
        reason = f"no raw REPL prompt from {self.url} within {seconds:g} s"
        while True:
            rem = end - time.monotonic()
            if rem <= 0:
                return reason
            if self._closed:
                return f"session to {self.url} is closed"
            try:
                if self._t is None:
                    if not allow_reopen:
                        return reason
                    self._open()
                self._enter_raw(rem, settle=settle)
                return None
            except TransportError as exc:  # reopen failed (port gone for now)
                reason = str(exc)
                time.sleep(min(0.2, max(0.0, end - time.monotonic())))
            except _Deadline:
                reason = (f"no raw REPL prompt from {self.url} within {seconds:g} s "
                          f"{self._describe_received()}")
            except _LINK_ERRORS as exc:
                reason = f"lost {self.url}: {_one_line(exc)}"
                if isinstance(exc, OSError):  # the link itself broke: reopen on the next round
                    self._close_transport()
                    if not allow_reopen:
                        return reason
                time.sleep(min(0.2, max(0.0, end - time.monotonic())))

    def _describe_received(self) -> str:
        data = self._last_read
        if not data:
            return "(nothing received: is a MicroPython board attached and running?)"
        return f"(received {len(data)} bytes that never formed the prompt, ending {data[-40:]!r})"

    # --- exec ----------------------------------------------------------------------------------------
    def exec(self, code: str | bytes, timeout: float = 30.0, *,
             on_output: Callable[[bytes], None] | None = None) -> ExecResult:
        """Run `code` on the board within `timeout` seconds; never raises for board or link trouble.

        `on_output` receives stdout bytes as they arrive (for streaming to a terminal).
        """
        start = time.monotonic()
        data = code.encode() if isinstance(code, str) else bytes(code)
        if not data.strip():
            data = b"pass"  # an empty program followed by Ctrl-D is a soft reset on boards
        if not self._ready:
            err = self._resync(min(timeout, self.open_timeout))
            if err:
                return ExecResult("transport", error=err, duration=time.monotonic() - start)
        out = bytearray()

        def consume(b: bytes) -> None:
            if b == b"\x04":  # end of stdout; mpremote hands the terminator to the consumer too
                return
            out.extend(b)
            if on_output is not None:
                try:
                    on_output(b)
                except Exception as exc:  # noqa: BLE001  (re-raised unchanged below)
                    raise _ConsumerFailed(exc) from exc
            if b == b"\n":
                line = bytes(out[out.rfind(b"\n", 0, len(out) - 1) + 1:])
                if _RESET_LINE.search(line):
                    raise _ResetSeen(line)

        self._ready = False
        phase = "send"
        try:
            with self.deadline(timeout):
                with _quiet():
                    self.transport.exec_raw_no_follow(data)
                phase = "run"
                _, err = self.transport.follow(None, data_consumer=consume)
        except _Deadline:
            if phase == "send":
                return self._link_failure(start, f"board did not take the code within {timeout:g} s "
                                                 f"{self._describe_received()}")
            duration = time.monotonic() - start
            step = self._recover_hung()
            return ExecResult("hung", stdout=bytes(out), error=f"no result within {timeout:g} s",
                              duration=duration, recovered_by=step)
        except (_ConsumerFailed, KeyboardInterrupt) as exc:
            # Our side gave up mid-run (the output pipe closed, the user pressed Ctrl-C): stop the code on the
            # board so it is not left running, then let the exception through.
            self.interrupt()
            raise exc.exc if isinstance(exc, _ConsumerFailed) else exc from None
        except _ResetSeen as exc:
            duration = time.monotonic() - start
            step: RecoveryStep | None = "re-enter" if self._resync(self.open_timeout) is None else None
            return ExecResult("crashed", stdout=bytes(out), duration=duration, recovered_by=step,
                              error=f"board reset while running the code ({str(exc)[:80]!r})")
        except _LINK_ERRORS as exc:
            if phase == "send":
                return self._link_failure(start, f"{self.url}: {_one_line(exc)}")
            duration = time.monotonic() - start
            self._close_transport()
            step = "reconnect" if self._resync(self.open_timeout) is None else None
            return ExecResult("crashed", stdout=bytes(out), duration=duration, recovered_by=step,
                              error=f"link to the board lost while running the code ({_one_line(exc)})")
        self._ready = True
        duration = time.monotonic() - start
        if err:
            text = err.decode("utf-8", "replace").replace("\r\n", "\n")
            tb = parse_traceback(text)
            return ExecResult("error", stdout=bytes(out), error=text, duration=duration, exc_type=tb.exc_type,
                              exc_message=tb.exc_message, board_line=tb.board_line, error_file=tb.file,
                              error_line=tb.line)
        return ExecResult("ok", stdout=bytes(out), duration=duration)

    def interrupt(self, timeout: float | None = None) -> bool:
        """Ctrl-C whatever runs and wait for the raw-REPL prompt; True if it came back."""
        try:
            self._enter_raw(timeout or self.recover_timeout, settle=0.25)
            return True
        except (_Deadline, *_LINK_ERRORS):
            return False

    def _link_failure(self, start: float, message: str) -> ExecResult:
        # The code never started: leave the port as it is; the next exec re-enters the raw REPL first.
        self._ready = False
        return ExecResult("transport", error=message, duration=time.monotonic() - start)

    def _recover_hung(self) -> RecoveryStep | None:
        """Escalate until the raw REPL answers again; return the step that worked."""
        t = self.recover_timeout
        try:
            self._enter_raw(t, settle=0.25)  # starts with Ctrl-C
            return "ctrl-c"
        except (_Deadline, *_LINK_ERRORS) as exc:
            log.info("%s: Ctrl-C did not recover the board (%s)", self.url, exc)
        try:
            self._enter_raw(t, soft_reset=True, settle=0.25)
            return "soft-reset"
        except (_Deadline, *_LINK_ERRORS) as exc:
            log.info("%s: soft reset did not recover the board (%s)", self.url, exc)
        if self._hard_reset is None:
            return None
        try:
            self._do_hard_reset()
        except (HilError, *_LINK_ERRORS) as exc:
            log.warning("%s: hard reset failed: %s", self.url, exc)
            return None
        return "hard-reset" if self._resync(self.open_timeout + t) is None else None

    def _do_hard_reset(self) -> None:
        if self._hard_reset == "dtr-rts":
            self.pulse_dtr_rts()
        elif self._hard_reset is not None:
            self._hard_reset()

    def pulse_dtr_rts(self, hold: float = 0.1) -> None:
        """Reset through the control lines: RTS low->EN low with DTR high->GPIO0 high (ESP auto-reset wiring).
        A pty has no modem lines (TransportError); socket:// silently ignores them (the board won't reset)."""
        real = self.transport.serial._real
        try:
            real.dtr = False
            real.rts = True
            time.sleep(hold)
            real.rts = False
        except OSError as exc:
            raise TransportError(f"{self.url}: cannot pulse DTR/RTS to reset ({_one_line(exc)})") from None

    # --- convenience ---------------------------------------------------------------------------------
    def eval(self, expr: str, timeout: float = 10.0):
        """Evaluate `expr` on the board and return its value (repr on the board, literal_eval here)."""
        r = self.exec(f"print(repr({expr}))", timeout).check()
        text = r.text().strip()
        try:
            return ast.literal_eval(text)
        except (ValueError, SyntaxError):
            raise BoardValueError(f"board value of {expr!r} is not a literal: {text[:80]!r}") from None

    def soft_reset(self, timeout: float = 10.0) -> None:
        """Ctrl-D in the raw REPL: a fresh VM (globals and imported modules gone); back in raw mode."""
        try:
            self._enter_raw(timeout, soft_reset=True)
        except _Deadline:
            raise TransportError(f"{self.url}: no soft reboot within {timeout:g} s "
                                 f"{self._describe_received()}") from None
        except _LINK_ERRORS as exc:
            raise TransportError(f"{self.url}: soft reset failed: {_one_line(exc)}") from None

    def hard_reset(self, timeout: float | None = None) -> None:
        """Run the hard-reset action, then wait for the raw REPL (TransportError if it does not come back)."""
        if self._hard_reset is None:
            raise TransportError(f"{self.url}: no hard reset available for this board")
        self._ready = False
        self._do_hard_reset()
        err = self._resync(timeout or self.open_timeout + self.recover_timeout)
        if err:
            raise TransportError(err)

    @contextlib.contextmanager
    def _fs_op(self, what: str, remote: str, timeout: float) -> Iterator[SerialTransport]:
        """Run mpremote fs_* calls under a deadline, turning their exceptions into HilErrors."""
        if not self._ready:
            err = self._resync(min(timeout, self.open_timeout))
            if err:
                raise TransportError(err)
        self._ready = False
        try:
            with self.deadline(timeout):
                yield self.transport
        except _Deadline:
            raise TransportError(f"{self.url}: {what} did not finish within {timeout:g} s") from None
        except TransportExecError as exc:
            self._ready = True  # the board answered with a traceback: the REPL is fine
            tb = parse_traceback(exc.error_output)
            raise BoardExecError(f"{what}: board raised {tb.exc_type}: {tb.exc_message}") from None
        except OSError as exc:
            if exc.strerror != remote or isinstance(exc, serial.SerialException):  # the link, not the board
                self._close_transport()
                raise TransportError(f"{self.url}: {what}: {_one_line(exc)}") from None
            # mpremote turns a board-side OSError traceback into OSError(errno, <remote path>)
            self._ready = True
            raise RemoteFileError(f"{what}: {_errno_text(exc)}") from None
        except MpTransportError as exc:
            raise TransportError(f"{self.url}: {what}: {_one_line(exc)}") from None
        self._ready = True

    def put_file(self, remote: str, data: bytes, *, timeout: float = 60.0, chunk_size: int = 256) -> None:
        """Write `data` to `remote` on the board (raw-paste execs of `chunk_size` bytes each)."""
        with self._fs_op(f"write {remote}", remote, timeout) as t:
            t.fs_writefile(remote, data, chunk_size=chunk_size)

    def get_file(self, remote: str, *, timeout: float = 60.0) -> bytes:
        with self._fs_op(f"read {remote}", remote, timeout) as t:
            return bytes(t.fs_readfile(remote))

    def sha256(self, remote: str, *, timeout: float = 30.0) -> bytes | None:
        """The board's sha256 of `remote`, or None if it does not exist."""
        try:
            with self._fs_op(f"hash {remote}", remote, timeout) as t:
                return t.fs_hashfile(remote, "sha256")
        except RemoteFileError as exc:
            if "ENOENT" in str(exc):
                return None
            raise

    def exists(self, remote: str, *, timeout: float = 10.0) -> bool:
        # Not mpremote's fs_exists: it maps every OSError to False, a lost link included.
        code = f"import os\ntry:\n os.stat({remote!r})\n print(1)\nexcept OSError:\n print(0)"
        r = self.exec(code, timeout)
        return r.check().text().strip() == "1"

    def remove(self, remote: str, *, timeout: float = 10.0) -> None:
        with self._fs_op(f"remove {remote}", remote, timeout) as t:
            t.fs_rmfile(remote)

    # --- closing -------------------------------------------------------------------------------------
    def close(self) -> None:
        """Leave the raw REPL (back to the friendly prompt) and close the port.  Never raises."""
        self._closed = True
        if self._t is None:
            return
        if self._t.in_raw_repl and self._ready:
            with contextlib.suppress(*_LINK_ERRORS, _Deadline), self.deadline(1.0):
                self._t.exit_raw_repl()
        self._close_transport()


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:200]


def _errno_text(exc: OSError) -> str:
    name = errno.errorcode.get(exc.errno or 0)
    return f"[Errno {exc.errno}] {name}" if name else _one_line(exc)
