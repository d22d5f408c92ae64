"""The test-image tool's bad input: one line and exit 2, never a traceback or a label that lies."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

TOOL = [sys.executable, "-m", "host_harness.flash.testimage"]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*TOOL, *args], capture_output=True, text=True, timeout=60)


def test_an_unwritable_output_is_one_line_and_exit_2(tmp_path: Path) -> None:
    r = _run("-o", str(tmp_path / "no-such-dir" / "x.bin"))
    assert r.returncode == 2, r.stderr
    assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert "cannot write" in r.stderr and "No such file or directory" in r.stderr


def test_a_wipy_image_with_a_wrong_md5_is_not_called_signed(tmp_path: Path) -> None:
    r = _run("-o", str(tmp_path / "bad.bin"), "--target", "wipy", "--version", "v1.30.0", "--corrupt", "md5")
    assert r.returncode == 0, r.stderr
    assert "(signed, MD5 deliberately wrong)" in r.stdout, r.stdout
    good = _run("-o", str(tmp_path / "good.bin"), "--target", "wipy", "--version", "v1.30.0")
    assert good.stdout.rstrip().endswith("(signed)"), good.stdout


def test_a_version_that_is_no_release_tag_is_refused(tmp_path: Path) -> None:
    for target in ("esp32", "wipy"):
        r = _run("-o", str(tmp_path / "x.bin"), "--target", target, "--version", "garbage")
        assert r.returncode == 2 and "must look like v1.28.0" in r.stderr, (target, r.stderr)
        assert not (tmp_path / "x.bin").exists()
    ok = _run("-o", str(tmp_path / "x.bin"), "--version", "v1.25.0-preview")
    assert ok.returncode == 0 and "v1.25.0-preview" in ok.stdout, ok.stderr
