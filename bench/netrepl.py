"""Benchmark: per-test overhead over the network REPLs against the pty, measured in the same run.

Three virtual boards, each opened through the board layer (host_harness.board.open_board, what the pytest plugin uses):
  pty      virtual-wipy over its pseudo-terminal (the baseline)
  telnet   the same virtual-wipy over wipy:// (its telnet server, from the board's host-side namespace)
  webrepl  virtual-esp32 over webrepl:// (its WebREPL, started by boot.py)
A "test" is what a conformance case costs the transport: one exec of a ~2 KB program (raw-paste through the
telnet ring / websocket frames) that prints a short result, plus one small exec reading it back.  Rounds
alternate the order of the transports; the median per-test time of each counts.
Goal: telnet and WebREPL per-test time <= 2 x the pty's.  Not a test: prints numbers, exits 0 unless a
measurement fails (one-line error, exit 1).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from host_harness.board import RunningBoard, open_board  # noqa: E402
from host_harness.boards import load_board  # noqa: E402
from host_harness.errors import HilError  # noqa: E402
from host_harness.virtual import VirtualBoard  # noqa: E402

CASE = "def case(n):\n" + "".join(f"    v{i} = n * {i} + {i}  # filler to make a realistic case size\n"
                                  for i in range(40)) + "    return v39\nr = case(3)\nprint(r)\n"
GOAL = 2.0


def per_test(board: RunningBoard, tests: int) -> float:
    start = time.perf_counter()
    for _ in range(tests):
        if board.exec(CASE, 30).text().strip() != "156":
            raise HilError("the case printed the wrong result")
        if board.exec("print(r)", 30).text().strip() != "156":
            raise HilError("reading the result back failed")
    return (time.perf_counter() - start) / tests


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tests", type=int, default=40, help="tests per round (default 40)")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    from host_harness.netns import netns_mode

    if netns_mode()[0] != "named":
        print("netrepl bench: error: the virtual boards' network services need named namespaces (root)")
        return 1
    flash = Path(tempfile.mkdtemp(prefix="bench-netrepl-"))
    (flash / "webrepl_cfg.py").write_text("PASS = 'bench'\n")
    (flash / "boot.py").write_text("import webrepl\nwebrepl.start()\n")
    try:
        with VirtualBoard(load_board("virtual-wipy"), network=True) as wipy, \
                VirtualBoard(load_board("virtual-esp32"), network=True, flash_dir=flash) as esp:
            urls = {"pty": wipy.port_url, "telnet": wipy.state()["services"]["telnet"],
                    "webrepl": esp.state()["services"]["webrepl"].replace("PASSWORD", "bench")}
            definitions = {"pty": "virtual-wipy", "telnet": "virtual-wipy", "webrepl": "virtual-esp32"}
            times: dict[str, list[float]] = {k: [] for k in urls}
            order = list(urls)
            for rnd in range(args.rounds):
                for name in order if rnd % 2 == 0 else reversed(order):
                    deadline = time.monotonic() + 10
                    while True:  # WebREPL listens once boot.py has run
                        try:
                            board = open_board(definitions[name], urls[name], deploy=False, online=False,
                                               check_target=False, open_timeout=5)
                            break
                        except HilError:
                            if time.monotonic() > deadline:
                                raise
                            time.sleep(0.2)
                    with board:
                        per_test(board, 3)  # warm-up
                        times[name].append(per_test(board, args.tests))
    except HilError as exc:
        print(f"netrepl bench: error: {exc}")
        return 1
    base = statistics.median(times["pty"])
    print(f"per-test time ({args.tests} tests x {args.rounds} rounds, median; a test = a {len(CASE)}-byte exec "
          "+ a read-back exec)")
    print(f"  {'pty':8} {base * 1000:7.2f} ms   (baseline)")
    for name in ("telnet", "webrepl"):
        t = statistics.median(times[name])
        ratio = t / base
        print(f"  {name:8} {t * 1000:7.2f} ms   {ratio:4.2f} x pty   goal <= {GOAL:g} x: "
              f"{'met' if ratio <= GOAL else 'NOT MET'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
