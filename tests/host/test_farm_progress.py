"""host_harness/farm/concurrent.py `run_suites`: one progress line per suite; in a log without a tty (CI), a
finished suite's line shows its exit status and a dot, not the spinner frozen mid-turn (trial 4)."""

from __future__ import annotations

import io
import sys
from pathlib import Path

from rich.console import Console

from host_harness.farm.concurrent import run_suites

SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"  # rich's default "dots" frames


def test_finished_suites_show_their_exit_and_no_frozen_spinner(tmp_path: Path) -> None:
    out = io.StringIO()
    console = Console(file=out, force_terminal=False, width=100)
    commands = {"good": [sys.executable, "-c", "print('PASSED')"], "bad": [sys.executable, "-c", "raise SystemExit(3)"]}
    codes = run_suites(commands, tmp_path / "logs", jobs=2, deadline=60, console=console)
    assert codes == {"good": 0, "bad": 3}
    lines = [ln for ln in out.getvalue().splitlines() if ln.strip()]
    rows = {name: next(ln for ln in lines if name in ln and "exit" in ln) for name in commands}
    assert "exit 0" in rows["good"] and "exit 3" in rows["bad"], lines
    for row in rows.values():
        assert row.lstrip().startswith("•") and not any(ch in row for ch in SPINNER), row
    assert (tmp_path / "logs" / "good.log").read_text().strip() == "PASSED"
