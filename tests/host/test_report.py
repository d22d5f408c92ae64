"""The clause × target report: statuses from per-test records, Markdown with reasons, and the CLI's verdict."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from host_harness.report import FAIL, NOT_ON_TARGET, PASS, UNTESTED, build_table, load_clauses, render_markdown

CLAUSES = {"a": "clause a", "b": "clause b", "c": "clause c", "d": "clause d"}


def rec(test: str, outcome: str, clauses: list[str], reason: str = "") -> dict:
    return {"test": test, "outcome": outcome, "clauses": clauses, "reason": reason}


def test_statuses_per_clause_and_board() -> None:
    runs = {
        "x": [rec("t1", "passed", ["a", "b"]), rec("t2", "failed", ["b"], "boom"),
              rec("t3", "skipped", ["c"], "no ipv6")],
        "y": [rec("t1", "passed", ["a", "b"]), rec("t3", "passed", ["c"])],
    }
    table = build_table(CLAUSES, runs)
    assert [table[c]["x"].status for c in "abcd"] == [PASS, FAIL, NOT_ON_TARGET, UNTESTED]
    assert [table[c]["y"].status for c in "abcd"] == [PASS, PASS, PASS, UNTESTED]
    assert table["c"]["x"].reason == "no ipv6"
    md = render_markdown(table, ["x", "y"])
    assert "| `b` | FAIL [1] | pass |" in md
    assert "`c` on x: n/a: no ipv6" in md


def test_one_skipped_and_one_passed_test_means_pass() -> None:
    table = build_table({"a": ""}, {"x": [rec("t1", "skipped", ["a"], "r"), rec("t2", "passed", ["a"])]})
    assert table["a"]["x"].status == PASS


def test_a_test_whose_board_went_away_leaves_its_clauses_untested_with_the_reason() -> None:
    lost = "the link to the board was lost during this test"
    runs = {"x": [rec("t1", "passed", ["a"]), rec("t2", "lost", ["a", "b"], lost), rec("t3", "failed", ["c"], "boom"),
                  rec("t4", "lost", ["c"], lost)]}
    table = build_table(CLAUSES, runs)
    assert [table[c]["x"].status for c in "abc"] == [UNTESTED, UNTESTED, FAIL]  # a real failure still counts
    assert table["b"]["x"].reason == f"t2: {lost}"
    assert f"`b` on x: untested: t2: {lost}" in render_markdown(table, ["x"])


def test_clause_list_is_the_seed_list() -> None:
    clauses = load_clauses()
    assert len(clauses) > 60
    assert "address.no-domain-names" in clauses and all(isinstance(t, str) and t for t in clauses.values())


def test_cli_rejects_unknown_board_in_one_line(tmp_path: Path) -> None:
    r = subprocess.run([sys.executable, "-m", "host_harness.cli", "test", "--board", "no-such-board",
                        "--report-dir", str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2
    assert r.stderr.strip().startswith("usocket-hil: error: unknown board 'no-such-board'")
    assert len(r.stderr.strip().splitlines()) == 1


def test_cli_refuses_firmware_without_port(tmp_path: Path) -> None:
    r = subprocess.run([sys.executable, "-m", "host_harness.cli", "test", "--board", "esp32-devkitc",
                        "--firmware", str(tmp_path / "fw.bin")], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "--firmware needs --port" in r.stderr
