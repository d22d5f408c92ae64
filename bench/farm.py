"""Benchmark: the conformance suite on several boards at once against one board, measured in the same run.

Sections (one table at the end; every row is wall time of real `usocket-hil test` runs):
  pool      one target (virtual-esp32) on 1, 2 and 4 identical virtual boards (`--pool N`, pytest-xdist:
            each worker brings up its own board and takes a share of the tests); ratio vs 1 board.
            Goals: 2 boards <= 0.65 x, 4 boards <= 0.45 x.
  targets   the five targets (virtual-unix, virtual-esp32, virtual-wipy, virtual-circuitpython, cpython) in one
            `usocket-hil test --jobs 5` (five suites at once) against the same run one after another.
            Goal: <= 0.5 x.
  places    two labgrid places of virtual ESP32s on loopback (host_harness.farm.local), each run as
            `usocket-hil test --place P --firmware fw.bin` (flash → boot → identity → deploy → suite):
            both at once against one after another.
The machine's cores and load average are printed beside the ratios: on a 2-core machine shared with other
work, boards beyond the core count add bring-up cost (interpreter, namespaces, deploy) without more CPU.

Not a test: prints the table; exit 0 unless a run failed (then a one-line error and exit 1).
Run: `.venv/bin/python bench/farm.py [--rounds 2] [--skip places]`.  Everything it starts is stopped on exit.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TARGETS = ("virtual-unix", "virtual-esp32", "virtual-wipy", "virtual-circuitpython", "cpython")
RUN_DEADLINE_S = 1200
CLI = [sys.executable, "-m", "host_harness.cli", "test"]


class BenchError(Exception):
    pass


def _start(args: list[str], report: Path) -> subprocess.Popen[str]:
    return subprocess.Popen([*CLI, *args, "--report-dir", str(report)], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def _finish(proc: subprocess.Popen[str], what: str) -> None:
    try:
        out, _ = proc.communicate(timeout=RUN_DEADLINE_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise BenchError(f"{what}: no result within {RUN_DEADLINE_S} s") from None
    if proc.returncode != 0:
        tail = " | ".join(out.strip().splitlines()[-3:])
        raise BenchError(f"{what}: exit {proc.returncode}: {tail}")


def timed_parallel(runs: list[list[str]], tmp: Path, what: str) -> float:
    """Wall time of `runs` started together (each a `usocket-hil test` argument list)."""
    t0 = time.monotonic()
    procs = [_start(args, tmp / f"r{i}-{time.monotonic_ns()}") for i, args in enumerate(runs)]
    try:
        for proc, args in zip(procs, runs, strict=True):
            _finish(proc, f"{what} ({' '.join(args)})")
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    return time.monotonic() - t0


def timed_serial(runs: list[list[str]], tmp: Path, what: str) -> float:
    return sum(timed_parallel([args], tmp, what) for args in runs)


def best(rounds: int, fn) -> float:
    return min(fn() for _ in range(rounds))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=2, help="repeat each measurement; the best round counts")
    p.add_argument("--skip", action="append", default=[], choices=("pool", "targets", "places"))
    args = p.parse_args(argv)
    rows: list[tuple[str, float, float, str]] = []  # (what, seconds, ratio, goal)
    try:
        with tempfile.TemporaryDirectory(prefix="usocket-hil-bench-farm-") as tmpdir:
            tmp = Path(tmpdir)
            if "pool" not in args.skip:
                base = best(args.rounds, lambda: timed_parallel([["--board", "virtual-esp32"]], tmp, "1 board"))
                rows.append(("virtual-esp32 suite, 1 board", base, 1.0, ""))
                for n, goal in ((2, 0.65), (4, 0.45)):
                    t = best(args.rounds, lambda n=n: timed_parallel(
                        [["--board", "virtual-esp32", "--pool", str(n)]], tmp, f"pool {n}"))
                    rows.append((f"virtual-esp32 suite, {n} boards (--pool {n})", t, t / base, f"<= {goal}"))
            if "targets" not in args.skip:
                boards = [a for t in TARGETS for a in ("--board", t)]
                serial = best(args.rounds, lambda: timed_parallel([boards], tmp, "targets in turn"))
                both = best(args.rounds, lambda: timed_parallel([[*boards, "--jobs", "5"]], tmp, "targets at once"))
                rows.append(("5 targets one after another", serial, 1.0, ""))
                rows.append(("5 targets concurrently", both, both / serial, "<= 0.5"))
            if "places" not in args.skip:
                rows += _places(args.rounds, tmp)
    except BenchError as exc:
        print(f"bench/farm.py: error: {exc}", file=sys.stderr)
        return 1
    load = os.getloadavg()
    print(f"\ncores: {os.cpu_count()}  load average at the end: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    print(f"{'measurement':<52} {'wall s':>8} {'ratio':>7}  goal")
    for what, secs, ratio, goal in rows:
        verdict = ""
        if goal:
            verdict = "met" if ratio <= float(goal.removeprefix("<= ")) else "NOT MET"
        print(f"{what:<52} {secs:8.1f} {ratio:7.2f}  {goal} {verdict}".rstrip())
    return 0


def _places(rounds: int, tmp: Path) -> list[tuple[str, float, float, str]]:
    from host_harness.farm.local import LocalFarm
    from host_harness.flash import testimage

    fw = tmp / "fw.bin"
    fw.write_bytes(testimage.build())
    with LocalFarm(2) as farm:
        runs = [["--coordinator", farm.address, "--place", place, "--firmware", str(fw), "-k", "stream or udp"]
                for place in farm.places]
        serial = best(rounds, lambda: timed_serial(runs, tmp, "places in turn"))
        both = best(rounds, lambda: timed_parallel(runs, tmp, "places at once"))
    return [("2 places (flash+suite subset) one after another", serial, 1.0, ""),
            ("2 places (flash+suite subset) concurrently", both, both / serial, "")]


if __name__ == "__main__":
    sys.exit(main())
