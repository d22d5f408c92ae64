"""Conformance report: clause × target, from the per-board result files the device suite writes.

Each run of tests/device on one board writes `clauses-<board>.json`: a list of records
{"test": nodeid, "outcome": "passed"|"failed"|"skipped"|"lost", "clauses": [...], "reason": str}.
A clause passes on a target when every test covering it passed; it fails when any failed; it is
"not on this target" when its tests were skipped (the reason is the skip reason); "untested" otherwise,
also when a test covering it lost its board ("lost": the link went mid-test, a farm's fault, not the firmware's;
the reason says so).
"""

from __future__ import annotations

import json
import runpy
from dataclasses import dataclass
from pathlib import Path

from .resources import device_tests_dir

PASS, FAIL, NOT_ON_TARGET, UNTESTED = "pass", "FAIL", "n/a", "untested"


@dataclass(frozen=True)
class ClauseResult:
    status: str
    reason: str = ""


def load_clauses(path: Path | None = None) -> dict[str, str]:
    """Clause id → seed text, from tests/device/clauses.py (the one list built from the seed)."""
    path = path or device_tests_dir() / "clauses.py"
    raw = runpy.run_path(str(path))["CLAUSES"]
    if isinstance(raw, dict):
        return dict(raw)
    return {entry[0]: entry[-1] for entry in raw}  # (id, kind, text) rows


def load_results(path: Path) -> list[dict]:
    return json.loads(path.read_text()) if path.exists() else []


def clause_status(clause: str, records: list[dict]) -> ClauseResult:
    covering = [r for r in records if clause in r.get("clauses", ())]
    if not covering:
        return ClauseResult(UNTESTED)
    failed = [r for r in covering if r["outcome"] == "failed"]
    if failed:
        return ClauseResult(FAIL, failed[0]["test"])
    lost = [r for r in covering if r["outcome"] == "lost"]
    if lost:
        return ClauseResult(UNTESTED, f"{lost[0]['test']}: {lost[0].get('reason', '')}")
    if any(r["outcome"] == "passed" for r in covering):
        return ClauseResult(PASS)
    return ClauseResult(NOT_ON_TARGET, covering[0].get("reason", ""))


def build_table(clauses: dict[str, str], runs: dict[str, list[dict]]) -> dict[str, dict[str, ClauseResult]]:
    return {cid: {board: clause_status(cid, recs) for board, recs in runs.items()} for cid in clauses}


def render_markdown(table: dict[str, dict[str, ClauseResult]], boards: list[str]) -> str:
    lines = ["| clause | " + " | ".join(boards) + " |", "|---|" + "---|" * len(boards)]
    notes: list[str] = []
    for cid, per_board in table.items():
        cells = []
        for b in boards:
            r = per_board[b]
            cell = r.status
            if r.status in (NOT_ON_TARGET, FAIL, UNTESTED) and r.reason:
                notes.append(f"- `{cid}` on {b}: {r.status}: {r.reason}")
                cell += f" [{len(notes)}]"
            cells.append(cell)
        lines.append(f"| `{cid}` | " + " | ".join(cells) + " |")
    if notes:
        lines += ["", "Notes:", *[f"{i}. {n[2:]}" for i, n in enumerate(notes, 1)]]
    return "\n".join(lines) + "\n"


def summary_counts(table: dict[str, dict[str, ClauseResult]], board: str) -> dict[str, int]:
    counts = {PASS: 0, FAIL: 0, NOT_ON_TARGET: 0, UNTESTED: 0}
    for per_board in table.values():
        counts[per_board[board].status] += 1
    return counts
