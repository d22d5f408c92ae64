"""A virtual board's log, default flash folder and WiPy NWP store live as long as the board (host_harness/virtual/
manager.py): nothing of one board leaks into a later board of the same name or of another target, and nothing is
left in the state folder once it stops; a user's --flash-dir is kept."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from host_harness.virtual import VirtualBoard

CLI = str(Path(sys.executable).with_name("usocket-hil"))


def hil(state: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([CLI, *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "USOCKET_HIL_STATE": str(state)})


def ok(p: subprocess.CompletedProcess) -> str:
    assert p.returncode == 0, p.stdout + p.stderr
    return p.stdout


def nwp_upload(flash: Path) -> None:
    # what an FTP upload of /flash/cert/ca.pem writes (services/nwp.py): the board's NWP store, beside its flash
    (Path(f"{flash}.nwp") / "cert").mkdir(parents=True, exist_ok=True)
    (Path(f"{flash}.nwp") / "cert" / "ca.pem").write_text("pem")


def test_virtual_down_removes_the_board_files_and_a_new_board_starts_empty(tmp_path: Path) -> None:
    # with its network: the WiPy's servers and network processor (services/nwp.py) run and write their store
    ok(hil(tmp_path, "virtual", "up", "--board", "virtual-wipy", "--name", "gl"))
    try:
        ok(hil(tmp_path, "exec", "--board", "gl", "open('/stale.py', 'w').write('X = 1')"))
        assert (tmp_path / "gl.flash" / "stale.py").exists() and (tmp_path / "gl.flash" / "sys").is_dir()
        assert (tmp_path / "gl.flash.nwp" / "cert").is_dir()
    finally:
        ok(hil(tmp_path, "virtual", "down", "gl"))
    assert sorted(os.listdir(tmp_path)) == []  # no flash, no .nwp store, no log
    ok(hil(tmp_path, "virtual", "up", "--name", "gl", "--no-network"))  # the same id, virtual-unix
    try:
        out = ok(hil(tmp_path, "exec", "--board", "gl", "import os; print(sorted(os.listdir('/')))"))
        assert out.strip() == "[]", out  # no WiPy /sys, /cert, /lib, no stale.py
    finally:
        ok(hil(tmp_path, "virtual", "down", "gl"))
    assert os.listdir(tmp_path) == []


def test_leftover_of_a_killed_board_is_not_reused(tmp_path: Path) -> None:
    # what a supervisor killed -9 (or an older version) leaves: another target's flash and NWP store
    (tmp_path / "k1.flash" / "lib").mkdir(parents=True)
    (tmp_path / "k1.flash" / "lib" / "usocket_port.py").write_text("raise ImportError('esp32 glue')\n")
    (tmp_path / "k1.flash.nwp" / "cert").mkdir(parents=True)
    ok(hil(tmp_path, "virtual", "up", "--name", "k1", "--no-network"))
    try:
        out = ok(hil(tmp_path, "exec", "--board", "k1", "import os; print(os.listdir('/'))"))
        assert out.strip() == "[]", out
        assert not (tmp_path / "k1.flash.nwp").exists()
    finally:
        ok(hil(tmp_path, "virtual", "down", "k1"))


def test_a_user_flash_dir_is_kept(tmp_path: Path) -> None:
    state = tmp_path / "state"
    flash = tmp_path / "mine"
    flash.mkdir()
    ok(hil(state, "virtual", "up", "--board", "virtual-wipy", "--name", "u1", "--no-network",
           "--flash-dir", str(flash)))
    try:
        ok(hil(state, "exec", "--board", "u1", "open('/keep.py', 'w').write('K = 2')"))
        nwp_upload(flash)
    finally:
        ok(hil(state, "virtual", "down", "u1"))
    assert (flash / "keep.py").read_text() == "K = 2"
    assert (tmp_path / "mine.nwp").is_dir()  # its NWP store too: the user's board
    assert os.listdir(state) == []
    ok(hil(state, "virtual", "up", "--name", "u1", "--no-network", "--flash-dir", str(flash)))
    try:
        assert ok(hil(state, "exec", "--board", "u1", "import keep; print(keep.K)")).strip() == "2"
    finally:
        ok(hil(state, "virtual", "down", "u1"))


def test_virtual_board_objects_leave_nothing_but_keep_files_across_restart(tmp_path: Path) -> None:
    for name in (None, "named1"):
        vb = VirtualBoard("virtual-wipy", network=False, name=name, state_dir=tmp_path).start()
        try:
            (vb.flash_dir / "mark.txt").write_text("m")
            nwp_upload(vb.flash_dir)
            vb.restart()  # a power cycle keeps the flash
            assert (vb.flash_dir / "mark.txt").exists()
        finally:
            vb.close()
        assert os.listdir(tmp_path) == [], name
