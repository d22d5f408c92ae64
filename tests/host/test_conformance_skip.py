"""The conformance suite skips a case only when the board raised compat.Skip, whatever the message says.

Inner pytest sessions (pytester) on real boards raise the real compat.Skip and exceptions whose text
mentions "Skip:"; tests/device/test_conformance.py's skip_reason() must tell them apart by type.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from host_harness.netns import netns_support

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parents[2]
CONFORMANCE = ROOT / "tests" / "device" / "test_conformance.py"

INNER = f"""
import importlib.util

_spec = importlib.util.spec_from_file_location("conformance_under_test", {str(CONFORMANCE)!r})
conformance = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(conformance)


def reason_for(board, code):
    try:
        board.exec(code)
    except conformance.BoardError as exc:  # whatever the suite itself catches
        return ("raised", conformance.skip_reason(exc))
    return ("ran", None)


def test_compat_skip_is_a_skip_with_its_reason(board):
    assert reason_for(board, "import compat\\nraise compat.Skip('no float support here')") == (
        "raised", "no float support here")


def test_other_exceptions_mentioning_skip_are_failures(board):
    assert reason_for(board, "raise AssertionError('Skip: looks like a skip')") == ("raised", None)
    assert reason_for(board, "raise OSError('Skip: 5')") == ("raised", None)
    assert reason_for(board, "class NotSkip(Exception):\\n    pass\\nraise NotSkip('Skip: x')") == (
        "raised", None)
"""


@pytest.mark.parametrize("board_name", ["cpython", "virtual-unix"])
def test_only_compat_skip_becomes_a_skip(pytester: pytest.Pytester, board_name: str) -> None:
    if board_name == "virtual-unix" and not (ok := netns_support())[0]:
        pytest.skip(f"virtual-unix needs network namespaces: {ok[1]}")
    pytester.makepyfile(INNER)  # compat (tests/device/cases/compat.py) is deployed with the port itself
    res = pytester.runpytest("-p", "no:cacheprovider", "--board", board_name)
    res.assert_outcomes(passed=2)
