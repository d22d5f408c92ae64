"""Deploy with hash skip on a real virtual board: copies, skips, recopies changes, swaps .py/.mpy, imports."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from host_harness.boards import load_board
from host_harness.deploy import DeployError, DeployFile, board_files, build_files, deploy, deploy_board
from host_harness.mpy import compile_mpy
from host_harness.transport import BoardSession
from host_harness.virtual import VirtualBoard


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.fixture(scope="module")
def vboard(tmp_path_factory) -> Iterator[object]:
    flash = tmp_path_factory.mktemp("flash")
    with VirtualBoard(load_board("virtual-unix"), network=False, flash_dir=flash) as vb:
        yield vb


@pytest.fixture
def session(vboard) -> Iterator[BoardSession]:
    with BoardSession(vboard.port_url, hard_reset=vboard.hard_reset, open_timeout=10) as s:
        yield s


@pytest.fixture
def src(tmp_path: Path) -> list[tuple[Path, str]]:
    """A small package + module, like usocket_port/ + usocket_target.py."""
    return [
        (_write(tmp_path / "h3pkg" / "__init__.py", "from h3pkg.part import VALUE\nimport h3glue\n"),
         "h3pkg/__init__.py"),
        (_write(tmp_path / "h3pkg" / "part.py", "VALUE = const(1)\n"), "h3pkg/part.py"),
        (_write(tmp_path / "h3glue.py", "NAME = 'glue'\n"), "h3glue.py"),
    ]


def test_first_copies_second_skips_change_recopies(vboard, session: BoardSession, src) -> None:
    files = build_files(src, mpy_arch=None)
    first = deploy(session, files)
    assert sorted(first.copied) == ["/lib/h3glue.py", "/lib/h3pkg/__init__.py", "/lib/h3pkg/part.py"]
    assert first.verified == ["h3glue", "h3pkg"]
    assert first.bytes_copied == sum(len(f.data) for f in files)
    # The files landed in the board's flash folder on the host, byte for byte.
    assert (Path(vboard.flash_dir) / "lib/h3pkg/part.py").read_bytes() == src[1][0].read_bytes()

    second = deploy(session, build_files(src, mpy_arch=None))
    assert second.copied == [] and len(second.skipped) == 3

    _write(src[1][0], "VALUE = const(2)\n")
    third = deploy(session, build_files(src, mpy_arch=None))
    assert third.copied == ["/lib/h3pkg/part.py"]
    assert session.exec("import h3pkg\nprint(h3pkg.VALUE)").text() == "2\n"

    forced = deploy(session, build_files(src, mpy_arch=None), force=True)
    assert len(forced.copied) == 3


def test_mpy_replaces_py_and_back(vboard, session: BoardSession, src) -> None:
    deploy(session, build_files(src, mpy_arch=None))
    as_mpy = deploy(session, build_files(src, mpy_arch="x64"))
    assert "/lib/h3pkg/part.mpy" in as_mpy.copied
    assert "/lib/h3pkg/part.py" in as_mpy.removed and "/lib/h3glue.py" in as_mpy.removed
    assert not (Path(vboard.flash_dir) / "lib/h3pkg/part.py").exists()
    assert (Path(vboard.flash_dir) / "lib/h3pkg/part.mpy").read_bytes()[:2] == b"M\x06"
    r = session.exec("import sys\nfor m in ('h3pkg', 'h3pkg.part', 'h3glue'):\n"
                     "    sys.modules.pop(m, None)\nimport h3pkg\nprint(h3pkg.VALUE, h3pkg.h3glue.NAME)")
    assert r.text() == "1 glue\n", r.error
    back = deploy(session, build_files(src, mpy_arch=None))
    assert "/lib/h3pkg/part.mpy" in back.removed


def test_prune_removes_unknown_modules(session: BoardSession, src) -> None:
    deploy(session, build_files(src, mpy_arch=None))
    session.put_file("/lib/h3pkg/old.py", b"X = 1\n")
    r = deploy(session, build_files(src, mpy_arch=None), prune=["/lib/h3pkg"])
    assert r.removed == ["/lib/h3pkg/old.py"]
    assert r.copied == []


def test_broken_module_fails_import_check(session: BoardSession, tmp_path: Path) -> None:
    bad = _write(tmp_path / "h3bad.py", "def f(:\n")
    with pytest.raises(DeployError, match="SyntaxError"):
        deploy(session, [DeployFile.from_path(bad, "/lib/h3bad.py")])


def test_explicit_file_outside_lib_is_not_imported(session: BoardSession, tmp_path: Path) -> None:
    f = _write(tmp_path / "data.txt", "hello\n")
    r = deploy(session, [DeployFile.from_path(f, "/h3data/data.txt")])
    assert r.copied == ["/h3data/data.txt"] and r.verified == []
    assert session.get_file("/h3data/data.txt") == b"hello\n"


def test_bad_input() -> None:
    with pytest.raises(DeployError, match="absolute"):
        DeployFile("lib/x.py", b"")
    with pytest.raises(DeployError, match="not a file path"):
        DeployFile("/lib/../..", b"")
    with pytest.raises(DeployError, match="cannot read"):
        DeployFile.from_path(Path("/no/such/file.py"), "/lib/x.py")
    with pytest.raises(DeployError, match="runs on the host"):
        board_files(load_board("cpython"))


def test_board_set_names(tmp_path: Path) -> None:
    core = tmp_path / "core"
    glue = tmp_path / "glue"
    _write(core / "__init__.py", "import usocket_target as _t\n")
    _write(core / "sub" / "__init__.py", "")
    _write(glue / "usocket_target.py", "X = 1\n")
    board = load_board("virtual-unix")
    names = sorted(f.remote for f in board_files(board, core=core, glue=glue))
    assert names == ["/lib/usocket_port/__init__.mpy", "/lib/usocket_port/sub/__init__.mpy",
                     "/lib/usocket_target.mpy"]
    names_py = sorted(f.remote for f in board_files(board, py=True, core=core, glue=glue))
    assert names_py == ["/lib/usocket_port/__init__.py", "/lib/usocket_port/sub/__init__.py",
                        "/lib/usocket_target.py"]
    with pytest.raises(DeployError, match="glue"):
        board_files(board, core=core, glue=tmp_path / "nothing")


def test_compile_mpy_header(tmp_path: Path) -> None:
    data = compile_mpy(_write(tmp_path / "m.py", "X = const(3)\n"), arch="xtensawin")
    assert data[:2] == b"M\x06"


def test_wipy_deploys_bytecode_mpy(tmp_path: Path) -> None:
    # boards/wipy1.toml: the cc3200 loads .mpy without native code (py/persistentcode.c: arch bits 0)
    files = board_files(load_board("wipy1"))
    assert files and all(f.remote.endswith(".mpy") for f in files)
    assert all(f.data[:2] == b"M\x06" and f.data[2] >> 2 == 0 for f in files)


def test_deploy_board_real_files(vboard, session: BoardSession) -> None:
    board = load_board("virtual-unix")
    r = deploy_board(session, board)
    assert "/lib/usocket_port/__init__.mpy" in r.copied + r.skipped
    assert "/lib/usocket_target.mpy" in r.copied + r.skipped
    assert r.verified == ["usocket_port", "usocket_target"]
    again = deploy_board(session, board)
    assert again.copied == [] and again.removed == []
