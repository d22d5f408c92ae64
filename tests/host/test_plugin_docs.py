"""docs/plugin.md's complete HIL test, run exactly as written (pytester), on the default board and CPython."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

DOC = Path(__file__).resolve().parents[2] / "docs" / "plugin.md"


def snippet() -> str:
    text = DOC.read_text()
    section = text.split("## A complete HIL test", 1)[1]
    m = re.search(r"```python\n(.*?)```", section, flags=re.S)
    assert m, "docs/plugin.md: no python block under 'A complete HIL test'"
    return m.group(1)


def test_snippet_is_about_fifteen_lines() -> None:
    assert 10 <= len(snippet().strip().splitlines()) <= 20


@pytest.mark.parametrize("board", [None, "cpython"], ids=["default-board", "cpython"])
def test_snippet_runs(pytester: pytest.Pytester, board: str | None) -> None:
    pytester.makepyfile(test_hil_echo=snippet())
    args = ["-p", "no:cacheprovider"] + (["--board", board] if board else [])
    res = pytester.runpytest(*args)
    res.assert_outcomes(passed=1)
