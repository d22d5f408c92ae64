"""docs/fidelity.md stays a ledger: every row has an upstream source, a verdict, and a pinning test that exists
(rows that are "not modelled" or owned elsewhere excepted)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LEDGER = ROOT / "docs" / "fidelity.md"
VERDICTS = ("faithful", "approximated", "not modelled", "owned by")


def _rows() -> list[list[str]]:
    rows = []
    for line in LEDGER.read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 6 and re.fullmatch(r"[IEWC]\d+", cells[0]):
            rows.append(cells)
    return rows


def _test_names() -> set[str]:
    names: set[str] = set()
    for path in (ROOT / "tests" / "host").glob("test_*.py"):
        names.update(re.findall(r"^def (test_\w+)", path.read_text(), re.M))
    return names


def test_ledger_has_rows_for_every_target() -> None:
    ids = [r[0] for r in _rows()]
    assert len(ids) == len(set(ids)), "duplicate row ids"
    for prefix in "IEWC":
        assert sum(i.startswith(prefix) for i in ids) >= 5, prefix


def test_every_row_has_a_verdict_and_a_pinning_test() -> None:
    known = _test_names()
    for row_id, _what, upstream, _model, pinned, verdict in _rows():
        assert verdict.startswith(VERDICTS), f"{row_id}: verdict {verdict[:40]!r}"
        if verdict.startswith(("not modelled", "owned by")):
            continue
        assert upstream not in ("", "—"), f"{row_id}: no upstream source"
        named = set(re.findall(r"test_\w+", pinned))
        assert named & known, f"{row_id}: none of {sorted(named)} is a test in tests/host"
