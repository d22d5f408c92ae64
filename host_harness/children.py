"""A child process the CLI waits on (a pytest suite): stopped as a terminal's Ctrl-C would, exactly once.

The child runs in a process group of its own, so a terminal's Ctrl-C reaches us alone, and `interrupt()` passes
one SIGINT to the child's group (what the terminal would have sent) and waits for it to stop its boards, peers
and namespaces.  Sending SIGTERM instead killed pytest before its teardown (boards' flash folders, logs and
brokers left behind); a second SIGINT would cut its teardown short.  The child's parent-death signal is SIGINT
too: if we are killed, it still cleans up after itself.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import time
from typing import Any

_PR_SET_PDEATHSIG = 1  # linux/prctl.h


def _own_group_interrupted_with_parent(parent: int) -> None:
    """preexec_fn: SIGINT when the parent goes (and at once if it already went)."""
    os.setpgid(0, 0)
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGINT, 0, 0, 0)
    if os.getppid() != parent:
        os.kill(os.getpid(), signal.SIGINT)


def spawn(argv: list[str], **popen: Any) -> subprocess.Popen:
    """Start `argv` in its own process group, interrupted (SIGINT) when this process dies."""
    me = os.getpid()
    return subprocess.Popen(argv, preexec_fn=lambda: _own_group_interrupted_with_parent(me), **popen)


def interrupt_group(proc: subprocess.Popen) -> None:
    """One SIGINT to a running child's group, as a terminal's Ctrl-C: it stops what it started; no wait."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):  # it may end between the poll and the signal
            os.killpg(proc.pid, signal.SIGINT)


def interrupt(procs: list[subprocess.Popen], grace: float) -> None:
    """One SIGINT to each running child's group; wait up to `grace` seconds for all, then SIGKILL the rest.
    A further Ctrl-C meanwhile does not stop the wait (it would leave the children's cleanup unfinished)."""
    for proc in procs:
        interrupt_group(proc)
    deadline = time.monotonic() + grace
    for proc in procs:
        while True:
            try:
                proc.wait(max(0.0, deadline - time.monotonic()))
                break
            except KeyboardInterrupt:
                continue
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                break
