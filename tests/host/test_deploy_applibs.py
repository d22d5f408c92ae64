"""`deploy --lib` of the README's third-party libraries (umqtt, urequests from micropython-lib) on every model
board.  Their import check used to run before usocket_port.install(), so on CircuitPython, which has no
`usocket`, umqtt's `import usocket` failed the deploy (exit 2) although the libraries work as a program runs
them (trial 4).  The check leaves no alias of install()'s behind: the board's modules are as before."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from host_harness import applibs

CLI = str(Path(sys.executable).with_name("usocket-hil"))


def hil(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([CLI, *args], capture_output=True, text=True, timeout=180, env=env)


@pytest.mark.parametrize("board", ["virtual-circuitpython", "virtual-esp32", "virtual-wipy"])
def test_deploy_lib_of_umqtt_and_urequests_imports_them_as_a_program_does(board: str, tmp_path: Path) -> None:
    lib = applibs.ensure()
    env = {**os.environ, "USOCKET_HIL_STATE": str(tmp_path)}
    up = hil("virtual", "up", "--board", board, "--no-network", "--name", "a1", env=env)
    assert up.returncode == 0, up.stderr
    modules = "import sys\nprint(sorted((k, id(v)) for k, v in sys.modules.items()))"
    try:
        before = hil("exec", "--board", "a1", modules, env=env)
        assert before.returncode == 0, before.stderr
        p = hil("deploy", "--board", "a1", "--lib", str(lib), env=env)
        assert p.returncode == 0, p.stderr
        assert "imported umqtt, urequests, usocket_port" in p.stdout, p.stdout
        # nothing of the check is left: no install() alias, none of the libraries, every module as it was
        after = hil("exec", "--board", "a1", modules, env=env)
        assert (after.returncode, after.stdout) == (0, before.stdout), after.stderr
        run = hil("exec", "--board", "a1", "import usocket_port\nusocket_port.install()\nimport umqtt.simple, "
                  "urequests\nprint(umqtt.simple.MQTTClient.__name__)", env=env)
        assert (run.returncode, run.stdout.strip()) == (0, "MQTTClient"), run.stderr
    finally:
        hil("virtual", "down", "--all", env=env)
