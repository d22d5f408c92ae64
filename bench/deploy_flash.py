"""Benchmark: deploying and flashing, each against a baseline measured in the same run.

Deploy section -- one fresh virtual board (`virtual-unix`: the real MicroPython unix interpreter behind a pty,
no network), the set `usocket-hil deploy --board virtual-unix` copies (usocket_port/*.mpy + usocket_target.mpy
into /lib):
  ours      `usocket-hil deploy --board virtual-unix --port PTY`: compiles every file with mpy-cross (that time
            counts), asks the board for the files that differ, writes them, imports the set on the board
  mpremote  `mpremote connect PTY fs cp -r STAGE/usocket_port STAGE/usocket_target.mpy :lib/` -- the same
            .mpy bytes, compiled beforehand (not timed); its sha256 check skips unchanged files
  cold      /lib empty before the command;  unchanged  the same command again right after
Goals: cold deploy <= 0.5 x mpremote; unchanged redeploy <= 0.1 x mpremote.  Rounds alternate which tool goes
first; each result is checked (files byte-identical on the board; the second run really skipped them).  Also
printed, for information only: the same deploy through the Python API on an open session (how a test run
deploys: no interpreter start-up, no port opening) and each CLI's bare start-up.

Flash section -- against the real esp32-mock-bootloader on 127.0.0.1 with a 1.5 MB ESP32 image:
  bare     `esptool write-flash` CLI (the baseline)
  full     `usocket-hil flash --force` (connect, stub, write, verify, reset)
  reflash  `usocket-hil flash` with the image already in flash (MD5 compare, write skipped)
Goals: full <= 1.2 x bare; reflash >= 5 x faster than full.

Every command runs as a subprocess, so interpreter start-up and imports count on both sides alike.  Not a
test: it prints numbers and ratios and exits 0 unless a command fails.  Add a section by writing another
`section_*` function and listing it in SECTIONS.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from host_harness.flash.mockboot import MockBootloader  # noqa: E402

RUNS = 3  # rounds per measurement (median); set per section by main()
IMAGE_SIZE = 1536 * 1024


def build_image(path: Path, size: int, seed: int = 7) -> Path:
    """An ESP32 app image (esptool's own image writer) that compresses about like real firmware (~60 %)."""
    from esptool.bin_image import ESP32FirmwareImage, ImageSegment

    rng = random.Random(seed)
    words = [rng.randbytes(rng.randrange(2, 12)) for _ in range(4000)]  # a "vocabulary" of code fragments
    blob = bytearray()
    while len(blob) < size:
        blob += rng.choice(words) if rng.random() < 0.75 else rng.randbytes(8)
    image = ESP32FirmwareImage()
    image.entrypoint = 0x40080400
    segment = ImageSegment(0x40080000, bytes(blob[: size // 4 * 4]))
    segment.name = ".iram0.text"
    image.segments = [segment]
    path.write_bytes(image.save(None))
    return path


def timed(argv: list[str], cwd: Path) -> float:
    return timed_run(argv, cwd)[0]


def timed_run(argv: list[str], cwd: Path) -> tuple[float, str]:
    """(seconds, stdout) of one command; a failing command ends the benchmark with its error."""
    start = time.perf_counter()
    try:
        proc = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=600)
    except subprocess.TimeoutExpired:
        raise SystemExit(f"benchmark command took over 600 s: {' '.join(argv)}") from None
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"benchmark command failed ({proc.returncode}): {' '.join(argv)}\n"
                         f"{proc.stderr[-2000:]}")
    return elapsed, proc.stdout


def verdict(ok: bool) -> str:
    return "met" if ok else "NOT MET"


def tool(name: str, module: str) -> list[str]:
    """A console script of this venv as a user runs it (`python -m` if it is not installed as one)."""
    script = Path(sys.executable).with_name(name)
    return [str(script)] if os.access(script, os.X_OK) else [sys.executable, "-m", module]


def median_of(fn: Callable[[], float], runs: int | None = None) -> float:
    return statistics.median(fn() for _ in range(runs or RUNS))


def section_flash(work: Path) -> list[tuple[str, float, str]]:
    image = build_image(work / "firmware-1.5MB.bin", IMAGE_SIZE)
    other = build_image(work / "other-1.5MB.bin", IMAGE_SIZE, seed=8)
    py = sys.executable
    with MockBootloader("esp32") as mock:
        hil = [py, "-m", "host_harness.cli", "flash", "--board", "esp32-devkitc", "--port", mock.url,
               "--no-identity", "--log-dir", str(work / "logs")]
        bare = [py, "-m", "esptool", "--chip", "esp32", "--port", mock.url, "--before", "no-reset",
                "--after", "no-reset", "write-flash", "--flash-size", "4MB", "0x1000"]

        def run_bare() -> float:
            timed(bare + [str(other)], work)  # start from different contents each time
            return timed(bare + [str(image)], work)

        def run_full() -> float:
            timed(bare + [str(other)], work)
            return timed(hil + ["--force", str(image)], work)

        def run_reflash() -> float:
            return timed(hil + [str(image)], work)

        t_bare = median_of(run_bare)
        t_full = median_of(run_full)
        timed(hil + [str(image)], work)  # make sure the image is in flash
        t_reflash = median_of(run_reflash)
    full_ratio = t_full / t_bare
    speedup = t_full / t_reflash
    return [
        ("bare esptool write-flash (1.5 MB)", t_bare, "baseline"),
        ("usocket-hil flash --force (1.5 MB)", t_full,
         f"{full_ratio:.2f}x bare (goal <= 1.2x) {verdict(full_ratio <= 1.2)}"),
        ("usocket-hil flash, identical image", t_reflash,
         f"{speedup:.1f}x faster than full (goal >= 5x) {verdict(speedup >= 5)}"),
    ]


class _SourcesChanged(Exception):
    """What `usocket-hil deploy` copied is not what was staged (the checkout changed under us?)."""


def section_deploy(work: Path) -> list[tuple[str, float, str]]:
    from host_harness.board import open_board
    from host_harness.boards import load_board
    from host_harness.deploy import DeployFile, board_files, deploy_board
    from host_harness.virtual import VirtualBoard

    board = load_board("virtual-unix")
    stage = work / "stage"
    files: list[DeployFile] = []

    def restage() -> None:
        """(Re)build what `usocket-hil deploy` copies and stage the same bytes for mpremote (untimed)."""
        shutil.rmtree(stage, ignore_errors=True)
        files[:] = board_files(board)
        for f in files:
            dest = stage / f.remote.lstrip("/")
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(f.data)

    restage()
    size = sum(len(f.data) for f in files)
    print(f"  deploy set: {len(files)} files, {size} bytes of .mpy: "
          f"{', '.join(f.remote for f in files)}")

    with VirtualBoard(board, network=False) as vb:
        port = vb.port_url
        assert port is not None
        lib = Path(vb.flash_dir) / "lib"
        ours = tool("usocket-hil", "host_harness.cli") + ["deploy", "--board", board.name, "--port", port]

        def mpremote() -> list[str]:  # what a user types: the package folder and the glue file into :lib/
            top = sorted({str(stage / "lib" / Path(f.remote).relative_to("/lib").parts[0]) for f in files})
            return tool("mpremote", "mpremote") + ["connect", port, "fs", "cp", "-r", *top, ":lib/"]

        def empty_lib() -> None:  # the board's filesystem is a host folder: empty /lib between rounds
            shutil.rmtree(lib, ignore_errors=True)
            lib.mkdir(parents=True)

        def landed() -> bool:
            return all((lib / Path(f.remote).relative_to("/lib")).read_bytes() == f.data for f in files)

        def run_ours() -> tuple[float, float]:
            empty_lib()
            cold, out = timed_run(ours, work)
            if not landed():
                raise _SourcesChanged("usocket-hil deploy left other bytes in /lib than staged")
            again, out = timed_run(ours, work)
            if f"0 copied (0 bytes), {len(files)} up to date" not in out:
                raise _SourcesChanged(f"usocket-hil deploy copied again: {out.strip()[-200:]}")
            return cold, again

        def run_mpremote() -> tuple[float, float]:
            empty_lib()
            cold, out = timed_run(mpremote(), work)
            if not landed():
                raise SystemExit("mpremote fs cp left other bytes in /lib than staged")
            again, out = timed_run(mpremote(), work)
            if out.count("Up to date:") != len(files):
                raise SystemExit(f"mpremote fs cp copied again: {out.strip()[-200:]}")
            return cold, again

        results: dict[str, list[tuple[float, float]]] = {"ours": [], "mpremote": []}
        for i in range(RUNS):  # alternate who goes first
            order = [("ours", run_ours), ("mpremote", run_mpremote)]
            for attempt in range(3):
                try:
                    got = [(name, fn()) for name, fn in (order if i % 2 == 0 else order[::-1])]
                    break
                except _SourcesChanged as exc:
                    # Someone edited usocket_port/ or ports/unix/ mid-round: restage, redo the round.
                    before = [f.data for f in files]
                    restage()
                    if [f.data for f in files] == before or attempt == 2:
                        raise SystemExit(str(exc)) from None
                    print("  (device sources changed during the round: restaged, round repeated)")
            for name, value in got:
                results[name].append(value)

        # For information: the API path of a test run (session already open; compiling still counts).
        api: list[tuple[float, float]] = []
        with open_board(board, port, deploy=False, online=False, open_timeout=10) as running:
            session = running.session
            for _ in range(RUNS):
                empty_lib()
                t0 = time.perf_counter()
                deploy_board(session, board)
                t1 = time.perf_counter()
                report = deploy_board(session, board)
                t2 = time.perf_counter()
                if report.copied:
                    raise SystemExit(f"deploy_board copied again: {report.summary()}")
                api.append((t1 - t0, t2 - t1))
        startup_ours = median_of(lambda: timed(tool("usocket-hil", "host_harness.cli") + ["deploy", "--help"],
                                               work))
        startup_mp = median_of(lambda: timed(tool("mpremote", "mpremote") + ["--help"], work))

    def med(name: str, k: int) -> float:
        return statistics.median(r[k] for r in results[name])

    mp_cold, mp_again = med("mpremote", 0), med("mpremote", 1)
    ours_cold, ours_again = med("ours", 0), med("ours", 1)
    api_cold = statistics.median(a[0] for a in api)
    api_again = statistics.median(a[1] for a in api)
    cold_ratio, again_ratio = ours_cold / mp_cold, ours_again / mp_again
    return [
        ("mpremote fs cp -r, cold", mp_cold, "baseline"),
        ("usocket-hil deploy, cold", ours_cold,
         f"{cold_ratio:.2f}x mpremote (goal <= 0.5x) {verdict(cold_ratio <= 0.5)}"),
        ("mpremote fs cp -r, unchanged", mp_again, "baseline"),
        ("usocket-hil deploy, unchanged", ours_again,
         f"{again_ratio:.2f}x mpremote (goal <= 0.1x) {verdict(again_ratio <= 0.1)}"),
        ("info: deploy_board() API, cold", api_cold,
         f"{api_cold / mp_cold:.2f}x mpremote CLI (open session, no start-up)"),
        ("info: deploy_board() API, unchanged", api_again,
         f"{api_again / mp_again:.2f}x mpremote CLI (open session, no start-up)"),
        ("info: usocket-hil deploy --help", startup_ours, "start-up floor of our CLI"),
        ("info: mpremote --help", startup_mp, "start-up floor of mpremote"),
    ]


# key -> (title, function, default rounds).  Deploy rounds are short (~2 s) and noisier, so it takes more.
SECTIONS: dict[str, tuple[str, Callable[[Path], list[tuple[str, float, str]]], int]] = {
    "deploy": ("deploy to a virtual-unix board vs mpremote fs cp (median of {runs})", section_deploy, 7),
    "flash": ("flash (esp32-mock-bootloader over socket://, median of {runs})", section_flash, 3),
}


def _terminate(signum: int, _frame: object) -> None:
    # SIGTERM unwinds like Ctrl-C, so the `with` blocks stop the virtual board and the mock bootloader.
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    global RUNS
    parser = argparse.ArgumentParser(description="Deploy and flash benchmarks (see the module docstring).")
    parser.add_argument("--only", choices=sorted(SECTIONS), help="run one section")
    parser.add_argument("--rounds", type=int, metavar="N",
                        help="rounds per measurement (default: deploy 7, flash 3)")
    args = parser.parse_args(argv)
    if args.rounds is not None and args.rounds < 1:
        parser.error("--rounds must be at least 1")
    signal.signal(signal.SIGTERM, _terminate)
    try:
        with tempfile.TemporaryDirectory(prefix="usocket-hil-bench-") as tmp:
            for key, (title, section, rounds) in SECTIONS.items():
                if args.only and key != args.only:
                    continue
                RUNS = args.rounds or rounds
                print(f"== {title.format(runs=RUNS)}", flush=True)
                for label, seconds, note in section(Path(tmp)):
                    print(f"  {label:40} {seconds:7.3f} s   {note}", flush=True)
    except KeyboardInterrupt:
        print("interrupted: boards and mocks stopped", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
