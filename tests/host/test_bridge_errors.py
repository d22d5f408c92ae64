"""`usocket-hil bridge` with a URL it cannot serve: one line in our words and exit 2, before any connection
(trial 4: `bridge bogus://x` printed pyserial's "protocol 'bogus' not known"; a serial URL was tried as if
it were a network REPL)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

CLI = str(Path(sys.executable).with_name("usocket-hil"))


@pytest.mark.parametrize(("url", "says"), [
    ("bogus://x", "unknown URL scheme bogus://"),
    ("socket://127.0.0.1:9", "bridge serves a network REPL, give wipy://HOST or webrepl://HOST"),
    ("/dev/null", "bridge serves a network REPL"),
    ("wipy://", "has no host"),
])
def test_a_url_bridge_cannot_serve_is_one_line(url: str, says: str) -> None:
    r = subprocess.run([CLI, "bridge", url], capture_output=True, text=True, timeout=30)
    assert r.returncode == 2 and r.stdout == "", (r.stdout, r.stderr)
    assert r.stderr.count("\n") == 1 and says in r.stderr, r.stderr


def test_a_negative_reconnect_timeout_is_refused() -> None:
    r = subprocess.run([CLI, "bridge", "wipy://127.0.0.1:1", "--reconnect-timeout", "-3"], capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 2 and "must be a positive number of seconds" in r.stderr, r.stderr
