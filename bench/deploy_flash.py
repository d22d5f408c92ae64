"""Benchmark: flashing (and, later, deploying) against baselines measured in the same run.

Flash section — against the real esp32-mock-bootloader on 127.0.0.1 with a 1.5 MB ESP32 image:
  bare     `esptool write-flash` CLI (the baseline)
  full     `usocket-hil flash --force` (connect, stub, write, verify, reset)
  reflash  `usocket-hil flash` with the image already in flash (MD5 compare, write skipped)
Goals: full ≤ 1.2 × bare; reflash ≥ 5 × faster than full. Every command runs as a subprocess, so
interpreter start-up and imports count on both sides alike.

Not a test: it prints numbers and ratios and exits 0 unless a command fails. Add a section by writing
another `section_*` function and listing it in SECTIONS.
"""

from __future__ import annotations

import random
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

RUNS = 3
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
    start = time.perf_counter()
    proc = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=600)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"benchmark command failed ({proc.returncode}): {' '.join(argv)}\n"
                         f"{proc.stderr[-2000:]}")
    return elapsed


def median_of(fn: Callable[[], float], runs: int = RUNS) -> float:
    return statistics.median(fn() for _ in range(runs))


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
         f"{full_ratio:.2f}x bare (goal <= 1.2x) {'OK' if full_ratio <= 1.2 else 'MISSED'}"),
        ("usocket-hil flash, identical image", t_reflash,
         f"{speedup:.1f}x faster than full (goal >= 5x) {'OK' if speedup >= 5 else 'MISSED'}"),
    ]


# Deploy-vs-mpremote is added here later as section_deploy(work) -> rows.
SECTIONS: list[tuple[str, Callable[[Path], list[tuple[str, float, str]]]]] = [
    (f"flash (esp32-mock-bootloader over socket://, median of {RUNS})", section_flash),
]


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="usocket-hil-bench-") as tmp:
        for title, section in SECTIONS:
            print(f"== {title}")
            for label, seconds, verdict in section(Path(tmp)):
                print(f"  {label:40} {seconds:7.2f} s   {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
