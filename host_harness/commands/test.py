"""`usocket-hil test --board NAME [--board NAME ...] [--port URL | --place NAME | --place-tag K=V] [--firmware FILE]`.

Flash (optional) → deploy → conformance suite (tests/device) → clause × target report, per board.
Each board's suite runs in its own pytest process (its own board bring-up and teardown, board/): one after
the other, or `--jobs N` at once (farm/concurrent.py); `--pool N` shares one target's suite over N identical
boards (pytest-xdist workers; plugin/pool.py brings N virtual boards up for them).  `--place NAME` holds a
labgrid place for the run (board/place.py) and uses its board tag and RFC2217 port; `--place-tag K=V
--pool N` holds N places matching the tags (labgrid reservations) and shares the suite over them.
Exit status: 0 when no clause failed on any board.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

from .. import children
from ..board import loopback_peer_host
from ..board.steps import BRINGUP_FAILED, LINK_LOST
from ..boards import load_board
from ..errors import HilError
from ..report import FAIL, build_table, load_clauses, load_results, render_markdown, summary_counts
from ..resources import device_tests_dir
from .common import BOARD_HELP, PORT_HELP, count, given_once, nonnegative_seconds

if TYPE_CHECKING:
    from .suite_output import SuiteOutput

# A whole suite on one board; generous, since a real board at 115200 baud is slow.  Each test has its own
# deadline inside (the plugin's --board-timeout); this one only stops a runaway pytest.
SUITE_DEADLINE_S = 1800
SUITE_CLEANUP_S = 60  # after Ctrl-C: time the suite gets to stop what it started
# --pool: each worker is a whole virtual board (an interpreter, a namespace pair, peers); beyond a few per CPU
# they only starve each other (and 100000 would never finish "bringing up nodes").
BOARDS_PER_CPU = 4
MAX_POOL = BOARDS_PER_CPU * (os.cpu_count() or 1)
# the suite running now, its start, its output (a lost place stops it: what it prints then goes to its log only)
_SUITES: list[tuple[subprocess.Popen, float, SuiteOutput]] = []
_LOST = threading.Event()  # a place was lost: no further suite starts
# SIGINT in a Python that is still importing pytest is a bare KeyboardInterrupt traceback (and nothing to
# clean up yet): a suite younger than this gets its interrupt when it reaches this age.
SUITE_STARTUP_S = 5.0


def _interrupt_suites(_why: str) -> None:
    _LOST.set()
    for proc, started, output in list(_SUITES):
        output.mute()  # pytest's KeyboardInterrupt banner and the transport's interrupted frame: log only
        wait = SUITE_STARTUP_S - (time.monotonic() - started)
        if wait > 0:
            timer = threading.Timer(wait, children.interrupt_group, args=(proc,))
            timer.daemon = True
            timer.start()
        else:
            children.interrupt_group(proc)  # the suite (its own group) stops its board and peers


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "test", help="flash, deploy and run the conformance suite; print the clause report",
        description="Run the usocket conformance suite (tests/device) on each board and print a "
                    "clause × target table (pass / FAIL / n/a = not on this target, with the reason). "
                    "A virtual board file gets a board started for the run; the id of a running virtual board "
                    "(vb1, from `virtual up`) or --port of one uses that board; a real board needs --port. "
                    "Exit status 0 when every clause passed, 1 when "
                    "one failed or a suite did not complete, 2 when a board cannot be brought up, cannot "
                    "reach its host peers, or was lost mid-suite (its link, its labgrid place: the clauses not "
                    "run are untested), 3 when a place is busy or too few places match, 143 on SIGTERM.")
    p.add_argument("--board", action="append", default=[], metavar="NAME",
                   help=BOARD_HELP + "; repeat for several targets")
    p.add_argument("--port", metavar="URL", help=PORT_HELP + " (with a single --board; once)",
                   action=given_once("several boards on ports: make them labgrid places and use --place-tag "
                                     "KEY=VALUE --pool N, or one run per board"))
    p.add_argument("--place", metavar="NAME",
                   help="labgrid place to acquire for the run: its 'board' tag and RFC2217 port (see README); "
                        "once",
                   action=given_once("several places: tag them and use --place-tag KEY=VALUE --pool N, or one "
                                     "run per place"))
    p.add_argument("--place-tag", action="append", default=[], metavar="KEY=VALUE",
                   help="acquire --pool N (default 1) labgrid places whose tags match (repeat for several "
                        "tags; labgrid's reservations pick which) and share the suite over them")
    p.add_argument("--coordinator", metavar="HOST:PORT", help="labgrid coordinator (default $LG_COORDINATOR)")
    p.add_argument("--place-wait", type=nonnegative_seconds, default=0.0, metavar="S",
                   help="wait up to S seconds for a busy place (a labgrid reservation); default: fail at once")
    p.add_argument("--peer-host", metavar="IP",
                   help="real boards: numeric address of this host that the board reaches (checked first)")
    p.add_argument("--wlan-ssid", metavar="SSID", help="real boards: Wi-Fi to join after deploy")
    p.add_argument("--wlan-key", metavar="KEY", help="the key for --wlan-ssid")
    p.add_argument("--firmware", type=Path, metavar="FILE", help="flash this image first (real ESP boards)")
    p.add_argument("--report-dir", type=Path, default=Path("reports"), help="JUnit, results, Markdown table")
    p.add_argument("--jobs", type=int, default=1, metavar="N",
                   help="run up to N boards' suites at once (each its own process, log and JUnit file)")
    p.add_argument("--pool", type=count(1, MAX_POOL, f" ({BOARDS_PER_CPU} boards per CPU of this machine)"),
                   default=1, metavar="N",
                   help="share the suite over N identical boards (pytest-xdist): N virtual boards, or with "
                        "--place-tag N places")
    p.add_argument("-k", metavar="EXPR", help="only tests matching this pytest -k expression")
    p.add_argument("-x", "--exitfirst", action="store_true", help="stop a board's suite at its first failure")
    p.set_defaults(func=run)


def _preflight(board_name: str, port: str, firmware: Path | None, log_dir: Path) -> None:
    """Before a suite starts, the board layer's first bring-up steps, once: with --firmware *flashed* (esptool,
    the boot verdict; flash/) then *booted* (raw REPL, identity), without it *booted* alone -- so a board that
    does not come up is one root cause on one line, not one failure per test.  The suite then deploys."""
    from ..board import open_board

    board = load_board(board_name)
    if firmware is not None:
        from ..flash import load_image

        load_image(firmware, board)  # a wrong image is refused before anything is opened

    def show(data: bytes) -> None:  # the steps' outcomes ("flashed: ok in 1.2 s (...)")
        print(data.decode(errors="replace").rstrip().replace("[usocket-hil] ", "== "), flush=True)

    with open_board(board, port, deploy=False, online=False, start_virtual=False, firmware=firmware,
                    flash_log_dir=log_dir / "board-logs" / board_name / "flash",
                    log=show if firmware is not None else None):
        pass


def _preflight_all(board_name: str, ports: list[str], firmware: Path | None, log_dir: Path) -> None:
    """A pool's boards (a tag pool's places): with --firmware all flashed at once by the flash runner (one
    progress view; the boot of each judged from its output), then each booted (raw REPL, identity) side by
    side.  The first failure is raised once every board is done."""
    from concurrent.futures import ThreadPoolExecutor

    from ..board import open_board  # noqa: F401 - before the threads import it (plugin/pool.py BoardPool.start)

    if firmware is not None:
        from ..flash import FlashError, flash_boards, load_image
        from ..flash.summary import failure_line, summary_line

        board = load_board(board_name)
        results = flash_boards(board, ports, load_image(firmware, board), identity=False,
                               log_dir=log_dir / "board-logs" / board_name / "flash")
        for r in results:
            print(f"== {summary_line(r)}", flush=True)
        failed = [r for r in results if not r.ok]
        if failed:
            raise FlashError("; ".join(failure_line(r) for r in failed))
    with ThreadPoolExecutor(max_workers=len(ports), thread_name_prefix="preflight") as pool:
        futures = [pool.submit(_preflight, board_name, url, None, log_dir) for url in ports]
    for future in futures:
        future.result()


def _targets(args: argparse.Namespace) -> dict[str, tuple[str, str | None]]:
    """Each --board as given -> (board file, port).  The id of a running virtual board (vb1) means its board
    file on its port; a board file name gets a board of its own (virtual) or --port (real)."""
    from ..board.find import running

    ids = {vb.name: vb for vb in running()} if not args.port else {}
    targets: dict[str, tuple[str, str | None]] = {}
    for name in dict.fromkeys(args.board):
        if name in ids:
            targets[name] = (ids[name].definition, ids[name].port_url)
        else:
            targets[name] = (load_board(name).name, args.port)  # unknown names fail here, before anything
    return targets


def _check_peer_host(args: argparse.Namespace, targets: dict[str, tuple[str, str | None]]) -> None:
    """--peer-host, before any board is touched: numeric, this host's, and used by every board named."""
    from ..peers.address import check_peer_host
    from ..plugin.options import peer_host_applies

    for _, port in targets.values():
        args.peer_host = check_peer_host(args.peer_host, port)
    unused = [name for name, (board_name, port) in targets.items()
              if not peer_host_applies(load_board(board_name), port)]
    if unused:
        raise HilError(f"--peer-host is not used with {', '.join(unused)}: a virtual or host board's peers "
                       "listen where the harness set up its network (drop --peer-host; it is for real boards "
                       "on --port)")


