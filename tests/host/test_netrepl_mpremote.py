"""The real mpremote CLI drives a telnet WiPy and a WebREPL ESP32 through `usocket-hil bridge URL`."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from netrepl_helpers import esp32_webrepl_board, telnet_url, webrepl_url, wipy_board

BIN = Path(sys.executable).parent


@contextmanager
def bridge(url: str, link: Path) -> Iterator[subprocess.Popen]:
    proc = subprocess.Popen([str(BIN / "usocket-hil"), "bridge", url, "--link", str(link)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        first = proc.stdout.readline().strip()  # type: ignore[union-attr]
        if first != str(link):
            proc.wait(10)
            pytest.fail(f"bridge did not start: {first!r} {proc.stderr.read()!r}")  # type: ignore[union-attr]
        yield proc
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
    assert proc.returncode == 0
    assert not link.is_symlink()  # the bridge removes its link


def wait_for_line(proc: subprocess.Popen, marker: str, timeout: float) -> str:
    """The bridge's stderr up to the line containing `marker` (pytest.fail if it does not come in time)."""
    assert proc.stderr is not None
    fd = proc.stderr.fileno()  # read the pipe itself: a text wrapper's buffer would hide lines from select
    end = time.monotonic() + timeout
    said = ""
    while marker not in said:
        left = end - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            pytest.fail(f"bridge never said {marker!r}: {said!r}")
        chunk = os.read(fd, 4096)
        if not chunk:
            pytest.fail(f"bridge ended before saying {marker!r}: {said!r}")
        said += chunk.decode(errors="replace")
    return said


def mpremote(link: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / "mpremote"), "connect", str(link), *args], capture_output=True, text=True,
                          timeout=60)


def exercise(link: Path, tmp: Path, flash: Path, *prefix: str) -> None:
    r = mpremote(link, *prefix, "exec", "print(6 * 7)")
    assert (r.returncode, r.stdout.strip()) == (0, "42"), r.stderr
    src = tmp / "local.txt"
    src.write_bytes(bytes(range(1, 128)) * 50)
    r = mpremote(link, *prefix, "fs", "cp", str(src), ":copied.txt")
    assert r.returncode == 0, r.stderr
    assert (flash / "copied.txt").read_bytes() == src.read_bytes()
    script = tmp / "script.py"
    script.write_text("import sys\nprint('ran on', sys.implementation.name, sum(range(10)))\n")
    r = mpremote(link, *prefix, "run", str(script))
    assert (r.returncode, r.stdout.strip()) == (0, "ran on micropython 45"), r.stderr


def test_mpremote_over_telnet(tmp_path: Path) -> None:
    with wipy_board() as vb, bridge(telnet_url(vb), tmp_path / "wipy.tty"):
        # mpremote soft-resets before its first command: the WiPy's telnet session survives that
        exercise(tmp_path / "wipy.tty", tmp_path, vb.flash_dir)


def test_mpremote_over_webrepl(tmp_path: Path) -> None:
    with esp32_webrepl_board(tmp_path / "flash") as vb, bridge(webrepl_url(vb), tmp_path / "esp.tty"):
        # `resume`: no soft reset first -- on an ESP32 it closes the WebREPL session (and its output with it)
        exercise(tmp_path / "esp.tty", tmp_path, vb.flash_dir, "resume")


def test_bridge_reports_a_bad_url_in_one_line(tmp_path: Path) -> None:
    with wipy_board() as vb:
        r = subprocess.run([str(BIN / "usocket-hil"), "bridge", telnet_url(vb, password="nope")],
                           capture_output=True, text=True, timeout=30, env={**os.environ})
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and "login refused" in r.stderr


@pytest.mark.parametrize("url", ["wipy://", "webrepl://10.0.0.1?color=red"])
def test_malformed_urls(url: str) -> None:
    r = subprocess.run([str(BIN / "usocket-hil"), "bridge", url], capture_output=True, text=True, timeout=30)
    assert r.returncode == 2 and r.stderr.count("\n") == 1, r.stderr


def test_the_bridge_logs_in_again_after_the_board_drops_the_session(tmp_path: Path) -> None:
    with wipy_board() as vb, bridge(telnet_url(vb), tmp_path / "wipy.tty") as proc:
        link = tmp_path / "wipy.tty"
        assert mpremote(link, "exec", "print('before')").stdout.strip() == "before"
        with open(vb.flash_dir / ".nwp" / "wlan", "ab") as f:  # a WLAN event (what the WLAN model writes)
            f.write(b"e")
        # Bytes sent while the old session is going are lost (as on a UART during a reset), so the tool runs
        # once the bridge has logged in again, as a user would after the pause.
        said = wait_for_line(proc, "reconnected", 15)
        r = mpremote(link, "exec", "print('after')")
        assert (r.returncode, r.stdout.strip()) == (0, "after"), r.stderr
    assert "session dropped" in said
