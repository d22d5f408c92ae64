"""Run several boards' suites at once (`usocket-hil test --jobs N`): one pytest process per board, each with
its own log file, one live progress line per board, exit codes collected.

The processes are independent pytest sessions (each brings up its own board, peers and namespaces), so this is
process-level parallelism and nothing else: no queue of tests, no shared state.  Progress is read from each
log's pytest `-q` progress characters.  Ctrl-C stops every suite (each gets one SIGINT and time to clean up, then
SIGKILL; host_harness/children.py) and re-raises; a suite past `deadline` seconds is killed and reported as exit 124.
"""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path

from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from .. import children

PROGRESS_LINE = re.compile(r"^([.FEsxX]+)\s*(\[\s*\d+%\])?\s*$")
TIMEOUT_EXIT = 124
CLEANUP_S = 60  # after Ctrl-C: time each suite gets to stop its boards and peers (then SIGKILL)


def _counts(log: Path) -> tuple[int, int]:
    """(done, failed) from the pytest -q progress characters in `log` so far."""
    try:
        text = log.read_text(errors="replace")
    except OSError:
        return 0, 0
    marks = "".join(m.group(1) for line in text.splitlines() if (m := PROGRESS_LINE.match(line)))
    return len(marks), marks.count("F") + marks.count("E")


def run_suites(commands: dict[str, list[str]], log_dir: Path, *, jobs: int, deadline: float,
               console: Console | None = None) -> dict[str, int]:
    """Run each named command (at most `jobs` at a time); their exit codes by name."""
    log_dir.mkdir(parents=True, exist_ok=True)
    console = console or Console(stderr=True)
    pending = list(commands)
    running: dict[str, tuple[subprocess.Popen[bytes], float]] = {}
    codes: dict[str, int] = {}
    logs = {name: log_dir / f"{name}.log" for name in commands}
    events = None if console.is_terminal else PlainEvents(console)  # a CI log: lines as things happen
    # A finished suite's line shows a dot, not the spinner frozen where it stopped (what a log without a tty keeps).
    with Progress(SpinnerColumn(finished_text="•"), TextColumn("{task.fields[name]}", style="bold"),
                  TextColumn("{task.fields[state]}"), TimeElapsedColumn(), console=console,
                  transient=False, disable=events is not None) as progress:
        tasks = {name: progress.add_task("", name=name, state="waiting", start=False, total=1) for name in commands}
        try:
            while pending or running:
                while pending and len(running) < jobs:
                    name = pending.pop(0)
                    with logs[name].open("wb") as out:
                        running[name] = (children.spawn(commands[name], stdout=out, stderr=subprocess.STDOUT,
                                                        stdin=subprocess.DEVNULL), time.monotonic())
                    progress.start_task(tasks[name])
                    if events is not None:
                        events.started(name)
                for name, (proc, started) in list(running.items()):
                    done, failed = _counts(logs[name])
                    state = f"{done} run, {failed} failed"
                    if proc.poll() is None and time.monotonic() - started > deadline:
                        proc.kill()
                        proc.wait()
                        codes[name] = TIMEOUT_EXIT
                    elif proc.poll() is not None:
                        codes[name] = proc.returncode
                    if name in codes:
                        del running[name]
                        state = f"exit {codes[name]}: " + state
                        progress.stop_task(tasks[name])
                    progress.update(tasks[name], state=state, completed=int(name in codes))
                    if events is not None:
                        events.update(name, done, failed, codes.get(name), time.monotonic() - started)
                time.sleep(0.2)
            console.print(f"suite logs: {log_dir}/<board>.log", markup=False, highlight=False)
        except KeyboardInterrupt:
            children.interrupt([proc for proc, _ in running.values()], CLEANUP_S)
            raise
    return codes


class PlainEvents:
    """The progress view for a log that is no terminal (every CI job's): rich draws its live lines only on a
    terminal, and would print them once at the end.  A line when a suite starts, when its count of failures
    grows, every HEARTBEAT_S while it runs, and when it ends."""

    HEARTBEAT_S = 30.0

    def __init__(self, console: Console) -> None:
        self.console = console
        self.failed: dict[str, int] = {}
        self.said_at: dict[str, float] = {}

    def _say(self, text: str) -> None:
        self.console.print(text, markup=False, highlight=False, soft_wrap=True)

    def started(self, name: str) -> None:
        self.failed[name] = 0
        self.said_at[name] = time.monotonic()
        self._say(f"{name}: started")

    def update(self, name: str, done: int, failed: int, code: int | None, seconds: float) -> None:
        counts = f"{done} run, {failed} failed"
        if code is not None:
            self._say(f"{name}: exit {code}: {counts} ({seconds:.0f} s)")
        elif failed > self.failed[name] or time.monotonic() - self.said_at[name] >= self.HEARTBEAT_S:
            self._say(f"{name}: {counts} ({seconds:.0f} s)")
        else:
            return
        self.failed[name] = failed
        self.said_at[name] = time.monotonic()
