"""BoardSession: a raw-REPL connection to a board over any pyserial URL, driven by mpremote's SerialTransport.

mpremote speaks the protocol; mpremote_adapter.py bounds its I/O by deadlines.  This module adds what a
test harness needs on top, and only that:

* Outcomes instead of exceptions: ok / error / hung / crashed / transport (result.py).
* Output read binary-safe: a 0x04 byte the program prints is output, not the end of output (`_follow`).
* Resynchronisation: stale input (line noise, output of an earlier exchange) is drained and the raw REPL
  entered again before the session counts itself ready; a send that the board did not take is retried once.
* Recovery of a hung board, escalating Ctrl-C -> soft reset -> hard reset, reported by step.
File operations (fs_*) live in files.py.
"""

from __future__ import annotations

import contextlib
import logging
import math
import re
import time
from collections.abc import Callable, Iterator
from typing import Literal

from ..errors import HilError, TransportError
from . import exit_status
from .files import FileOps, RemoteFileError, one_line
from .mpremote_adapter import (
    HANDSHAKE_S,
    LINK_ERRORS,
    RAW_BANNER,
    Deadline,
    MpTransportError,
    SerialTransport,
    open_transport,
    quiet,
)
from .result import ExecResult, RecoveryStep, error_result

log = logging.getLogger(__name__)

__all__ = ["BoardSession", "BoardValueError", "HardReset", "RemoteFileError"]

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
# After "\x04<error>\x04" the raw REPL prints its ">" prompt -- or, when the program ended with SystemExit,
# soft-reboots (MicroPython's shared/runtime/pyexec.c: PYEXEC_FORCED_EXIT) and prints the reboot line.
_AFTER_END = (b">", b"MPY: soft reboot\r\n", b"soft reboot\r\n")

class _ConsumerFailed(Exception):
    """The caller's on_output callback raised (e.g. BrokenPipeError): not a link error, re-raised as is."""

    def __init__(self, exc: BaseException) -> None:
        super().__init__(str(exc))
        self.exc = exc


class _ResetSeen(Exception):
    """A reset/boot line appeared in the output of running code."""

    def __init__(self, line: bytes) -> None:
        super().__init__(line.decode("utf-8", "replace").strip())


class BoardValueError(HilError):
    """`eval` got back something that is not a Python literal."""


