"""`usocket-hil deploy`: put usocket_port + the board's glue into its /lib, copying only what changed."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..board.identify import definition_for, read_facts
from .common import add_board_args, open_from_args


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "deploy", help="deploy usocket_port to a board",
        description=(
            "Copy usocket_port/ and ports/<target>/ to the board's /lib (as .mpy compiled for the board's "
            "mpy_arch, or .py), skipping files whose sha256 already matches, then import them on the board. "
            "The target is taken from the board itself before anything is written: a virtual board's own "
            "board file, a real board's sys.implementation / sys.platform / os.uname(); a --board that "
            "does not match it is refused. Give --port (with or without --board), or only --board for a "
            "virtual board started with `usocket-hil virtual up`. "
            "Exit status 0 on success, 2 if the port, the target check or the deploy fails."
        ),
    )
    add_board_args(p)
    p.add_argument("--force", action="store_true", help="copy every file even if the board has it")
    p.add_argument("--py", action="store_true", help="deploy plain .py instead of .mpy")
    p.add_argument("--lib", action="append", default=[], type=Path, metavar="PATH",
                   help="also put this module or folder's contents on the board's /lib, as the test plugin's "
                        "--board-lib does (repeatable; e.g. umqtt and urequests, see README)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..errors import HilError

    for lib in args.lib:
        if not lib.exists():
            raise HilError(f"--lib {lib} does not exist")
        if lib.is_file() and lib.suffix != ".py":
            raise HilError(f"--lib {lib}: give a .py module or a folder of them")
    extras = [lib.resolve() for lib in args.lib]
    with open_from_args(args, extras=extras) as board:
        running = getattr(board, "running", None)
        if board.definition.target == "unknown":  # a bare port nobody named: the board says what it is
            facts = read_facts(board.session)
            board.definition = definition_for(*facts, board.url)
            print(f"detected target {board.definition.target} ({facts[0]} on {facts[1]}, {facts[2]}): "
                  f"using board definition {board.definition.name}")
        elif running is not None and not args.board:
            print(f"detected target {board.definition.target}: {board.url} is virtual board {running.name}, "
                  f"board file {board.definition.name}")
        report = board.deploy(force=args.force, py=args.py)
    for path in report.copied:
        print(f"copied  {path}")
    for path in report.removed:
        print(f"removed {path}")
    print(f"{board.definition.name} at {board.url}: {report.summary()}")
    return 0
