"""What a new user could not find how to do (trial report, docs gaps), now a documented command each:
an mcuimg.bin for `flash --port wipy://` (testimage --target wipy) and extra libraries on a board
(`deploy --lib PATH`, the plugin's --board-lib for the CLI).  Each test failed before: neither existed."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from netrepl_helpers import telnet_url, wipy_board

from host_harness import cli
from host_harness.flash import testimage as image_tool

CLI = str(Path(sys.executable).with_name("usocket-hil"))
README = (Path(__file__).parents[2] / "README.md").read_text()


def hil(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([CLI, *args], capture_output=True, text=True, timeout=120, env={**os.environ, **env})


def test_testimage_builds_an_mcuimg_the_virtual_wipy_boots(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert image_tool.main(["--target", "wipy", "-o", str(tmp_path / "mcuimg.bin"), "--version", "v9.8.7"]) == 0
    assert image_tool.main(["--target", "wipy", "-o", str(tmp_path / "bad.bin"), "--version", "v9.8.8",
                      "--corrupt", "md5"]) == 0
    capsys.readouterr()
    with wipy_board() as vb:
        argv = ["flash", "--board", "virtual-wipy", "--port", telnet_url(vb)]
        assert cli.main([*argv, str(tmp_path / "mcuimg.bin")]) == 0
        assert "-> v9.8.7" in capsys.readouterr().out
        assert cli.main([*argv, str(tmp_path / "bad.bin")]) == 2
        assert "ROLLED BACK" in capsys.readouterr().out
    assert "--target wipy" in README and "mcuimg.bin" in README


def test_deploy_lib_puts_modules_and_packages_on_the_board(tmp_path: Path) -> None:
    lib = tmp_path / "mylib"
    (lib / "pkg").mkdir(parents=True)
    (lib / "hello.py").write_text("X = 42\n")
    (lib / "pkg" / "__init__.py").write_text("Y = 7\n")
    (tmp_path / "single.py").write_text("Z = 1\n")
    env = {"USOCKET_HIL_STATE": str(tmp_path / "state")}
    assert hil("virtual", "up", "--no-network", "--name", "d1", env=env).returncode == 0
    try:
        p = hil("deploy", "--board", "d1", "--lib", str(lib), "--lib", str(tmp_path / "single.py"), env=env)
        assert p.returncode == 0, p.stderr
        assert re.search(r"imported hello, pkg, single, usocket_port", p.stdout), p.stdout
        r = hil("exec", "--board", "d1", "import hello, pkg, single; print(hello.X + pkg.Y + single.Z)", env=env)
        assert (r.returncode, r.stdout) == (0, "50\n"), r.stderr
        bad = hil("deploy", "--board", "d1", "--lib", str(tmp_path / "nope"), env=env)
        missing = f"usocket-hil: error: --lib {tmp_path / 'nope'} does not exist"
        assert (bad.returncode, bad.stderr.strip()) == (2, missing)
    finally:
        hil("virtual", "down", "--all", env=env)
    assert "deploy --board vb1 --lib" in README


def test_readme_names_every_bench_script_and_each_corrupt_kind() -> None:
    bench = Path(__file__).parents[2] / "bench"
    for script in sorted(bench.glob("*.py")):
        assert f"bench/{script.name}" in README, script.name
    for kind in ("--corrupt app|partition-table", "--corrupt header", "--corrupt md5"):
        assert kind in README, kind
