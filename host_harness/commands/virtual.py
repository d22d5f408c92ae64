"""`usocket-hil virtual up|down|list`: detached virtual boards that outlive the command."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..boards import load_board
from ..errors import HilError
from ..virtual import manager
from .common import add_command, positive_seconds


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("virtual", help="start, stop and list virtual boards",
                              description="Virtual boards: the MicroPython unix interpreter behind a pty "
                                          "(and optionally TCP), in its own network namespace. Their state "
                                          "lives in $USOCKET_HIL_STATE (default /tmp/usocket-hil-<uid>).")
    sub = p.add_subparsers(dest="virtual_command", metavar="ACTION")
    up = add_command(sub, "up", run_up, "start a virtual board in the background and print its port",
                     "Start a virtual board that outlives this command and print its port, board IP and host "
                     "IP. Use it with `--board ID` (exec, repl, deploy) or any tool that opens a serial port "
                     "(mpremote). Without --flash-dir the board starts on an empty flash (NAME.flash in the "
                     "state folder; whatever an earlier board of that id left there is removed), and `virtual "
                     "down` removes that folder, a WiPy's network-processor store (NAME.flash.nwp) and the log: "
                     "to keep files across boards, give --flash-dir.")
    up.add_argument("--board", default="virtual-unix", help="board definition (default: virtual-unix)")
    up.add_argument("--name", help="board id (default: vb1, vb2, ...)")
    up.add_argument("--tcp", action="store_true", help="also serve the REPL on socket://127.0.0.1:PORT")
    up.add_argument("--no-network", action="store_true", help="no network namespace (no board/host IP)")
    up.add_argument("--flash-dir", help="existing host folder used as the board's flash, mounted as /; kept "
                                        "when the board stops (default: NAME.flash in the state folder, "
                                        "empty at start, removed by `virtual down`)")
    up.add_argument("--timeout", type=positive_seconds, default=20.0, metavar="S",
                    help="seconds to wait for the board (default 20)")
    up.add_argument("--json", action="store_true", help="print the state as JSON")
    down = add_command(sub, "down", run_down, "stop virtual boards",
                       "Stop a virtual board (its supervisor, interpreter and namespaces) and remove its log "
                       "and default flash folder (with a WiPy's NWP store); a --flash-dir folder is kept.")
    down.add_argument("name", nargs="?", help="board id")
    down.add_argument("--all", action="store_true",
                      help="stop every virtual board in the state directory but those a running test or bridge "
                           "owns (t<pid>-<n>)")
    ls = add_command(sub, "list", run_list, "list virtual boards",
                     "List the virtual boards in the state folder: id, board file, whether its supervisor runs, "
                     "crash count, board IP, port.")
    ls.add_argument("--json", action="store_true", help="print the state as JSON")
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])


def run_up(args: argparse.Namespace) -> int:
    board = load_board(args.board)
    if not board.is_virtual:
        raise HilError(f"board '{board.name}' is kind '{board.kind}'; `virtual up` needs a virtual board")
    flash_dir = None
    if args.flash_dir:
        flash_dir = Path(args.flash_dir).resolve()
        if not flash_dir.is_dir():
            what = "is a file, not a folder" if flash_dir.exists() else "does not exist"
            raise HilError(f"--flash-dir {args.flash_dir} {what}: give an existing folder (it becomes the "
                           "board's flash, mounted as /)")
    name = manager.check_name(args.name) if args.name else manager.free_name()
    network = not args.no_network
    if network:
        from ..netns import netns_support

        ok, why = netns_support()
        if not ok:
            raise HilError(f"network namespaces are not available ({why}); use --no-network")
    pid = None
    try:  # the board outlives this command: its supervisor is detached, nothing of it is kept here
        with manager.sigint_held():  # a Ctrl-C waits until we know what to stop
            pid = manager.launch_detached(board, name, tcp=args.tcp, network=network, flash_dir=flash_dir)
        state = manager.wait_ready(pid, name, timeout=args.timeout)
    except BaseException:  # Ctrl-C (or an error) while it starts: nothing may be left running
        if pid is not None:
            manager.stop_pid(pid, name)
            manager.remove_board_files(name, flash_dir=flash_dir)
        raise
    if args.json:
        print(json.dumps(state, indent=2))
        return 0
    print(f"virtual board '{name}' ({board.name}) is up")
    print(f"  port:     {state['port_url']}")
    if state.get("socket_url"):
        print(f"  socket:   {state['socket_url']}")
    if state.get("board_ip"):
        print(f"  board ip: {state['board_ip']}   host ip: {state['host_ip']}   netns: "
              + " ".join(state.get("netns") or []))
    print(f"  flash:    {state['flash_dir']}")
    for service, url in (state.get("services") or {}).items():  # the firmware's network servers
        print(f"  {service + ':':9} {url}")
    print(f"  try:      mpremote connect {state['port_url']} exec \"print('hello')\"")
    print(f"  stop:     usocket-hil virtual down {name}")
    return 0


def run_down(args: argparse.Namespace) -> int:
    if args.all == bool(args.name):
        raise HilError("give a board id or --all (see `usocket-hil virtual list`)")
    names = [b["name"] for b in manager.list_boards()] if args.all else [manager.check_name(args.name)]
    if args.all:  # a running test or bridge keeps its own boards: stopping them would break it mid-run
        owners = {n: manager.owner(n) for n in names}
        for name in [n for n in names if owners[n]]:
            print(f"left virtual board '{name}': it belongs to running process {owners[name]} (a test run "
                  f"or a bridge), which stops it itself; `virtual down {name}` stops it anyway")
            names.remove(name)
    for name in names:
        manager.stop(name)
        print(f"virtual board '{name}' stopped")
    if args.all and not names:
        print("no virtual boards to stop")
    return 0


def run_list(args: argparse.Namespace) -> int:
    boards = manager.list_boards()
    for b in boards:  # t<pid>-N: a test run's, a bridge's or a virtual ESP32's firmware, which stops it itself
        b["owner"] = manager.owner(b["name"])
    if args.json:
        print(json.dumps(boards, indent=2))
        return 0
    if not boards:
        print(f"no virtual boards (state directory {manager.state_dir()})")
        return 0
    rows = [("NAME", "BOARD", "STATUS", "CRASHES", "BOARD IP", "OWNER", "PORT / SOCKET")]
    for b in boards:
        where = b.get("port_url") or "?"
        if b.get("socket_url"):
            where += "  " + b["socket_url"]
        rows.append((b["name"], b.get("board") or "?", "up" if b["alive"] else "dead",
                     str(b.get("crash_count", 0)), b.get("board_ip") or "-",
                     f"pid {b['owner']}" if b["owner"] else "-", where))
    # Each column as wide as its widest cell: board names and IPs have no fixed length.
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=False)) + "  " + row[-1])
    return 0
