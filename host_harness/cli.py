"""`usocket-hil`: one entry point; each subcommand lives in host_harness/commands/<name>.py.

Every command module exposes `register(subparsers)`, which adds its parser and sets `func(args) -> int`.
Errors we expect (HilError) become one line on stderr and the exit code of their class (EXIT_CODES: the one
place exit codes are decided); Ctrl-C at any moment exits 130 without a traceback, which is why this module
imports nothing beyond `sys` before main() has its handler in place.
"""

import sys

# Order here is the order in --help.
COMMAND_MODULES = ("virtual", "boards", "exec", "repl", "deploy", "flash", "test", "bridge")

EXIT_HELP = """exit codes (every command):
  0    success
  1    the code raised on the board (exec), or a test or clause failed (test)
  2    usage, board-file, port or transport error: one line on stderr says what to do
  3    hung: the code did not finish within --timeout (the board is then recovered); test --place: the
       place is busy (or too few places match the tags)
  4    crashed: the board reset or the link dropped while the code ran
  130  interrupted (Ctrl-C); everything started is stopped first
  143  terminated (SIGTERM: a CI job cancelled or timed out); stopped as for Ctrl-C
  141  stdout was closed by the reader (e.g. `| head`)"""

ENV_HELP = """environment:
  USOCKET_HIL_STATE      folder of running virtual boards' state (NAME.json, NAME.tty, NAME.log, NAME.flash)
                         and of the test peers' RSA keys (tls-keys.pem) and compiled .mpy files (mpy-cache/);
                         default /tmp/usocket-hil-<uid>
  MICROPYTHON            MicroPython unix binary for virtual boards (default: the one installed with usocket-hil)
  USOCKET_HIL_NETNS      named|user: force root-named or unprivileged user network namespaces
  USOCKET_HIL_WLAN_SSID  default for --wlan-ssid (test); USOCKET_HIL_WLAN_KEY: default for --wlan-key"""


def exit_code(exc: BaseException) -> int:
    """The exit code for an error of ours: by class, decided here only."""
    from .transport.result import BoardCrashed, BoardError, BoardHung, BoardTransportError

    for cls, code in ((BoardHung, 3), (BoardCrashed, 4), (BoardTransportError, 2), (BoardError, 1)):
        if isinstance(exc, cls):
            return code
    return int(getattr(exc, "exit_code", 2))  # flash's FlashCancelled says 130 itself


def build_parser(only: str | None = None):
    """The parser with every subcommand, or with just `only` (start-up time: some commands pull in esptool)."""
    import argparse
    import importlib

    from . import __version__

    parser = argparse.ArgumentParser(
        prog="usocket-hil",
        description="Flash, deploy and test the usocket API on MicroPython/CircuitPython boards, "
                    "real or virtual.  `usocket-hil COMMAND --help` describes each command.",
        epilog=f"{EXIT_HELP}\n\n{ENV_HELP}", formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        if only is not None and name != only:
            continue
        importlib.import_module(f"{__package__}.commands.{name}").register(subparsers)
    return parser


class Terminated(KeyboardInterrupt):
    """SIGTERM (a CI job cancelled or timed out, `timeout`, systemd): stopped as Ctrl-C stops a run -- what it
    started is stopped, a held place released -- and then exit 143 (128 + SIGTERM)."""


def _terminated(signum, frame) -> None:
    import signal

    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # once: a second SIGTERM must not cut the clean-up short
    raise Terminated()


def main(argv: list[str] | None = None) -> int:
    if argv is None:  # we are the process: SIGTERM takes Ctrl-C's way out (every clean-up path catches that)
        import signal

        signal.signal(signal.SIGTERM, _terminated)
    try:
        code = _main(sys.argv[1:] if argv is None else argv)
    except Terminated:
        print("usocket-hil: terminated", file=sys.stderr)
        code = 143
    except KeyboardInterrupt:
        print("usocket-hil: interrupted", file=sys.stderr)
        code = 130
    if argv is None:  # we are the process (the console script), not a caller in-process
        # Done (or stopped and cleaned up): a Ctrl-C while Python shuts down would otherwise kill the
        # process by SIGINT after its work is complete (exit -2 instead of the status just decided).
        while True:
            try:
                import signal

                signal.signal(signal.SIGINT, signal.SIG_IGN)
                signal.signal(signal.SIGTERM, signal.SIG_IGN)
                break
            except KeyboardInterrupt:  # one that came just before (signal() raises it): the status stands
                continue
    return code


def _main(argv: list[str]) -> int:
    import os

    from .errors import HilError

    parser = build_parser(argv[0] if argv and argv[0] in COMMAND_MODULES else None)
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except HilError as exc:
        print(f"usocket-hil: error: {exc}", file=sys.stderr)
        return exit_code(exc)
    except BrokenPipeError:
        # Output piped into e.g. `head`, which stopped reading: not an error of ours.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


if __name__ == "__main__":
    sys.exit(main())
