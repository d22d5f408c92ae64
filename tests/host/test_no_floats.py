"""Float-less firmware (cc3200/WiPy): no float literal may appear in the shared core or in ports/wipy.

A float literal anywhere in a module is a compile-time SyntaxError on a build without float support, so one
stray `0.5` would make the whole layer unimportable on WiPy.  Every file is tokenized; a NUMBER token is a
float literal if it contains '.', an exponent 'e' (not in a hex literal) or the imaginary 'j'.
"""

from __future__ import annotations

import io
import tokenize
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHECKED = sorted((ROOT / "usocket_port").rglob("*.py")) + sorted((ROOT / "ports" / "wipy").rglob("*.py"))


def float_literals(text: str) -> list[str]:
    found = []
    for tok in tokenize.generate_tokens(io.StringIO(text).readline):
        if tok.type != tokenize.NUMBER:
            continue
        s = tok.string.lower()
        if s.startswith(("0x", "0o", "0b")):
            continue
        if "." in s or "e" in s or s.endswith("j"):
            found.append(f"line {tok.start[0]}: {tok.string}")
    return found


def test_the_checker_finds_floats() -> None:
    # the detector itself: floats, exponents, imaginaries found; ints, hex (with 'e' digits), strings not
    assert float_literals("a = 0.5\nb = 1e3\nc = 2j\nd = .5\n") == ["line 1: 0.5", "line 2: 1e3", "line 3: 2j",
                                                                  "line 4: .5"]
    assert float_literals("a = 0xE5\nb = 10\nc = '0.5'\n# 1.5\nd = 1_000\n") == []


def test_files_are_found() -> None:
    assert any(p.parent.name == "wipy" for p in CHECKED) and any(p.name == "__init__.py" for p in CHECKED)


@pytest.mark.parametrize("path", CHECKED, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_float_literals(path: Path) -> None:
    assert float_literals(path.read_text()) == [], f"{path.relative_to(ROOT)} has float literals"
