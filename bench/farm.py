"""Benchmark: the conformance suite on several boards at once against one board, measured in the same run.

Sections (one table at the end; every row is wall time of real `usocket-hil test` runs):
  pool      one target (virtual-esp32) on 1, 2 and 4 identical virtual boards (`--pool N`, pytest-xdist
            --dist worksteal: the controller brings the boards up while its workers start, each flashed with
            one host-built image of the deploy set; host_harness/plugin/pool.py); ratio vs 1 board.
            Goals: 2 boards <= 0.65 x, 4 boards <= 0.45 x.  The runs share one report dir, as a user's
            `reports/` does: the first (one-board) run records the tests' durations, the pool runs use them
            to spread long tests over the workers.
  targets   the five targets (virtual-unix, virtual-esp32, virtual-wipy, virtual-circuitpython, cpython) in one
            `usocket-hil test --jobs 5` (five suites at once) against the same run one after another.
            Goal: <= 0.5 x.
  places    two labgrid places of virtual ESP32s on loopback (host_harness.farm.local), each run as
            `usocket-hil test --place P --firmware fw.bin` (flash → boot → identity → deploy → suite):
            both at once against one after another; and one suite subset shared by the two places
            (`--place-tag board=virtual-esp32 --pool 2`: labgrid reservations by tag, xdist) against one
            place running it alone.
The machine's cores and load average are printed beside the ratios, and for every run the CPU time of its
whole process tree (the CLI, pytest and its xdist workers, the virtual boards' interpreters and supervisors,
peers: this script is their subreaper, so orphans count too) against its wall time: "cores" = CPU s / wall s;
and "others" = the cores the rest of the machine kept busy meanwhile (/proc/stat's busy time less ours).
A run's CPU seconds over the cores it could have is a floor for its wall time: the pool lines print it for idle
cores and for the cores other work left.

Where a pool's time goes (the 2-core development machine, idle; per-process CPU from a /proc poll of the run's
process tree, wall from a timeline of pytest hooks in the controller and every worker):
  one board's suite alone: 4-5 CPU s in 12-13 s of wall time (it mostly waits: deadlines, peers; the tests'
      own durations add up to ~10.5 s).
  a 4-board run, 5.3-6.1 s: the controller's session starts at ~0.4 s; the 4 boards (namespace pair, reaper,
      supervisor, an interpreter booting from the image, the hash check over the REPL) are handed over at
      ~1.4-2.0 s; xdist spawns its workers one after another and schedules no test before all have collected
      (~1.9-2.4 s: each worker ~0.45 CPU s of pytest start-up and collection, on cores the boards' start-up
      shares); the tests then take ~3.3-3.6 s per worker (11 s of one board's tests over 4, slowed by 4 boards'
      CPU-heavy cases at once: TLS, 16 MiB each way, MQTT); the end ~0.6 s (workers exit, the controller and
      the CLI).  8-9 CPU s in all, so its floor on 2 cores is ~0.33 x.
  a later timeline of the same run: boards handed over at ~1.9 s, the workers collected at 1.8-2.3 s (0.41-0.53
      CPU s each, most of it pytest's own start-up), both cores busy until then; the tests ~3.3 s at ~0.9 cores
      (their own deadlines and peers: the sum of the tests' durations is that of one board's run); the end
      ~0.35 s.  What is left to cut is CPU in the first 2 s: each piece (a worker's imports, one reaper a board,
      the controller's exit collection) is 0.05-0.3 CPU s.
  then (session 7): a worker imported esptool (the flash package's __init__, reached by the boot check),
      cryptography and http.server (the peers package's) before its first case: each now loads with the first
      case that needs it (host_harness/lazy.py; ~0.2 CPU s a worker); mpy-cross's output is kept in the state
      folder: 4 boards in 5.8-8.3 CPU s, 0.37-0.46 x (0.46 x while the machine ran ~30% slow).
  cuts of the rounds before (before -> after): the virtual board scanned every pasted source for the firmware's
      compiler rules, and a MicroPython str index walks from the start (a 16 KB deploy paste ~0.2 CPU s): only
      where a rule can apply (a suite 6.4 -> 5.4 CPU s); pytest autoloaded every plugin and rewrote the asserts
      of all of host_harness at each start of each worker (PYTHONDONTWRITEBYTECODE: never cached): only the
      suite's plugins, bytecode compiled by make (0.6 -> 0.45 CPU s a process); the TLS keys were made in every
      run (0.3-0.5 CPU s): kept in the state folder; board 0 was deployed over its REPL and the others waited
      for its image (boards ready at ~2.5 s -> ~1.4 s); a board stops as soon as its worker is done; the
      supervisor's line pump and the serial adapter make fewer system calls.
  Earlier rounds: interpreter starts without CPython's site (70 -> 35 ms CPU), mpy-cross once per source,
      whole case modules kept on one worker (52 -> 22 soft resets), the spread passed to the workers.
  With other work on the cores (the bench prints "others") the ratios rise towards the floor on the cores left.

Not a test: prints the table; exit 0 unless a run failed (then a one-line error and exit 1).
Run: `.venv/bin/python bench/farm.py [--rounds 2] [--skip places]`.  Everything it starts is stopped on exit.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TARGETS = ("virtual-unix", "virtual-esp32", "virtual-wipy", "virtual-circuitpython", "cpython")
RUN_DEADLINE_S = 1200
CLI = [sys.executable, "-m", "host_harness.cli", "test"]


class BenchError(Exception):
    pass


PR_SET_CHILD_SUBREAPER = 36  # linux/prctl.h: orphaned descendants are re-parented to us, not to init


def become_subreaper() -> bool:
    try:
        return ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _reap_orphans() -> None:
    """Collect descendants re-parented to us (the boards' supervisors, reapers), so their CPU time is in
    RUSAGE_CHILDREN.  Only called when no child of ours is still wanted (between measured runs)."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


_TICK = os.sysconf("SC_CLK_TCK")


def _machine_busy() -> float:
    """CPU seconds the whole machine has been busy since boot (/proc/stat: all but idle and iowait)."""
    try:
        with open("/proc/stat") as f:
            fields = [int(x) for x in f.readline().split()[1:]]
    except (OSError, ValueError):
        return 0.0
    return (sum(fields[:8]) - fields[3] - fields[4]) / _TICK  # user nice system idle iowait irq softirq steal


class Run(NamedTuple):
    wall: float  # s
    cpu: float  # CPU s of the run's process trees
    others: float  # CPU s the rest of the machine used meanwhile (other users of the cores)


def measured(fn) -> Run:
    """Run fn() (which starts and waits for the runs) and measure it."""
    _reap_orphans()
    cpu0, busy0, t0 = _children_cpu(), _machine_busy(), time.monotonic()
    fn()
    wall = time.monotonic() - t0
    _reap_orphans()
    cpu = _children_cpu() - cpu0
    return Run(wall, cpu, max(0.0, _machine_busy() - busy0 - cpu))


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
        lines = out.strip().splitlines()
        failed = [ln.strip() for ln in lines if "FAIL" in ln and "|" in ln][:4]  # the table's failed clauses
        tail = " | ".join(failed + lines[-3:])
        raise BenchError(f"{what}: exit {proc.returncode}: {tail}")


def timed_parallel(runs: list[list[str]], tmp: Path, what: str, report: Path | None = None) -> Run:
    """`runs` started together (each a `usocket-hil test` argument list), measured."""
    def go() -> None:
        procs = [_start(args, report or tmp / f"r{i}-{time.monotonic_ns()}") for i, args in enumerate(runs)]
        try:
            for proc, args in zip(procs, runs, strict=True):
                _finish(proc, f"{what} ({' '.join(args)})")
        finally:
            for proc in procs:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
    return measured(go)


def timed_serial(runs: list[list[str]], tmp: Path, what: str) -> Run:
    times = [timed_parallel([args], tmp, what) for args in runs]
    return Run(*(sum(t[i] for t in times) for i in range(3)))


def best(rounds: int, fn) -> Run:
    """The round with the least wall time (the others were slowed by something else on the machine)."""
    return min((fn() for _ in range(rounds)), key=lambda t: t.wall)


Row = tuple[str, Run, float, str]  # (what, measurement, ratio, goal)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=2, help="repeat each measurement; the best round counts")
    p.add_argument("--skip", action="append", default=[], choices=("pool", "targets", "places"))
    args = p.parse_args(argv)
    if not become_subreaper():
        print("bench/farm.py: note: not a subreaper (prctl failed): CPU of orphaned processes is not counted",
              file=sys.stderr)
    rows: list[Row] = []
    error = None
    try:
        with tempfile.TemporaryDirectory(prefix="usocket-hil-bench-farm-") as tmpdir:
            tmp = Path(tmpdir)
            try:
                if "pool" not in args.skip:
                    rows += _pool(args.rounds, tmp)
                if "targets" not in args.skip:
                    boards = [a for t in TARGETS for a in ("--board", t)]
                    serial = best(args.rounds, lambda: timed_parallel([boards], tmp, "targets in turn"))
                    both = best(args.rounds, lambda: timed_parallel([[*boards, "--jobs", "5"]], tmp, "targets at once"))
                    rows.append(("5 targets one after another", serial, 1.0, ""))
                    rows.append(("5 targets concurrently", both, both.wall / serial.wall, "<= 0.5"))
                if "places" not in args.skip:
                    rows += _places(args.rounds, tmp)
            except BenchError:
                _keep_logs(tmp)  # the failed run's suite and board logs, before the folder goes
                raise
    except BenchError as exc:
        error = exc  # the sections measured before it are still shown
    _table(rows, pool="pool" not in args.skip and len(rows) >= 3)
    if error is not None:
        print(f"bench/farm.py: error: {error}", file=sys.stderr)
        return 1
    return 0


def _keep_logs(tmp: Path) -> None:
    kept = ROOT / "reports" / "bench-farm-failed"
    shutil.rmtree(kept, ignore_errors=True)
    try:
        shutil.copytree(tmp, kept, symlinks=True, ignore=shutil.ignore_patterns("*.flash", "*.tty"))
        print(f"bench/farm.py: the failed run's logs are kept in {kept}", file=sys.stderr)
    except OSError as exc:
        print(f"bench/farm.py: could not keep the failed run's logs: {exc}", file=sys.stderr)


def _table(rows: list[Row], pool: bool) -> None:
    cores = os.cpu_count() or 1
    load = os.getloadavg()
    print(f"\ncores: {cores}  load average at the end: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} "
          "(other work on the machine takes its share of the cores)")
    print("cores = the run's CPU s / its wall s; others = cores the rest of the machine kept busy meanwhile")
    print(f"{'measurement':<54} {'wall s':>7} {'CPU s':>6} {'cores':>5} {'others':>6} {'ratio':>6}  goal")
    for what, (wall, cpu, others), ratio, goal in rows:
        verdict = ""
        if goal:
            verdict = "met" if ratio <= float(goal.removeprefix("<= ")) else "NOT MET"
        print(f"{what:<54} {wall:7.1f} {cpu:6.1f} {cpu / wall:5.2f} {others / wall:6.2f} {ratio:6.2f}  "
              f"{goal} {verdict}".rstrip())
    if pool:
        print(_pool_bound(rows, cores))


def _pool(rounds: int, tmp: Path) -> list[Row]:
    """1, 2, 4 boards of virtual-esp32.  All runs share one report dir, as a user's `reports/` persists: the
    first (one-board) run records the tests' durations, which the pool runs use to spread long tests."""
    report = tmp / "pool-reports"

    def run(extra: list[str], what: str) -> Run:
        return timed_parallel([["--board", "virtual-esp32", *extra]], tmp, what, report=report)

    base = best(rounds, lambda: run([], "1 board"))
    rows: list[Row] = [("virtual-esp32 suite, 1 board", base, 1.0, "")]
    for n, goal in ((2, 0.65), (4, 0.45)):
        t = best(rounds, lambda n=n: run(["--pool", str(n)], f"pool {n}"))
        rows.append((f"virtual-esp32 suite, {n} boards (--pool {n})", t, t.wall / base.wall, f"<= {goal}"))
    return rows


def _pool_bound(rows: list[Row], cores: int) -> str:
    """What the CPU numbers say about the pools: a run's CPU seconds spread over the cores is a floor for its
    wall time -- over all cores when the machine is otherwise idle, over those the rest of the machine left."""
    (_, one, _, _), *pools = rows[:3]
    lines = [f"pool: one board's run is mostly waiting (the suite's deadlines, peers): {one.cpu:.1f} CPU s in "
             f"{one.wall:.1f} s"]
    for what, run, _, _ in pools:
        idle = run.cpu / cores
        left = max(cores - run.others / run.wall, 0.1)
        lines.append(f"  {what.split(', ', 1)[1]}: {run.cpu:.1f} CPU s ({run.cpu - one.cpu:+.1f} vs 1 board: workers, "
                     f"boards, bring-up) -> at least {idle:.1f} s on {cores} idle cores = {idle / one.wall:.2f} x; "
                     f"at least {run.cpu / left:.1f} s on the {left:.2f} cores other work left = "
                     f"{run.cpu / left / one.wall:.2f} x; measured {run.wall / one.wall:.2f} x")
    return "\n".join(lines)


def _places(rounds: int, tmp: Path) -> list[Row]:
    from host_harness.farm.local import LocalFarm
    from host_harness.flash import testimage

    fw = tmp / "fw.bin"
    fw.write_bytes(testimage.build())
    with LocalFarm(2) as farm:
        runs = [["--coordinator", farm.address, "--place", place, "--firmware", str(fw), "-k", "stream or udp"]
                for place in farm.places]
        serial = best(rounds, lambda: timed_serial(runs, tmp, "places in turn"))
        both = best(rounds, lambda: timed_parallel(runs, tmp, "places at once"))
        one = best(rounds, lambda: timed_parallel([runs[0]], tmp, "one place"))
        tagged = ["--coordinator", farm.address, "--place-tag", "board=virtual-esp32", "--pool", "2",
                  "--firmware", str(fw), "-k", "stream or udp"]
        shared = best(rounds, lambda: timed_parallel([tagged], tmp, "tag pool"))
    return [("2 places (flash+suite subset) one after another", serial, 1.0, ""),
            ("2 places (flash+suite subset) concurrently", both, both.wall / serial.wall, ""),
            ("1 place (flash+suite subset)", one, 1.0, ""),
            ("2 places by tag sharing that subset (--place-tag)", shared, shared.wall / one.wall, "")]


if __name__ == "__main__":
    sys.exit(main())
