"""`usocket-hil deploy`: put usocket_port + the board's glue into its /lib, copying only what changed."""

from __future__ import annotations

import argparse

from ..boards import Board, all_boards, load_board
from ..deploy import deploy_board
from ..errors import HilError
from ..transport import BoardSession

# sys.platform / sys.implementation.name on the board -> ports/<target>, for --port without --board.
_PLATFORM_TARGETS = {"linux": "unix", "esp32": "esp32", "WiPy": "wipy"}


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "deploy", help="deploy usocket_port to a board",
        description=(
            "Copy usocket_port/ and ports/<target>/ to the board's /lib (as .mpy compiled for the board's "
            "mpy_arch, or .py), skipping files whose sha256 already matches, then import them on the board. "
            "Give --port (and --board to name the board definition; without it the target is detected), or "
            "only --board for a virtual board started with `usocket-hil virtual up`. "
            "Exit status 0 on success, 2 if the port or the deploy fails."
        ),
    )
    p.add_argument("--port", metavar="URL", help="the board's port (pyserial URL)")
    p.add_argument("--board", metavar="NAME", help="board definition (boards/NAME.toml): target and mpy arch")
    p.add_argument("--force", action="store_true", help="copy every file even if the board has it")
    p.add_argument("--py", action="store_true", help="deploy plain .py instead of .mpy")
    p.add_argument("--open-timeout", type=float, default=5.0, metavar="S", help="deadline to open the port")
    p.set_defaults(func=run)


def _running_virtual_port(board: Board) -> str:
    """Port of a running virtual board of this definition (started by `usocket-hil virtual up`)."""
    from ..discovery import discover_virtual

    ports = [e.port_url for e in discover_virtual() if e.board == board.name and e.alive and e.port_url]
    if not ports:
        raise HilError(f"no running virtual board '{board.name}': start one with "
                       f"`usocket-hil virtual up --board {board.name}` or pass --port")
    if len(ports) > 1:
        raise HilError(f"{len(ports)} virtual '{board.name}' boards are running: pick one with --port "
                       f"({', '.join(ports)})")
    return ports[0]


def _detect_board(session: BoardSession, url: str) -> Board:
    impl, platform = session.eval("(__import__('sys').implementation.name, __import__('sys').platform)")
    target = "circuitpython" if impl == "circuitpython" else _PLATFORM_TARGETS.get(platform)
    candidates = [b for b in all_boards() if b.target == target and b.kind != "host"]
    if not candidates:
        raise HilError(f"cannot tell which board is at {url} ({impl} on {platform}): pass --board NAME")
    return candidates[0]


def run(args: argparse.Namespace) -> int:
    if not args.port and not args.board:
        raise HilError("deploy needs --port URL or --board NAME (see --help)")
    board = load_board(args.board) if args.board else None
    if board is not None and board.kind == "host":
        raise HilError(f"board {board.name} runs on the host: there is nothing to deploy")
    url = args.port
    if url is None:
        assert board is not None
        if not board.is_virtual:
            raise HilError(f"--port is required for {board.kind} board {board.name}")
        url = _running_virtual_port(board)
    with BoardSession(url, open_timeout=args.open_timeout) as session:
        if board is None:
            board = _detect_board(session, url)
            print(f"detected target {board.target}: using board definition {board.name}")
        report = deploy_board(session, board, force=args.force, py=args.py)
    for path in report.copied:
        print(f"copied  {path}")
    for path in report.removed:
        print(f"removed {path}")
    print(f"{board.name} at {url}: {report.summary()}")
    return 0