def _suite_command(args: argparse.Namespace, name: str, board_name: str, port: str | None) -> list[str]:
    report_dir: Path = args.report_dir
    cmd = [
        sys.executable, "-m", "pytest", str(device_tests_dir()),
        # Only the plugins the suite uses, named (every pytest process loads them, each xdist worker too).
        # Autoloaded, every installed plugin's entry point is scanned and imported (labgrid's ~1 s), and pytest
        # marks each plugin's whole package for assertion rewriting (_pytest/config/__init__.py
        # _mark_plugins_for_rewrite): all of host_harness parsed and rewritten at every start, ~0.1-0.2 CPU s,
        # when PYTHONDONTWRITEBYTECODE keeps pytest from caching it.  Named with -p, only that module is.
        "--disable-plugin-autoload", "-p", "host_harness.pytest_plugin", "-p", "pytest_timeout",
        *(("-p", "xdist.plugin") if args.pool > 1 else ()),
        "-p", "no:cacheprovider", "-qq",
        "--rootdir", str(device_tests_dir()),
        "--board", board_name,
        f"--junitxml={report_dir / f'junit-{name}.xml'}", "-o", f"junit_suite_name={name}",
        f"--clause-report={report_dir / f'clauses-{name}.json'}",
        f"--board-log-dir={report_dir / 'board-logs' / name}",
        f"--board-durations={report_dir / f'durations-{name}.json'}",  # a pool's next run spreads long tests
    ]
    if port:
        cmd += ["--port", port]
    peer_host = args.peer_host or loopback_peer_host(board_name, port or next(iter(args.pool_ports), None))
    if peer_host:
        cmd += ["--peer-host", peer_host]
        if not args.peer_host:
            cmd += ["--board-ip", peer_host]
    if args.wlan_ssid:
        cmd += ["--wlan-ssid", args.wlan_ssid, "--wlan-key", args.wlan_key or ""]
    if args.pool > 1:
        # xdist workers on a pool of boards the controller brings up (plugin/pool.py), long tests spread
        cmd += ["-n", str(args.pool), "--dist", "worksteal"]
        for url in args.pool_ports:  # a tag pool's places: one port per worker
            cmd += ["--pool-port", url]
    if args.k:
        cmd += ["-k", args.k]
    if args.exitfirst:
        cmd.append("-x")
    # A suite that ends before writing its results must not leave the last run's results to be reported.
    for stale in (report_dir / f"clauses-{name}.json", report_dir / f"junit-{name}.xml"):
        stale.unlink(missing_ok=True)
    return cmd


