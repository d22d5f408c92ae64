"""`usocket-hil test --board NAME [--board NAME ...] [--port URL] [--firmware FILE]`.

Flash (optional) → deploy → conformance suite (tests/device) → clause × target report, per board.
Each board's suite runs in its own pytest process (its own board bring-up and teardown), one after the
other; the report combines them.  Exit status: 0 when no clause failed on any board.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from ..board.steps import BRINGUP_FAILED
from ..boards import load_board
from ..errors import HilError
from ..report import FAIL, build_table, load_clauses, load_results, render_markdown, summary_counts
from ..resources import device_tests_dir
from .common import BOARD_HELP, PORT_HELP

# A whole suite on one board; generous, since a real board at 115200 baud is slow.  Each test has its own
# deadline inside (the plugin's --board-timeout); this one only stops a runaway pytest.
SUITE_DEADLINE_S = 1800
SUITE_CLEANUP_S = 60  # after Ctrl-C: time the suite gets to stop what it started


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "test", help="flash, deploy and run the conformance suite; print the clause report",
        description="Run the usocket conformance suite (tests/device) on each board and print a "
                    "clause × target table (pass / FAIL / n/a = not on this target, with the reason). "
                    "A virtual board file gets a board started for the run; the id of a running virtual board "
                    "(vb1, from `virtual up`) or --port of one uses that board; a real board needs --port. "
                    "Exit status 0 when every clause passed, 1 when "
                    "one failed or a suite did not complete, 2 when a board cannot be brought up.")
    p.add_argument("--board", action="append", required=True, metavar="NAME",
                   help=BOARD_HELP + "; repeat for several targets")
    p.add_argument("--port", metavar="URL", help=PORT_HELP + " (with a single --board)")
    p.add_argument("--peer-host", metavar="IP", help="real boards: host address the board reaches")
    p.add_argument("--wlan-ssid", metavar="SSID", help="real boards: Wi-Fi to join after deploy")
    p.add_argument("--wlan-key", metavar="KEY", help="the key for --wlan-ssid")
    p.add_argument("--firmware", type=Path, metavar="FILE", help="flash this image first (real ESP boards)")
    p.add_argument("--report-dir", type=Path, default=Path("reports"), help="JUnit, results, Markdown table")
    p.add_argument("-k", metavar="EXPR", help="only tests matching this pytest -k expression")
    p.add_argument("-x", "--exitfirst", action="store_true", help="stop a board's suite at its first failure")
    p.set_defaults(func=run)


def _preflight(board_name: str, port: str, firmware: Path | None) -> None:
    """Before a suite starts: the port opens, speaks the raw REPL and is the board file's target (the
    firmware image is checked against the board file) -- one root cause, one line, not one per test."""
    from ..board import open_board

    board = load_board(board_name)
    if firmware is not None:
        from ..flash import load_image

        load_image(firmware, board)
        from ..transport.urls import check_url

        check_url(port)
        return  # the board may hold no MicroPython yet: the suite's bring-up flashes it first
    with open_board(board, port, deploy=False, online=False, start_virtual=False):
        pass


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


def _run_suite(args: argparse.Namespace, name: str, board_name: str, port: str | None) -> int:
    report_dir: Path = args.report_dir
    cmd = [
        sys.executable, "-m", "pytest", str(device_tests_dir()),
        "-p", "no:cacheprovider", "-qq", "--rootdir", str(device_tests_dir()),
        "--board", board_name,
        f"--junitxml={report_dir / f'junit-{name}.xml'}", "-o", f"junit_suite_name={name}",
        f"--clause-report={report_dir / f'clauses-{name}.json'}",
        f"--board-log-dir={report_dir / 'board-logs' / name}",
    ]
    if port:
        cmd += ["--port", port]
    if args.peer_host:
        cmd += ["--peer-host", args.peer_host]
    if args.wlan_ssid:
        cmd += ["--wlan-ssid", args.wlan_ssid, "--wlan-key", args.wlan_key or ""]
    if args.firmware:
        cmd += ["--firmware", str(args.firmware)]
    if args.k:
        cmd += ["-k", args.k]
    if args.exitfirst:
        cmd.append("-x")
    # A suite that ends before writing its results must not leave the last run's results to be reported.
    for stale in (report_dir / f"clauses-{name}.json", report_dir / f"junit-{name}.xml"):
        stale.unlink(missing_ok=True)
    print(f"== {name}" if name == board_name else f"== {name} ({board_name})", flush=True)
    proc = subprocess.Popen(cmd)
    try:
        return proc.wait(SUITE_DEADLINE_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        print(f"usocket-hil: suite on {board_name} passed its {SUITE_DEADLINE_S} s deadline", file=sys.stderr)
        return 124
    except KeyboardInterrupt:
        # The suite got the same Ctrl-C (one process group): let it stop its boards and peers itself.
        try:
            proc.wait(SUITE_CLEANUP_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        raise


def run(args: argparse.Namespace) -> int:
    if (args.port or args.firmware) and len(set(args.board)) != 1:
        raise HilError("--port and --firmware need exactly one --board")
    if args.firmware and not args.port:
        raise HilError("--firmware needs --port (the board's serial port)")
    targets = _targets(args)
    boards = list(targets)
    for board_name, port in targets.values():
        if port:
            _preflight(board_name, port, args.firmware)
    args.report_dir.mkdir(parents=True, exist_ok=True)

    codes = {name: _run_suite(args, name, *targets[name]) for name in boards}
    # pytest exit 1 = some test failed (the table shows which); BRINGUP_FAILED = the board never came up
    # (the plugin printed why, once); anything else is an error of the run itself.
    down = [n for n, c in codes.items() if c == BRINGUP_FAILED]
    broken = {n: c for n, c in codes.items() if c not in (0, 1, BRINGUP_FAILED)}
    shown = [n for n in boards if n not in down]

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
        print(f"report: {args.report_dir / 'conformance.md'}; JUnit: {args.report_dir}/junit-<board>.xml")
    for name in down:
        print(f"usocket-hil: no suite ran on {name}: its board did not come up (the line above says why; "
              f"log {args.report_dir / 'board-logs' / name / 'session.log'})", file=sys.stderr)
    for name, code in broken.items():
        print(f"usocket-hil: the suite on {name} did not complete (pytest exit {code})", file=sys.stderr)
    if down:
        return 2
    return 1 if any_fail or broken or any(codes.values()) else 0
