"""An interrupted deploy (trial report item 9): Ctrl-C at any moment is exit 130, and the next deploy works
the first time.  Before the fix an interrupted write left its open file and helpers in the board's globals,
and on the WiPy's 48 KiB-class heap the next deploy's hash query failed with MemoryError."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

CLI = str(Path(sys.executable).with_name("usocket-hil"))


@pytest.fixture()
def wipy(tmp_path: Path) -> Iterator[dict[str, str]]:
    env = {**os.environ, "USOCKET_HIL_STATE": str(tmp_path)}
    up = subprocess.run([CLI, "virtual", "up", "--board", "virtual-wipy", "--no-network", "--name", "w1"],
                        capture_output=True, text=True, timeout=60, env=env)
    assert up.returncode == 0, up.stderr
    try:
        yield env
    finally:
        subprocess.run([CLI, "virtual", "down", "--all"], capture_output=True, timeout=60, env=env)


def test_ctrl_c_mid_deploy_is_130_and_the_next_deploy_works_first_time(wipy: dict[str, str]) -> None:
    interrupted = 0
    for delay in (0.4, 0.5, 0.6, 0.7, 0.8, 0.9):
        proc = subprocess.Popen([CLI, "deploy", "--board", "w1", "--force"], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, env=wipy,
                                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        time.sleep(delay)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
        assert proc.returncode in (0, 130), (delay, proc.returncode, err)  # 0: it finished first
        if proc.returncode == 130:
            interrupted += 1
            assert err.strip() == "usocket-hil: interrupted", err
        again = subprocess.run([CLI, "deploy", "--board", "w1"], capture_output=True, text=True, timeout=120,
                               env=wipy)
        assert again.returncode == 0, (delay, again.stderr)
    assert interrupted, "no Ctrl-C caught the deploy: the test proved nothing"