def _run_suite(args: argparse.Namespace, name: str, board_name: str, port: str | None) -> int:
    from .suite_output import SuiteOutput

    cmd = _suite_command(args, name, board_name, port)
    if _LOST.is_set():
        return 130  # a place is gone (the watch said which): no suite on it
    print(f"== {name}" if name == board_name else f"== {name} ({board_name})", flush=True)
    proc = children.spawn(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    output = SuiteOutput(proc, args.report_dir / "suite-logs" / f"{name}.log")
    entry = (proc, time.monotonic(), output)
    _SUITES.append(entry)
    try:
        return proc.wait(SUITE_DEADLINE_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        print(f"usocket-hil: suite on {board_name} passed its {SUITE_DEADLINE_S} s deadline", file=sys.stderr)
        return 124
    except KeyboardInterrupt:
        # The suite is in its own process group: it gets one SIGINT, from us, and time to stop its boards
        # and peers; what it prints meanwhile (pytest's banner) goes to its log only.
        output.mute()
        children.interrupt([proc], SUITE_CLEANUP_S)
        raise
    finally:
        _SUITES.remove(entry)
        output.close()


def run(args: argparse.Namespace) -> int:
    args.pool_ports = []
    if args.place and args.place_tag:
        raise HilError("--place NAME or --place-tag KEY=VALUE, not both")
    if args.place_tag:
        return _run_tag_pool(args)
    if not args.place:
        if not args.board:
            raise HilError("--board NAME (or --place NAME, --place-tag KEY=VALUE) is required")
        unused = [o for o, v in (("--coordinator", args.coordinator), ("--place-wait", args.place_wait)) if v]
        if unused:  # (silently ignored, a CI job would believe it waited for, or used, that coordinator)
            raise HilError(f"{' and '.join(unused)} {'is' if len(unused) == 1 else 'are'} for labgrid places: "
                           "add --place NAME or --place-tag KEY=VALUE, or drop it")
        return _run(args)
    if args.port:
        raise HilError("--place gives the board's port; drop --port")
    if args.pool > 1:  # (said before the place is acquired, not after)
        raise HilError("--place is one board: for --pool N boards use --place-tag KEY=VALUE --pool N")
    from ..board.place import PlaceLostError, acquired_place, after_loss

    with acquired_place(args.place, coordinator=args.coordinator, wait=args.place_wait,
                        on_lost=_interrupt_suites) as lease:
        if args.board and set(args.board) != {lease.board}:
            raise HilError(f"place {lease.name} holds a {lease.board}, not {', '.join(args.board)}")
        args.board, args.port = [lease.board], lease.url
        print(f"== place {lease.name} acquired: {lease.board} on {lease.url}", flush=True)
        code = _run(args)  # the place is released on the way out, whatever happens in the run
        if lease.lost:
            raise PlaceLostError(f"place {lease.name} was lost mid-run ({lease.lost}): {after_loss([lease])}")
    print(f"== place {lease.name} released", flush=True)
    return code


def _run_tag_pool(args: argparse.Namespace) -> int:
    """--place-tag: hold --pool N places matching the tags (labgrid reservations), share the suite over them
    (one xdist worker per place), release every one of them whatever ends the run."""
    if args.port:
        raise HilError("--place-tag gives the boards' ports; drop --port")
    if args.pool < 1:
        raise HilError("--pool N needs N >= 1")
    from ..board.place import PlaceLostError, acquired_places, after_loss, parse_tags

    tags = parse_tags(args.place_tag)
    with acquired_places(tags, args.pool, coordinator=args.coordinator, wait=args.place_wait,
                         on_lost=_interrupt_suites) as leases:
        boards = {lease.board for lease in leases}
        if len(boards) > 1 or (args.board and set(args.board) != boards):
            held = ", ".join(f"{lease.name}: {lease.board}" for lease in leases)
            raise HilError(f"the places matching {' '.join(args.place_tag)} are not one kind of board "
                           f"({held}){' for --board ' + ', '.join(args.board) if args.board else ''}: "
                           "add a tag that tells them apart, e.g. board=NAME")
        for lease in leases:
            print(f"== place {lease.name} acquired: {lease.board} on {lease.url}", flush=True)
        args.board = [leases[0].board]
        if len(leases) == 1:
            args.port = leases[0].url
        else:
            args.pool_ports = [lease.url for lease in leases]  # the suite's peer host: the first's
        code = _run(args)  # the places are released on the way out, whatever happens in the run
        lost = [f"{lease.name} ({lease.lost})" for lease in leases if lease.lost]
        if lost:
            raise PlaceLostError(f"place(s) {', '.join(lost)} lost mid-run: {after_loss(leases)}")
    print(f"== place(s) {', '.join(lease.name for lease in leases)} released", flush=True)
    return code


def _run(args: argparse.Namespace) -> int:
    if (args.port or args.firmware) and len(set(args.board)) != 1:
        raise HilError("--port and --firmware need exactly one --board")
    if args.firmware and not (args.port or args.pool_ports):
        raise HilError("--firmware needs --port (the board's serial port)")
    if args.jobs < 1:
        raise HilError("--jobs N needs N >= 1")
    targets = _targets(args)
    boards = list(targets)
    if args.peer_host:
        _check_peer_host(args, targets)
    running = [name for name, (board_name, port) in targets.items() if port and name != board_name]
    if args.pool > 1 and running:  # a running board's id: one board, which N workers cannot share
        raise HilError(f"--pool N needs a board file; {', '.join(running)} is one running board "
                       f"(give its board file, e.g. --board {targets[running[0]][0]}, for N boards of its own)")
    if args.pool < 1 or (args.pool > 1 and not args.pool_ports and (
            args.port or not all(load_board(b).is_virtual for b, _ in targets.values()))):
        raise HilError("--pool N needs N >= 1 and virtual boards without --port (or --place-tag places)")
    args.report_dir.mkdir(parents=True, exist_ok=True)
    for board_name, port in targets.values():
        if port:
            _preflight(board_name, port, args.firmware, args.report_dir)  # flashes with --firmware
        elif args.pool_ports:  # a tag pool's boards: flashed and booted side by side
            _preflight_all(board_name, args.pool_ports, args.firmware, args.report_dir)

    if args.jobs > 1 and len(boards) > 1:
        from ..farm.concurrent import run_suites

        commands = {name: _suite_command(args, name, *targets[name]) for name in boards}
        codes = run_suites(commands, args.report_dir / "suite-logs", jobs=args.jobs, deadline=SUITE_DEADLINE_S)
    else:
        codes = {name: _run_suite(args, name, *targets[name]) for name in boards}
    # pytest exit 1 = some test failed (the table shows which); BRINGUP_FAILED = the board never came up
    # (the plugin printed why, once); anything else is an error of the run itself.
    # A lost place stopped its suite (exit 2 like a bring-up failure): the caller names the loss, once.
    from ..peers.reach import PEERS_UNREACHABLE  # the suite stopped before its first network case

    lost = _LOST.is_set()
    down = [] if lost else [n for n, c in codes.items() if c == BRINGUP_FAILED]
    cut = [n for n, c in codes.items() if c == LINK_LOST]  # stopped mid-suite: its table shows what ran
    apart = [] if lost else [n for n, c in codes.items() if c == PEERS_UNREACHABLE]
    broken = {} if lost else {n: c for n, c in codes.items()
                              if c not in (0, 1, BRINGUP_FAILED, LINK_LOST, PEERS_UNREACHABLE)}
    shown = [n for n in boards if n not in down and n not in apart]

    any_fail = False
    if shown:
        clauses = load_clauses()
        runs = {name: load_results(args.report_dir / f"clauses-{name}.json") for name in shown}
        table = build_table(clauses, runs)
        markdown = render_markdown(table, shown)
        (args.report_dir / "conformance.md").write_text(markdown)
        print()
        print(markdown)
        for name in shown:
            c = summary_counts(table, name)
            any_fail |= c[FAIL] > 0
            print(f"{name}: {c['pass']} clauses pass, {c[FAIL]} fail, {c['n/a']} not on this target, "
                  f"{c['untested']} untested")
        print(f"report: {args.report_dir / 'conformance.md'}; JUnit: {args.report_dir}/junit-<board>.xml; "
              f"pytest output: {args.report_dir}/suite-logs/<board>.log")
    for name in down:
        print(f"usocket-hil: no suite ran on {name}: its board did not come up (the line above says why; "
              f"log {args.report_dir / 'board-logs' / name / 'session.log'})", file=sys.stderr)
    for name in apart:
        print(f"usocket-hil: no suite ran on {name}: the board cannot reach its host peers (the line above says "
              f"which address and why; log {args.report_dir / 'suite-logs' / f'{name}.log'})", file=sys.stderr)
    for name in cut:
        print(f"usocket-hil: link to the board lost on {name} mid-suite: the run stopped, the clauses not run "
              f"are untested (log {args.report_dir / 'suite-logs' / f'{name}.log'})", file=sys.stderr)
    for name, code in broken.items():
        print(f"usocket-hil: the suite on {name} did not complete (pytest exit {code})", file=sys.stderr)
    if down or cut or apart:
        return 2
    return 1 if any_fail or broken or any(codes.values()) else 0
