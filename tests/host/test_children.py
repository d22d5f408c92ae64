"""host_harness/children.py: one SIGINT to a child's whole process group (the Ctrl-C a terminal would send),
the one step `usocket-hil test` takes for Ctrl-C and for a lost place (commands/test.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from host_harness import children

# A child and its grandchild (one process group), each saying when SIGINT reached it, then ending.
_CHILD = """
import signal, subprocess, sys, time
def said(*_):
    print(sys.argv[1], flush=True)
    sys.exit(0)
signal.signal(signal.SIGINT, said)
if sys.argv[1] == "child":
    subprocess.Popen([sys.executable, "-c", sys.argv[2], "grandchild", sys.argv[2]])
print("ready", flush=True)
time.sleep(30)
"""


def test_interrupt_group_reaches_the_whole_group_once(tmp_path: Path) -> None:
    proc = children.spawn([sys.executable, "-c", _CHILD, "child", _CHILD], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        assert [proc.stdout.readline(), proc.stdout.readline()] == ["ready\n", "ready\n"]
        children.interrupt_group(proc)
        assert proc.wait(10) == 0
        said = sorted(proc.stdout.read().split())
        assert said == ["child", "grandchild"], said
    finally:
        children.interrupt([proc], 5)
    children.interrupt_group(proc)  # ended (and reaped): nothing to signal, no ProcessLookupError
