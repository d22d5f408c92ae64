"""Every source a virtual board compiles meets its firmware's compiler (docs/fidelity.md I8, I9), and raw-paste input
is compiled as it streams in (shared/runtime/pyexec.c, raw paste over mp_reader_stdin), both as `usocket-hil exec`
and as mpremote reach the board."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from host_harness.boards import load_board
from host_harness.virtual import VirtualBoard

BIN = Path(sys.executable).parent
CLI = str(BIN / "usocket-hil")
MPREMOTE = str(BIN / "mpremote")
FLOAT_ERR = "SyntaxError: decimal numbers not supported"


def hil_exec(port: str, code: str, stdin: str | None = None, timeout: float = 90) -> subprocess.CompletedProcess:
    args = [CLI, "exec", "--port", port, "--timeout", str(timeout - 10), code]
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout, input=stdin, env={**os.environ})


def mpr(port: str, *args: str, timeout: float = 90) -> subprocess.CompletedProcess:
    return subprocess.run([MPREMOTE, "connect", port, *args], capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def wipy() -> Iterator[VirtualBoard]:
    with VirtualBoard(load_board("virtual-wipy"), network=False) as vb:
        yield vb


@pytest.fixture(scope="module")
def esp32() -> Iterator[VirtualBoard]:
    with VirtualBoard(load_board("virtual-esp32"), network=False) as vb:
        yield vb


@pytest.mark.parametrize("code, where", [
    ("x = 1.5", 'File "<stdin>", line 1\n'),
    ("exec('y = 2.5')", 'File "<string>", line 1\n'),
    ("print(eval('1.5'))", 'File "<string>", line 1\n'),
    ("c = compile('n = 1\\nz = 3e2', 'mod.py', 'exec')", 'File "mod.py", line 2\n'),
])
def test_i8_wipy_float_literals_refused_in_every_source(wipy: VirtualBoard, code: str, where: str) -> None:
    # usocket-hil pastes the code inside a `try:` to catch sys.exit: the firmware's rules hold there too
    p = hil_exec(wipy.port_url, code)
    assert p.returncode == 1 and FLOAT_ERR in p.stderr and where in p.stderr, p.stderr
    m = mpr(wipy.port_url, "exec", code)
    assert FLOAT_ERR in m.stdout and where in m.stdout.replace("\r\n", "\n"), m.stdout


def test_i8_wipy_async_and_execfile(wipy: VirtualBoard) -> None:
    p = hil_exec(wipy.port_url, "exec('async def f():\\n    pass\\n')")
    assert p.returncode == 1 and "SyntaxError: invalid syntax" in p.stderr, p.stderr
    # the release build has execfile (ports/cc3200/mpconfigport.h, `#ifndef DEBUG`), with the firmware's compiler
    p = hil_exec(wipy.port_url, "open('x.py', 'w').write('print(6 * 7)')\nexecfile('x.py')\n"
                                "open('y.py', 'w').write('y = 2.5')\nexecfile('y.py')")
    assert p.returncode == 1 and p.stdout.split() == ["42"] and FLOAT_ERR in p.stderr, p.stdout + p.stderr
    p = hil_exec(wipy.port_url, "g = {}\nexec('a = 7', g)\nexec('b = 2')\nprint(g['a'], b, eval('b * 3'))")
    assert p.returncode == 0 and p.stdout.split() == ["7", "2", "6"], p.stdout + p.stderr


def test_i8_esp32_errno_not_folded_in_any_source(esp32: VirtualBoard, tmp_path: Path) -> None:
    code = "import errno\nprint(errno.ETIMEDOUT)\nexec('print(errno.ENOTCONN)')\nprint(eval('errno.EINPROGRESS'))"
    want = ["116", "128", "119"]  # newlib's numbers, not the unix build's 110, 107, 115
    p = hil_exec(esp32.port_url, code)
    assert p.returncode == 0 and p.stdout.split() == want, p.stdout + p.stderr
    assert mpr(esp32.port_url, "exec", code).stdout.split() == want
    (tmp_path / "f.py").write_text("import errno\nprint(errno.ECONNRESET)\n")
    assert hil_exec(esp32.port_url, "execfile('f.py')").returncode == 1  # not on the board's flash
    mpr(esp32.port_url, "cp", str(tmp_path / "f.py"), ":f.py")
    assert hil_exec(esp32.port_url, "execfile('f.py')").stdout.split() == ["104"]


def _comments(n_bytes: int) -> str:
    line = "# " + "c" * 60 + "\n"
    return line * (n_bytes // len(line)) + "print('ran', 6 * 7)\n"


def _too_big() -> str:
    # ~360 KB of code whose parse tree cannot fit in the board's heap
    return "".join(f"v{i} = [{i}, {i}, ({i}, {i})]\n" for i in range(10000)) + "print('never')\n"


def test_raw_paste_compiles_as_it_streams(wipy: VirtualBoard, esp32: VirtualBoard, tmp_path: Path) -> None:
    script = tmp_path / "big.py"
    script.write_text(_comments(42 * 1024))
    # 42 KB never held whole: it runs on the WiPy's 68 KiB heap
    for vb in (wipy, esp32):
        m = mpr(vb.port_url, "run", str(script))
        assert m.returncode == 0 and m.stdout.split() == ["ran", "42"], m.stdout + m.stderr
    p = hil_exec(esp32.port_url, "-", stdin=script.read_text())
    assert p.returncode == 0 and p.stdout.split() == ["ran", "42"], p.stdout + p.stderr
    # a refused construct half way through a streamed paste (past the 16 KiB compiled whole): the firmware's
    # SyntaxError with its line, the rest of the input drained
    # (mpremote here; usocket-hil's own exec of a big script: tests/host/test_exec_big_script.py)
    head = _comments(20000)
    script.write_text(head + "x = 0.5\n" + _comments(8000))
    m = mpr(wipy.port_url, "run", str(script))
    out = m.stdout.replace("\r\n", "\n")
    assert FLOAT_ERR in out and f'File "<stdin>", line {head.count(chr(10)) + 1}\n' in out, out
    assert "vboard" not in out
    assert mpr(wipy.port_url, "exec", "print('next')").stdout.split() == ["next"]


def test_raw_paste_too_big_for_the_heap_is_a_board_memory_error(wipy: VirtualBoard, esp32: VirtualBoard,
                                                                tmp_path: Path) -> None:
    script = tmp_path / "huge.py"
    script.write_text(_too_big())
    for vb in (wipy, esp32):
        p = hil_exec(vb.port_url, "-", stdin=script.read_text())
        assert p.returncode == 1 and "MemoryError: memory allocation failed" in p.stderr, p.stderr
        assert "vboard.py" not in p.stderr + p.stdout and "never" not in p.stdout
        m = mpr(vb.port_url, "run", str(script))  # mpremote: the same, and it does not hang afterwards
        assert "MemoryError: memory allocation failed" in m.stdout, m.stdout + m.stderr
        for _ in range(2):  # the board stayed up and in step
            p = hil_exec(vb.port_url, "print('alive')")
            assert p.returncode == 0 and p.stdout.split() == ["alive"], p.stdout + p.stderr
