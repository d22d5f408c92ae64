"""`usocket-hil exec`: run Python code on a board through the raw REPL and report the outcome by exit code."""

from __future__ import annotations

import argparse
import sys

from .common import add_board_args, open_from_args, positive_seconds

EXIT_CODES = """exit codes:
  0  ok: the code ran to the end (its output, binary included, is printed)
  n  the code called sys.exit(n)
  1  error: the code raised on the board (the board's traceback goes to stderr)
  2  transport or usage error: the port cannot be opened, is busy, or does not speak the raw REPL
  3  hung: no result within --timeout (the board is then recovered: Ctrl-C, soft reset, hard reset)
  4  crashed: the board reset (machine.reset() included) or the link dropped while the code ran
  130  interrupted (Ctrl-C): the code on the board is stopped first"""


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "exec", help="run Python code on a board",
        description="Run CODE on the board (--port, or a running virtual board named by --board) in its raw "
                    "REPL and print what it prints.",
        epilog=EXIT_CODES, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_board_args(p)
    p.add_argument("--timeout", type=positive_seconds, default=30.0, metavar="S",
                   help="deadline for the code to finish (default 30 s)")
    p.add_argument("code", metavar="CODE", help="Python source to run; '-' reads it from stdin")
    p.set_defaults(func=run)


class _Writer:
    """Streams board output to our stdout as it arrives, with the board's \\r\\n turned into \\n."""

    def __init__(self) -> None:
        self.pending_cr = False

    def __call__(self, b: bytes) -> None:
        out = sys.stdout.buffer
        if self.pending_cr and b != b"\n":
            out.write(b"\r")
        self.pending_cr = b == b"\r"
        if not self.pending_cr:
            out.write(b)
        if b == b"\n":
            out.flush()

    def finish(self) -> None:
        if self.pending_cr:
            sys.stdout.buffer.write(b"\r")
        sys.stdout.buffer.flush()


def run(args: argparse.Namespace) -> int:
    code = sys.stdin.read() if args.code == "-" else args.code
    writer = _Writer()
    with open_from_args(args) as board:
        result = board.exec(code, args.timeout, on_output=writer, catch_exit=True)
    writer.finish()
    if result.outcome == "error":
        sys.stderr.write(result.error if result.error.endswith("\n") else result.error + "\n")
    if result.ok and result.error:  # sys.exit("message"): printed, exit 1 (as CPython does)
        sys.stderr.write(result.error + "\n")
    # Raises the BoardError for the outcome; the CLI prints it as one line and exits with its code.
    result.check()
    return result.exit_status or 0
