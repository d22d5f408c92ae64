"""sys.exit(n) of code run in a raw REPL, reported as exit status n (`BoardSession.exec(catch_exit=True)`).

A raw REPL loses the status: on SystemExit it soft-reboots (shared/runtime/pyexec.c, parse_compile_execute
returns PYEXEC_FORCED_EXIT, which pyexec_raw_repl passes up to the port's soft reset).  So the code is sent
inside a `try:` that turns SystemExit into an exception the board prints, `HilSystemExit: <repr of the arg>`.

The code itself is what is pasted, each line indented by one tab, not a string literal of it: a board compiles
raw-paste input as it streams in (pyexec.c, do_reader_stdin), as for `mpremote run`, so the source is never
held in the board's RAM, let alone twice (a literal is the lexer's buffer plus the str object, then compile()'s
parse tree), and the firmware's compiler takes the code as it takes any paste.  A tab keeps every relative
indentation exactly (py/lexer.c: a tab advances the column to the next multiple of TAB_SIZE 8).  Lines that
start inside a multi-line string are left as they are (their text is the string's), so the code means what it
meant; the `try:` line moves every line down by one, which `board_text` moves back in the board's traceback.
Code the host cannot tokenize (a syntax error, mostly) is sent as it is: the board reports the error itself.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize

from .result import ExecResult

_HEAD = b"try:\n"
_TAIL = (b"\tpass\n"  # the body when the code is only comments
         b"except SystemExit as _e:\n class HilSystemExit(Exception):\n  pass\n"
         b" raise HilSystemExit(repr(_e.args[0] if _e.args else None))\n")
EXIT_EXCEPTION = "HilSystemExit"
_STDIN_LINE = re.compile(r'(File "<stdin>", line )(\d+)')
# Tokens whose text may span lines: a line that starts inside one is part of a string.
_TEXT_TOKENS = {tokenize.STRING} | {getattr(tokenize, "FSTRING_MIDDLE", tokenize.STRING)}


def wrap(code: bytes) -> bytes | None:
    """The code inside the SystemExit catcher, or None when it cannot be tokenized (then send it as it is)."""
    inside: set[int] = set()  # 0-based indexes of lines that start inside a string
    try:
        for tok in tokenize.tokenize(io.BytesIO(code).readline):
            if tok.type in _TEXT_TOKENS and tok.end[0] > tok.start[0]:
                inside.update(range(tok.start[0], tok.end[0]))  # rows are 1-based: the lines after the first
    except (tokenize.TokenError, SyntaxError):  # IndentationError, an undecodable byte included
        return None
    lines = io.BytesIO(code).readlines()  # the rows tokenize counted
    if lines and not lines[-1].endswith(b"\n"):
        lines[-1] += b"\n"
    body = b"".join(ln if i in inside or not ln.strip() else b"\t" + ln for i, ln in enumerate(lines))
    return _HEAD + body + _TAIL


def board_text(text: str) -> str:
    """The board's traceback with the lines of the code as the user wrote them (the `try:` line taken out)."""
    return _STDIN_LINE.sub(lambda m: f"{m[1]}{max(1, int(m[2]) - 1)}", text)


def exit_result(res: ExecResult, duration: float) -> ExecResult:
    """sys.exit(arg) as CPython maps it: None -> 0, an int -> itself, anything else -> printed, 1."""
    try:
        arg = ast.literal_eval(res.exc_message or "None")  # the catcher raised repr(the argument)
    except (ValueError, SyntaxError):
        arg = res.exc_message
    if arg is None:
        status, note = 0, ""
    elif isinstance(arg, int) and not isinstance(arg, bool):
        status, note = arg, ""
    else:
        status, note = 1, str(arg)
    return ExecResult("ok", stdout=res.stdout, error=note, duration=duration, exit_status=status)
