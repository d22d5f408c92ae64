"""The one outcome family of the harness: what one exec on a board produced, and the exceptions for it.

`ExecResult` carries one of five outcomes (ok, error, hung, crashed, transport); `ExecResult.check()` and the
pytest plugin raise the matching `BoardError` subclass.  No mpremote import here: the CLI, the plugin, the
board layer and the cpython board all share this module without pulling in a serial stack.
Exit codes are not part of this family: host_harness/cli.py maps exception classes to them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Literal

from ..errors import HilError, TransportError

Outcome = Literal["ok", "error", "hung", "crashed", "transport"]

# Which step brought the raw REPL back after a hang or a crash (None: nothing did).
# "re-enter": the board reset itself and the raw REPL was entered again; "reconnect": the port was reopened;
# "power-cycle": the board (a virtual board's supervisor) was started again from scratch.
RecoveryStep = Literal["ctrl-c", "soft-reset", "hard-reset", "re-enter", "reconnect", "power-cycle"]

# `File "<stdin>", line 3, in <module>` (MicroPython and CPython), or `File "<stdin>", line 1` (SyntaxError).
_FRAME = re.compile(r'^\s*File "(?P<file>[^"]*)", line (?P<line>\d+)')
# The exception line: a (possibly dotted) class name, optionally ": message".
_EXC_LINE = re.compile(r"^(?P<type>[A-Za-z_][\w.]*)(?::\s?(?P<msg>.*))?$")


@dataclass(frozen=True)
class Traceback:
    exc_type: str | None
    exc_message: str | None
    board_line: int | None  # innermost line of the code we sent (`File "<stdin>"`)
    file: str | None  # innermost frame's file, which may be a deployed module
    line: int | None


def parse_traceback(text: str) -> Traceback:
    """Pull the exception type/message and line numbers out of a board's traceback text.

    Tolerant by design: a board may print only the exception line, or text that is no traceback at all.
    """
    lines = [ln.rstrip("\r") for ln in text.replace("\r\n", "\n").split("\n")]
    board_line = file = line = None
    last_frame_idx = -1
    for i, ln in enumerate(lines):
        m = _FRAME.match(ln)
        if m:
            last_frame_idx = i
            file, line = m["file"], int(m["line"])
            if m["file"] == "<stdin>":
                board_line = int(m["line"])
    exc_type = exc_msg = None
    # The exception line is the first unindented line after the last frame; later lines continue its message.
    rest = [ln for ln in lines[last_frame_idx + 1:] if ln.strip()]
    rest = [ln for ln in rest if not ln.startswith((" ", "\t"))] or rest
    if rest and not rest[0].startswith("Traceback"):
        m = _EXC_LINE.match(rest[0].strip())
        if m:
            exc_type = m["type"]
            parts = [m["msg"]] if m["msg"] is not None else []
            parts += rest[1:]
            exc_msg = "\n".join(parts) if parts else ""
    return Traceback(exc_type, exc_msg, board_line, file, line)


def source_lines(code: bytes | str) -> int:
    """How many lines the sent code has (a final newline does not start a line)."""
    data = code.encode() if isinstance(code, str) else code
    return max(1, data.count(b"\n") + (0 if data.endswith(b"\n") else 1))


def error_result(text: str, *, stdout: bytes = b"", duration: float = 0.0, code: bytes | str | None = None
                 ) -> ExecResult:
    """An `error` ExecResult from a board traceback.

    MicroPython's lexer reports a syntax error at the end of the input (an unclosed bracket) on the line
    after the last one (py/lexer.c appends a newline at end of input); with `code` given such a line is
    reported as the last line of the code, "at end of input".
    """
    tb = parse_traceback(text)
    board_line, line = tb.board_line, tb.line
    if code is not None and tb.exc_type == "SyntaxError" and board_line is not None:
        last = source_lines(code)
        if board_line > last:
            text = re.sub(rf'(File "<stdin>", line ){board_line}\b', rf"\g<1>{last} (at end of input)", text)
            board_line = last
            if tb.file == "<stdin>":
                line = last
    return ExecResult("error", stdout=stdout, error=text, duration=duration, exc_type=tb.exc_type,
                      exc_message=tb.exc_message, board_line=board_line, error_file=tb.file, error_line=line)


@dataclass(frozen=True)
class ExecResult:
    """The result of one exec on a board.

    outcome:   ok | error | hung | crashed | transport
    stdout:    raw bytes the program printed, binary included (boards cook print() to \\r\\n; see `text()`)
    error:     the board's traceback for `error`; for hung/crashed/transport a one-line explanation
    exc_type, exc_message, board_line: parsed from the traceback (`error` only)
    recovered_by: for hung/crashed, which step brought the raw REPL back (None: it is not back)
    exit_status: the program ended with sys.exit(n) (only where the caller asked for it to be caught)
    """

    outcome: Outcome
    stdout: bytes = b""
    error: str = ""
    duration: float = 0.0
    exc_type: str | None = None
    exc_message: str | None = None
    board_line: int | None = None
    error_file: str | None = None
    error_line: int | None = None
    recovered_by: RecoveryStep | None = None
    exit_status: int | None = None

    @property
    def ok(self) -> bool:
        return self.outcome == "ok"

    def text(self) -> str:
        """stdout as UTF-8 (invalid bytes replaced), \\r\\n turned into \\n."""
        return self.stdout.decode("utf-8", "replace").replace("\r\n", "\n")

    def with_note(self, note: str, **changes) -> ExecResult:
        """A copy whose one-line explanation ends with `note` (e.g. how the board was brought back)."""
        return replace(self, error=f"{self.error}; {note}" if self.error else note, **changes)

    def summary(self) -> str:
        """One line describing the outcome (for logs and CLI errors)."""
        if self.outcome == "ok":
            return f"ok in {self.duration:.2f} s"
        if self.outcome == "error":
            where = f" (line {self.board_line})" if self.board_line is not None else ""
            exc = self.exc_type or "exception"
            return f"board raised {exc}{': ' + self.exc_message if self.exc_message else ''}{where}"
        if self.outcome in ("hung", "crashed"):
            rec = f"; recovered by {self.recovered_by}" if self.recovered_by else "; NOT recovered"
            return f"{self.error}{rec}"
        return self.error

    def check(self) -> ExecResult:
        """Return self if ok, else raise the BoardError matching the outcome."""
        if self.outcome == "ok":
            return self
        cls = {"error": BoardError, "hung": BoardHung, "crashed": BoardCrashed,
               "transport": BoardTransportError}[self.outcome]
        raise cls(self.summary(), result=self, exc_type=self.exc_type or "", output=self.text())


class BoardError(HilError):
    """Code run on the board did not succeed; the base of every board outcome that is not ok.

    `result`: the ExecResult (None when raised without one); `board_traceback`: the board's text (the plugin
    annotates it with host source lines); `exc_type`: e.g. "AssertionError"; `output`: what the board printed.
    In a pytest run these are test failures like any other exception.
    """

    def __init__(self, message: str, *, result: ExecResult | None = None, board_traceback: str = "",
                 exc_type: str = "", output: str = "") -> None:
        super().__init__(message)
        self.result = result
        self.board_traceback = board_traceback or (result.error if result and result.outcome == "error" else "")
        self.exc_type = exc_type
        self.output = output


class BoardHung(BoardError):
    """The code did not finish before its deadline (the board has been recovered, or says it was not)."""


class BoardCrashed(BoardError):
    """The board reset or died while running the code (it has been brought back, or says it was not)."""


class BoardTransportError(BoardError, TransportError):
    """The link to the board went away, or the code never reached it."""


class SyncTimeout(BoardError):
    """A sync.wait() deadline passed without the board publishing the name."""
