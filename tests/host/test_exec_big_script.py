"""`usocket-hil exec -` of a script far larger than a small board's heap could hold twice (a 40 KiB script on
the virtual WiPy's 96 KiB heap), as `mpremote run` runs it: the code itself is raw-pasted and compiled as it
streams in, and sys.exit(n) still ends it with exit status n (host_harness/transport/exit_status.py).

Failed before: the exit-status wrapper sent the script as one string literal, and the board ran out of memory
("MemoryError: memory allocation failed, allocating 32899 bytes") where `mpremote run` ran it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from host_harness.boards import load_board
from host_harness.transport import exit_status
from host_harness.virtual import VirtualBoard

BIN = Path(sys.executable).parent
CLI = str(BIN / "usocket-hil")
MPREMOTE = str(BIN / "mpremote")
SIZE = 40 * 1024


@pytest.fixture(scope="module")
def wipy() -> Iterator[VirtualBoard]:
    with VirtualBoard(load_board("virtual-wipy"), network=False) as vb:
        yield vb


def hil_exec(port: str, code: str | bytes, *, text: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run([CLI, "exec", "--port", port, "--timeout", "80", "-"], input=code, capture_output=True,
                          text=text, timeout=90, env={**os.environ})


def big_script(last: str) -> str:
    """SIZE bytes of a real program (blocks nested with tabs and spaces, a multi-line string whose lines start
    with tabs, a function called at the end), padded with comments; `last` is its final line."""
    head = ("import sys\n"
            "TEXT = '''first\n\tsecond, tab-indented\n        third'''\n"
            "def total(n):\n"
            "    s = n - n\n"
            "    for i in range(n):\n"
            "\tif i % 2:\n"  # a tab: column 9, deeper than the 4 spaces above (py/lexer.c TAB_SIZE)
            "\t    s += i\n"
            "    return s\n")
    pad = "# " + "c" * 60 + "\n"
    body = pad * (SIZE // len(pad) + 1 - len(head) // len(pad))
    return head + body + "print(repr(TEXT), total(10))\n" + last + "\n"


WANT = ["'first\\n\\tsecond,", "tab-indented\\n", "third'", "25"]


def test_big_script_runs_with_its_exit_status(wipy: VirtualBoard, tmp_path: Path) -> None:
    script = big_script("sys.exit(3)")
    assert len(script) >= SIZE
    p = hil_exec(wipy.port_url, script)
    assert p.returncode == 3 and p.stdout.split() == WANT, p.stdout + p.stderr
    path = tmp_path / "big.py"
    path.write_text(script)
    m = subprocess.run([MPREMOTE, "connect", wipy.port_url, "run", str(path)], capture_output=True, text=True,
                       timeout=90)
    assert m.returncode == 0 and m.stdout.split() == WANT, m.stdout + m.stderr  # mpremote loses the status


def test_big_script_errors_carry_the_lines_the_user_wrote(wipy: VirtualBoard) -> None:
    script = big_script("x = 1.5")  # refused by the cc3200 compiler: nothing runs
    line = script.count("\n")
    p = hil_exec(wipy.port_url, script)
    assert p.returncode == 1 and p.stdout == "", p.stdout + p.stderr
    assert "SyntaxError: decimal numbers not supported" in p.stderr, p.stderr
    assert f'File "<stdin>", line {line}\n' in p.stderr and f"(line {line})" in p.stderr, p.stderr
    script = big_script("total(None)")
    p = hil_exec(wipy.port_url, script)
    assert p.returncode == 1 and p.stdout.split() == WANT, p.stdout + p.stderr
    assert f'File "<stdin>", line {script.count(chr(10))}, in <module>' in p.stderr, p.stderr
    assert 'File "<stdin>", line 6, in total' in p.stderr, p.stderr  # `s = n - n`


def test_big_script_binary_output_is_output(wipy: VirtualBoard) -> None:
    p = hil_exec(wipy.port_url, big_script("sys.stdout.buffer.write(bytes(range(256)))").encode(), text=False)
    assert p.returncode == 0, p.stderr
    assert p.stdout.endswith(bytes(range(256)).replace(b"\r\n", b"\n")), p.stdout[-300:]


@pytest.mark.parametrize("code", [b"print(1", b"x = '''open", b"if 1:\n  a\n b\n", b"\xff\xfe = 1\n"])
def test_code_the_host_cannot_tokenize_is_sent_as_it_is(code: bytes) -> None:
    assert exit_status.wrap(code) is None  # the board's own compiler reports it, at its own line


def test_wrapped_code_is_the_code_indented_by_a_tab() -> None:
    code = b"x = '''a\n  b'''\nif x:\n    y = (1,\n2)\n\n# note\n"
    wrapped = exit_status.wrap(code)
    assert wrapped is not None
    lines = wrapped.split(b"\n")
    assert lines[:8] == [b"try:", b"\tx = '''a", b"  b'''", b"\tif x:", b"\t    y = (1,", b"\t2)", b"", b"\t# note"]
    assert exit_status.board_text('  File "<stdin>", line 5, in <module>') == '  File "<stdin>", line 4, in <module>'
