"""usocket_port can be imported again in the same VM (deploy's import check drops it from sys.modules and
imports it anew while usocket_target stays loaded)."""

from __future__ import annotations

import os
import subprocess

from test_core_direct import MICROPYTHON, needs_mp

from host_harness.resources import core_dir, port_dir

PROGRAM = """
import sys
import usocket_port
a = usocket_port.SOCK_STREAM
del sys.modules["usocket_port"]
import usocket_port
print(a == usocket_port.SOCK_STREAM, "usocket_target" in sys.modules)
"""


@needs_mp
def test_reimport_keeps_constants() -> None:
    path = f".frozen:{core_dir().parent}:{port_dir('unix')}"
    r = subprocess.run([MICROPYTHON, "-c", PROGRAM], capture_output=True, text=True, timeout=30,
                       env={**os.environ, "MICROPYPATH": path})
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["True", "True"]
