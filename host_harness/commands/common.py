"""What several commands share: --board/--port on the board layer, and checked numeric options."""

from __future__ import annotations

import argparse
import math

PORT_HELP = ("the board's port: /dev/ttyUSB0, a pty path, socket://HOST:PORT, rfc2217://HOST:PORT "
             "(not needed for a running virtual board named by --board)")
BOARD_HELP = ("board file (boards/NAME.toml, see `usocket-hil boards`) or the id of a running virtual board "
              "(vb1); a running virtual board needs no --port")


def positive_seconds(text: str) -> float:
    """argparse type: a finite number of seconds > 0 (a negative or zero deadline is refused)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, got {text}")
    return value


def nonnegative_seconds(text: str) -> float:
    """argparse type: a finite number of seconds >= 0 (0: do not wait)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"must be a number of seconds >= 0, got {text}")
    return value


def given_once(instead: str) -> type[argparse.Action]:
    """An option that takes one value: given twice is a usage error naming `instead` (argparse's own rule, the
    last one wins, would drop a board or place a run was asked for and still report green)."""

    class Once(argparse.Action):
        def __call__(self, parser, namespace, values, option_string=None):
            if getattr(namespace, self.dest, None) is not None:
                parser.error(f"{option_string} is given once; {instead}")
            setattr(namespace, self.dest, values)

    return Once


def count(minimum: int, maximum: int | None = None, why: str = ""):
    """argparse type: an integer >= minimum (and <= maximum, `why` saying what bounds it)."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {value}")
        if maximum is not None and value > maximum:
            raise argparse.ArgumentTypeError(f"must be at most {maximum}{why}, got {value}")
        return value
    return parse


def add_command(subparsers: argparse._SubParsersAction, name: str, run, summary: str,
                description: str) -> argparse.ArgumentParser:
    """A (sub)command's parser: `summary` for the list of commands, `description` for its --help, `run(args)`
    as what it does."""
    p = subparsers.add_parser(name, help=summary, description=description)
    p.set_defaults(func=run)
    return p


def add_board_args(p: argparse.ArgumentParser, *, open_timeout: bool = True) -> None:
    p.add_argument("--board", metavar="NAME", help=BOARD_HELP)
    p.add_argument("--port", metavar="URL", help=PORT_HELP)
    if open_timeout:
        p.add_argument("--open-timeout", type=positive_seconds, default=5.0, metavar="S",
                       help="deadline to open the port and reach the raw REPL (default 5 s)")


def open_from_args(args: argparse.Namespace, *, enter_raw: bool = True, **kwargs):
    """The board --board/--port name, opened (not deployed): a running virtual board, or a port."""
    from ..board import open_board, resolve
    from ..board.identify import UNKNOWN
    from ..errors import HilError

    if not args.board and not args.port:
        raise HilError(f"{args.command} needs --port URL or --board NAME (see `usocket-hil {args.command} "
                       "--help`)")
    name = _board_file_with_port(args.board, args.port) if args.board and args.port else args.board
    definition, running = resolve(name, args.port)
    if definition is not None and definition.kind == "host":
        raise HilError(f"board {definition.name} runs on the host: there is no board to {args.command}")
    if definition is not None and running is None and not args.port:
        raise HilError(f"no running virtual board '{definition.name}': start one with `usocket-hil virtual up "
                       f"--board {definition.name}`, or pass --port URL" if definition.is_virtual else
                       f"--port is required for {definition.kind} board {definition.name}")
    kwargs.setdefault("deploy", False)
    kwargs.setdefault("online", False)
    return open_board(definition or UNKNOWN, args.port, running=running, start_virtual=False,
                      check_target=definition is not None, open_timeout=getattr(args, "open_timeout", 5.0),
                      enter_raw=enter_raw, **kwargs)


def _board_file_with_port(name: str, port: str) -> str | None:
    """--board NAME --port X: NAME, or None when NAME is the id of the running virtual board on X (the port
    says it all); another port is one line saying where that board is (not "unknown board 'vb1'")."""
    from ..board.find import by_name, by_port
    from ..boards import board_names
    from ..errors import HilError

    if name.endswith(".toml") or name in board_names():
        return name  # a board file: the port's board is checked against it
    vb = by_name(name)
    if vb is None:
        return name  # unknown: load_board says so, listing the board files
    on_port = by_port(port)
    if on_port is not None and on_port.name == vb.name:
        return None
    raise HilError(f"--board {name} is the running virtual board on {vb.port_url}, not on {port}: drop --port "
                   f"to use {name}, or give a board file (e.g. --board {vb.definition}) with --port")
