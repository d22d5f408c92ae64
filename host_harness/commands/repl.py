"""`usocket-hil repl`: an interactive terminal on a board's REPL (mpremote's terminal loop, our session)."""

from __future__ import annotations

import argparse
import os
import select
import sys

from ..errors import HilError
from .common import add_board_args, add_command, open_from_args


def register(subparsers: argparse._SubParsersAction) -> None:
    add_board_args(add_command(
        subparsers, "repl", run, "interactive REPL on a board",
        "Connect this terminal to the board's REPL (--port, or a running virtual board named by --board). "
        "Ctrl-] (or Ctrl-X) exits; Ctrl-D soft-resets. Exit status 2 if the port cannot be opened or the link "
        "is lost."))


class _State:
    """The one attribute mpremote's terminal loop reads from its State."""

    def __init__(self, transport) -> None:
        self.transport = transport


def run(args: argparse.Namespace) -> int:
    from mpremote.console import ConsolePosix
    from mpremote.repl import do_repl_main_loop

    class PollingConsole(ConsolePosix):
        # mpremote selects on the port's fd, which socket:// and rfc2217:// ports lack; waiting on the
        # keyboard with a short timeout lets the loop poll any port's in_waiting instead.
        def waitchar(self, pyb_serial) -> None:
            select.select([self.infd], [], [], 0.02)

    with open_from_args(args, enter_raw=False) as board:
        if not os.isatty(sys.stdin.fileno()):
            raise HilError("repl needs a terminal on stdin (use `usocket-hil exec` for scripts)")
        session = board.session
        print(f"Connected to {board.url}. Ctrl-] exits.", flush=True)
        console = PollingConsole()
        console.enter()
        try:
            session.transport.serial.write(b"\r")  # show a prompt
            lost = do_repl_main_loop(_State(session.transport), console, console.write,
                                     escape_non_printable=False, code_to_inject=None, file_to_inject=None)
        except OSError as exc:
            lost, why = True, str(exc)
        else:
            why = "device disconnected"
        finally:
            console.exit()
        print("", flush=True)
        if lost:
            raise HilError(f"lost {board.url}: {why}")
    return 0