class BoardSession(FileOps):
    """A raw-REPL session with one board.

    `url` is anything pyserial opens: /dev/ttyUSB0, a pty symlink, socket://127.0.0.1:N, rfc2217://host:N,
    and the schemes of host_harness/transport/urls/.
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
            with contextlib.suppress(*LINK_ERRORS):
                self._t.serial.real.write_timeout = max(0.05, seconds)
        try:
            yield
        finally:
            self._deadline = outer

    def _short_read(self, data: bytes) -> None:
        self._last_read = data

    # --- opening, re-entering ------------------------------------------------------------------------
    def _open(self) -> None:
        self._t = open_transport(self.url, baudrate=self.baudrate, remaining=self._remaining,
                                 on_short_read=self._short_read)
        self._ready = False

    def _close_transport(self) -> None:
        t, self._t = self._t, None
        self._ready = False
        if t is None:
            return
        with contextlib.suppress(*LINK_ERRORS, Deadline):
            t.close()

    def _enter_raw(self, seconds: float, *, soft_reset: bool = False, settle: float = 0.05) -> None:
        """Ctrl-C, wait for the line to settle, then Ctrl-A (and Ctrl-D for a soft reset) via mpremote."""
        self._ready = False
        self._last_read = b""
        with self.deadline(seconds), quiet():
            self._settle(settle)
            # A desynchronised earlier exchange can make mpremote give up on raw-paste for good; the board
            # has not changed, so let it ask again.
            self.transport.use_raw_paste = True
            self.transport.enter_raw_repl(soft_reset=soft_reset, timeout_overall=seconds)
        self._ready = True

    def _settle(self, quiet_s: float) -> None:
        """Ctrl-C, then drop input until the line has been quiet for `quiet_s` s.

        mpremote only drops what has arrived at that instant; output still on its way (an interrupted chatty
        program, the banner answering an earlier, timed-out attempt) would then be taken for fresh replies
        and desynchronise the exchange.
        """
        ser = self.transport.serial
        ser.write(b"\r\x03")
        last = time.monotonic()
        while time.monotonic() - last < quiet_s:
            if self._remaining() <= 0:
                raise Deadline()
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
            except Deadline:
                reason = (f"no raw REPL prompt from {self.url} within {seconds:g} s "
                          f"{self._describe_received()}")
            except LINK_ERRORS as exc:
                reason = f"lost {self.url}: {one_line(exc)}"
                if isinstance(exc, OSError):  # the link itself broke: reopen on the next round
                    self._close_transport()
                    if not allow_reopen:
                        return reason
                time.sleep(min(0.2, max(0.0, end - time.monotonic())))

    def _describe_received(self) -> str:
        data = self._last_read
        if not data:
            return "(nothing received: is a MicroPython board attached and running?)"
        from ..flash.bootcheck import boot_loop_error

        loop = boot_loop_error(data)
        if loop:  # an ESP32's ROM restarting over and over: its flash holds nothing it can start
            return (f"(the board is not-booting: boot loop: {loop}: flash a firmware first, `usocket-hil flash` "
                    "or test --firmware)")
        return f"(received {len(data)} bytes that never formed the prompt, ending {data[-40:]!r})"

    # --- exec ----------------------------------------------------------------------------------------
    def exec(self, code: str | bytes, timeout: float = 30.0, *,
             on_output: Callable[[bytes], None] | None = None, catch_exit: bool = False) -> ExecResult:
        """Run `code` on the board within `timeout` seconds; never raises for board or link trouble.

        `on_output` receives stdout bytes as they arrive (for streaming to a terminal).  With `catch_exit`
        a sys.exit(n) in the code ends it with outcome ok and `exit_status` n (CPython's rules for n).
        """
        start = time.monotonic()
        data = code.encode() if isinstance(code, str) else bytes(code)
        if not data.strip():
            data = b"pass"  # an empty program followed by Ctrl-D is a soft reset on boards
        sent = exit_status.wrap(data) if catch_exit else None
        if sent is None:
            sent, catch_exit = data, False
        if not self._ready:
            err = self._resync(min(timeout, self.open_timeout))
            if err:
                return ExecResult("transport", error=err, duration=time.monotonic() - start)
        out = bytearray()

        def consume(b: bytes) -> None:
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

        try:
            err, rebooted = self._send_and_follow(sent, timeout, start, consume)
        except _SendFailed as exc:
            return ExecResult("transport", error=str(exc), duration=time.monotonic() - start)
        except Deadline:
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
                              error=f"board reset while running the code (machine.reset(), a crash or "
                                    f"the reset button): {str(exc)[:80]!r}")
        except LINK_ERRORS as exc:
            duration = time.monotonic() - start
            self._close_transport()
            step = "reconnect" if self._resync(self.open_timeout) is None else None
            return ExecResult("crashed", stdout=bytes(out), duration=duration, recovered_by=step,
                              error=f"link to the board lost while running the code ({one_line(exc)})")
        if rebooted:  # SystemExit soft-rebooted the board: wait for its raw REPL again
            self._resync(self.open_timeout)
        else:
            self._ready = True
        duration = time.monotonic() - start
        if not err:
            return ExecResult("ok", stdout=bytes(out), duration=duration)
        text = err.decode("utf-8", "replace").replace("\r\n", "\n")
        if catch_exit:
            text = exit_status.board_text(text)
        res = error_result(text, stdout=bytes(out), duration=duration, code=data)
        if catch_exit and res.exc_type == exit_status.EXIT_EXCEPTION:
            return exit_status.exit_result(res, duration)
        return res

    def _send_and_follow(self, data: bytes, timeout: float, start: float,
                         consume: Callable[[bytes], None]) -> tuple[bytes, bool]:
        """Send the code (retrying once after a resync when the board did not take it), then follow it.
        Returns (error output, whether the board soft-rebooted after it)."""
        self._ready = False
        for attempt in (1, 2):
            try:
                with self.deadline(max(0.05, timeout - (time.monotonic() - start))), quiet():
                    self.transport.serial.expect_code()
                    self._sync_prompt()
                    self.transport.exec_raw_no_follow(data)
                break
            except (Deadline, MpTransportError, OSError) as exc:
                if self._t is not None and self._t.serial.eot_written:
                    # The end-of-code Ctrl-D went out (or may have, if that write failed): the board may be
                    # running the code, so it is never sent again; the caller treats this as a hang or a
                    # link lost while running.
                    raise
                why = (f"board did not take the code within {timeout:g} s {self._describe_received()}"
                       if isinstance(exc, Deadline) else f"{self.url}: {one_line(exc)}")
                left = timeout - (time.monotonic() - start)
                if isinstance(exc, OSError):
                    self._close_transport()
                if attempt == 2 or left <= 0.2:
                    raise _SendFailed(why) from None
                # The code provably never started -- no Ctrl-D ended it (noise on the line, the board left the
                # raw REPL, a network REPL's session dropped between execs): resync (reopening the link, a new
                # login), resend once.
                log.info("%s: send failed (%s): resynchronising", self.url, why)
                err = self._resync(min(left, self.open_timeout))
                if err:
                    raise _SendFailed(f"{why}; then {err}") from None
        with self.deadline(max(0.05, timeout - (time.monotonic() - start))):
            return self._follow(consume)

    def _sync_prompt(self) -> None:
        """Make the next `>` the board prints be the answer to us, not to noise or a late reply.

        Ctrl-C at the raw prompt clears the board's line buffer and Ctrl-A makes it print its banner and a
        fresh prompt (shared/runtime/pyexec.c, pyexec_raw_repl; from the friendly REPL Ctrl-A enters the raw
        one).  The board answers bytes in order, so whatever arrives before that banner -- output of noise
        the board took for a command, a program's late output -- is stale and dropped here.
        """
        self.transport.serial.write(b"\x03\x01")
        outer = self._deadline
        self._deadline = min(outer if outer is not None else math.inf, time.monotonic() + HANDSHAKE_S)
        data = bytearray()
        try:
            while not data.endswith(RAW_BANNER):  # byte by byte as they come (mpremote polls every 10 ms)
                data += self._read1()
        except Deadline:
            self._last_read = bytes(data[-200:])
            raise
        finally:
            self._deadline = outer
        if len(data) > len(RAW_BANNER) + 1:  # + the `>` left pending by the previous exchange
            log.info("%s: dropped %d stale bytes before exec", self.url, len(data) - len(RAW_BANNER) - 1)

    def _read1(self) -> bytes:
        b = self.transport.serial.read(1)
        if not b:
            raise Deadline()
        return b

    def _follow(self, consume: Callable[[bytes], None]) -> tuple[bytes, bool]:
        """Read `stdout \\x04 error \\x04` and the prompt after it; stdout goes to `consume` byte by byte.

        Binary-safe: a 0x04 is taken as the end of stdout only when `<error>\\x04` and the prompt (or the soft
        reboot a SystemExit causes) follow it; otherwise it was output and is passed on.
        """
        ser = self.transport.serial
        while True:
            b = self._read1()
            if b != b"\x04":
                consume(b)
                continue
            held = bytearray()  # the candidate error text
            while (c := self._read1()) != b"\x04":
                held += c
            tail = bytearray()
            while any(end.startswith(tail) for end in _AFTER_END) and bytes(tail) not in _AFTER_END:
                tail += self._read1()
            if bytes(tail) in _AFTER_END:
                if tail == b">":
                    ser.unread(b">")  # the prompt stays pending for the next exchange, as mpremote expects
                return bytes(held), tail != b">"
            # Not the end: the first 0x04 was output.  Everything after it is read again.
            consume(b"\x04")
            ser.unread(bytes(held) + b"\x04" + bytes(tail))

    def interrupt(self, timeout: float | None = None) -> bool:
        """Ctrl-C whatever runs and wait for the raw-REPL prompt; True if it came back."""
        try:
            self._enter_raw(timeout or self.recover_timeout, settle=0.25)
            return True
        except (Deadline, *LINK_ERRORS):
            return False

    def _recover_hung(self) -> RecoveryStep | None:
        """Escalate until the raw REPL answers again; return the step that worked."""
        t = self.recover_timeout
        try:
            self._enter_raw(t, settle=0.25)  # starts with Ctrl-C
            return "ctrl-c"
        except (Deadline, *LINK_ERRORS) as exc:
            log.info("%s: Ctrl-C did not recover the board (%s)", self.url, exc)
        try:
            self._enter_raw(t, soft_reset=True, settle=0.25)
            return "soft-reset"
        except (Deadline, *LINK_ERRORS) as exc:
            log.info("%s: soft reset did not recover the board (%s)", self.url, exc)
        if self._hard_reset is None:
            return None
        try:
            self._do_hard_reset()
        except (HilError, *LINK_ERRORS) as exc:
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
        real = self.transport.serial.real
        try:
            real.dtr = False
            real.rts = True
            time.sleep(hold)
            real.rts = False
        except OSError as exc:
            raise TransportError(f"{self.url}: cannot pulse DTR/RTS to reset ({one_line(exc)})") from None

    # --- convenience ---------------------------------------------------------------------------------
    def eval(self, expr: str, timeout: float = 10.0):
        """Evaluate `expr` on the board and return its value (repr on the board, literal_eval here)."""
        import ast

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
        except Deadline:
            raise TransportError(f"{self.url}: no soft reboot within {timeout:g} s "
                                 f"{self._describe_received()}") from None
        except LINK_ERRORS as exc:
            raise TransportError(f"{self.url}: soft reset failed: {one_line(exc)}") from None

    @property
    def can_hard_reset(self) -> bool:
        return self._hard_reset is not None

    def hard_reset(self, timeout: float | None = None, *, watch: Callable[[object], object] | None = None) -> None:
        """Run the hard-reset action, then wait for the raw REPL (TransportError if it does not come back).
        `watch(port)`, if given, reads the pyserial port right after the reset (the boot output) and may raise
        to say the board is not booting; the port's read timeout is restored after it."""
        if self._hard_reset is None:
            raise TransportError(f"{self.url}: no hard reset available for this board")
        self._ready = False
        self._do_hard_reset()
        if watch is not None:
            port = self.transport.serial.real
            saved = port.timeout
            try:
                watch(port)
            finally:
                port.timeout = saved
        err = self._resync(timeout or self.open_timeout + self.recover_timeout)
        if err:
            raise TransportError(err)

    # --- closing -------------------------------------------------------------------------------------
    def close(self) -> None:
        """Leave the raw REPL (back to the friendly prompt) and close the port.  Never raises."""
        self._closed = True
        if self._t is None:
            return
        if self._t.in_raw_repl and self._ready:
            with contextlib.suppress(*LINK_ERRORS, Deadline), self.deadline(1.0):
                self._t.exit_raw_repl()
        self._close_transport()


class _SendFailed(Exception):
    """The code did not reach the board (it never started)."""
