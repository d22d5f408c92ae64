"""host_harness/farm/concurrent.py `run_suites`: one live progress line per suite on a terminal, and in a log
without one (CI) a plain line as things happen -- started, a failure, every 30 s, the end -- instead of rich's
lines printed once at the end (trial 5 F25); a finished suite never shows a spinner frozen mid-turn (trial 4)."""

from __future__ import annotations

import io
import sys
from pathlib import Path

from rich.console import Console

from host_harness.farm.concurrent import run_suites

SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"  # rich's default "dots" frames
# a suite that fails one test at once and ends a second later (pytest -q's progress characters)
SLOW_FAIL = "import sys, time; print('.F', flush=True); time.sleep(1.0); sys.exit(1)"


def test_without_a_terminal_each_event_is_a_line_when_it_happens(tmp_path: Path) -> None:
    out = io.StringIO()
    console = Console(file=out, force_terminal=False, width=100)
    commands = {"good": [sys.executable, "-c", "print('PASSED')"], "bad": [sys.executable, "-c", SLOW_FAIL]}
    codes = run_suites(commands, tmp_path / "logs", jobs=2, deadline=60, console=console)
    assert codes == {"good": 0, "bad": 1}
    lines = [ln.strip() for ln in out.getvalue().splitlines() if ln.strip()]
    bad = [ln for ln in lines if ln.startswith("bad:")]
    assert bad[0] == "bad: started" and bad[1].startswith("bad: 2 run, 1 failed ("), bad  # before the end
    assert bad[-1].startswith("bad: exit 1: 2 run, 1 failed"), bad
    assert any(ln.startswith("good: exit 0") for ln in lines), lines
    assert not any(ch in out.getvalue() for ch in SPINNER + "•")  # no rich lines at all
    assert (tmp_path / "logs" / "good.log").read_text().strip() == "PASSED"


def test_on_a_terminal_finished_suites_show_their_exit_and_no_frozen_spinner(tmp_path: Path) -> None:
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=100)
    commands = {"good": [sys.executable, "-c", "print('PASSED')"], "bad": [sys.executable, "-c", "raise SystemExit(3)"]}
    codes = run_suites(commands, tmp_path / "logs", jobs=2, deadline=60, console=console)
    assert codes == {"good": 0, "bad": 3}
    final = {name: next(ln for ln in out.getvalue().splitlines()[::-1] if name in ln and "exit" in ln)
             for name in commands}  # the live view's last drawing of each line
    assert "exit 0" in final["good"] and "exit 3" in final["bad"], final
    for row in final.values():
        assert "•" in row and not any(ch in row.split("•", 1)[1] for ch in SPINNER), row
