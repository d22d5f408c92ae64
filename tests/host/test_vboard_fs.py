"""A virtual board's flash filesystem as mpremote sees it: `fs ls` shows each file's real size.

The real mpremote CLI against a real virtual board; the expected sizes come from the host folder that is
the board's flash, not from the board.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from host_harness.boards import load_board
from host_harness.virtual import VirtualBoard

FILES = {"empty.txt": b"", "one.bin": b"x", "boot.py": b"# nothing to do\n", "lib/big.bin": bytes(5000)}


@pytest.fixture(scope="module")
def board(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[VirtualBoard, Path]]:
    flash = tmp_path_factory.mktemp("flash")
    with VirtualBoard(load_board("virtual-unix"), network=False, flash_dir=flash) as vb:
        yield vb, flash


def mpremote(port: str, *args: str) -> str:
    p = subprocess.run([sys.executable, "-m", "mpremote", "connect", port, *args], capture_output=True,
                       text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    return p.stdout


def listing(out: str) -> dict[str, int]:
    """mpremote's `fs ls` lines ("{size:12} {name}") as name -> size, after its "ls :path" echo."""
    rows = [line.split(None, 1) for line in out.splitlines() if line and not line.startswith("ls ")]
    return {name: int(size) for size, name in rows}


def test_fs_ls_shows_real_sizes(board: tuple[VirtualBoard, Path], tmp_path: Path) -> None:
    vb, flash = board
    cmds: list[str] = ["fs", "mkdir", ":lib"]
    for name, data in FILES.items():
        local = tmp_path / name.replace("/", "_")
        local.write_bytes(data)
        cmds += ["+", "fs", "cp", str(local), f":{name}"]
    mpremote(vb.port_url, *cmds)
    want = {p.name + ("/" if p.is_dir() else ""): 0 if p.is_dir() else p.stat().st_size
            for p in flash.iterdir() if p.name != "sub"}
    assert want == {"empty.txt": 0, "one.bin": 1, "boot.py": 16, "lib/": 0}  # what mpremote wrote
    assert listing(mpremote(vb.port_url, "fs", "ls", ":")) == want
    assert listing(mpremote(vb.port_url, "fs", "ls", ":lib")) == {"big.bin": 5000}


def test_ilistdir_entries_are_board_shaped(board: tuple[VirtualBoard, Path]) -> None:
    # (name, type, 0, size) as FAT/littlefs give; bytes paths give bytes names; uos is the same module;
    # a missing folder raises at the call.
    vb, flash = board
    (flash / "sub").mkdir()
    (flash / "sub" / "seven.bin").write_bytes(b"7" * 7)
    out = mpremote(vb.port_url, "exec", "\n".join([
        "import os, uos",
        "print(sorted(os.ilistdir('/sub')))",
        "print(sorted(uos.ilistdir(b'sub/')))",
        "try:",
        "    os.ilistdir('/no-such-dir')",
        "except OSError as e:",
        "    print('OSError', e.errno)",
    ]))
    assert out.splitlines() == ["[('seven.bin', 32768, 0, 7)]", "[(b'seven.bin', 32768, 0, 7)]", "OSError 2"]
