"""What one exec on a board produced: an ExecResult with one of five outcomes, plus traceback parsing.

The outcome names are a contract shared with the pytest plugin and the CLI (exit codes in commands/exec.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from ..errors import HilError, TransportError

Outcome = Literal["ok", "error", "hung", "crashed", "transport"]

# Which step of the hung-board recovery brought the raw REPL back (None: nothing did).
# "re-enter": the board reset itself and the raw REPL was entered again; "reconnect": the port was reopened.
RecoveryStep = Literal["ctrl-c", "soft-reset", "hard-reset", "re-enter", "reconnect"]

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


@dataclass(frozen=True)
class ExecResult:
    """The result of `BoardSession.exec`.

    outcome:   ok | error | hung | crashed | transport
    stdout:    raw bytes the program printed (boards cook print() to \\r\\n; see `text()`)
    error:     the board's traceback for `error`; for hung/crashed/transport a one-line explanation
    exc_type, exc_message, board_line: parsed from the traceback (`error` only)
    recovered_by: for hung/crashed, which step brought the raw REPL back (None: it is not back)
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

    @property
    def ok(self) -> bool:
        return self.outcome == "ok"

    def text(self) -> str:
        """stdout as UTF-8 (invalid bytes replaced), \\r\\n turned into \\n."""
        return self.stdout.decode("utf-8", "replace").replace("\r\n", "\n")

    def summary(self) -> str:
        """One line describing a non-ok outcome (for logs and CLI errors)."""
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
        """Return self if ok, else raise the HilError matching the outcome."""
        if self.outcome == "ok":
            return self
        if self.outcome == "transport":
            raise TransportError(self.summary())
        cls = {"error": BoardExecError, "hung": BoardHungError, "crashed": BoardCrashedError}[self.outcome]
        raise cls(self.summary(), result=self)

class BoardOutcomeError(HilError):
    """A non-ok exec outcome raised as an error; `result` carries the full ExecResult."""

    def __init__(self, message: str, *, result: ExecResult | None = None) -> None:
        super().__init__(message)
        self.result = result


class BoardExecError(BoardOutcomeError):
    """The code raised an exception on the board."""

    exit_code = 1


class BoardHungError(BoardOutcomeError):
    """The code did not finish before its deadline."""

    exit_code = 3


class BoardCrashedError(BoardOutcomeError):
    """The board reset or died while running the code."""

    exit_code = 4
