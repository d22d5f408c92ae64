"""`usocket-hil`: one entry point; each subcommand lives in host_harness/commands/<name>.py.

Every command module exposes `register(subparsers)`, which adds its parser and sets `func(args) -> int`.
Errors we expect (HilError) become one line on stderr and a non-zero exit; Ctrl-C exits 130.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from . import __version__
from .errors import HilError

# Order here is the order in --help.
COMMAND_MODULES = ("virtual", "boards", "exec", "repl", "deploy", "flash", "test", "bridge")


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The parser with every subcommand, or with just `only` (start-up time: some commands pull in esptool)."""
    parser = argparse.ArgumentParser(
        prog="usocket-hil",
        description="Flash, deploy and test the usocket API on MicroPython/CircuitPython boards, "
                    "real or virtual.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        if only is not None and name != only:
            continue
        importlib.import_module(f"{__package__}.commands.{name}").register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser(argv[0] if argv and argv[0] in COMMAND_MODULES else None)
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except HilError as exc:
        print(f"usocket-hil: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("usocket-hil: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # Output piped into e.g. `head`, which stopped reading: not an error of ours.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


if __name__ == "__main__":
    sys.exit(main())
