"""Flash one board definition onto several ports at once, each with its own progress line and log file.

Threads, not processes: flashing is I/O-bound, and esplog routes esptool's global logger per thread
(see esplog.py for why that beats a subprocess per board). All offline checks (board file, image,
duplicate ports) run before any thread starts, so a bad input writes nothing anywhere.
"""

from __future__ import annotations

import dataclasses
import re
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, Task, TextColumn, TimeElapsedColumn
from rich.text import Text

from ..boards import Board
from ..errors import HilError
from . import esplog
from .bootcheck import BOOTING_STATES
from .errors import PortError
from .identity import IdentityResult, identify, skip_reason_after_flash
from .image import FirmwareImage, flash_layout
from .ports import SOCKET_NOTE, is_socket
from .summary import progress_stage
from .writer import FlashOptions, FlashResult, flash_port


class _SentColumn(DownloadColumn):
    """Bytes sent so far; blank for a board that sent none (a skipped write, a verify, an early failure)."""

    def render(self, task: Task) -> Text:
        return super().render(task) if task.fields.get("sent") and task.completed else Text("")


def log_name(board: Board, url: str) -> str:
    """A file name per (board, port): /dev/ttyUSB0 → esp32-devkitc-dev-ttyUSB0.log."""
    slug = re.sub(r"[^A-Za-z0-9]+", "-", url).strip("-")
    return f"{board.name}-{slug}.log"


def flash_boards(board: Board, ports: Sequence[str], image: FirmwareImage | None, *,
                 options: FlashOptions | None = None, log_dir: Path, identity: bool = True,
                 identity_only: bool = False, identity_timeout: float = 15.0,
                 console: Console | None = None,
                 progress_hook: Callable[[str, int, int], None] | None = None) -> list[FlashResult]:
    """Flash `image` to every port in parallel; returns one FlashResult per port, in order.

    Failures of single boards are in their results (outcome 'failed'); only bad input raises.
    `progress_hook(url, done, total)` is called from each board's worker thread as bytes go out.
    """
    options = options or FlashOptions()
    if not ports:
        raise PortError(f"no port given for board '{board.name}'")
    duplicates = sorted({p for p in ports if list(ports).count(p) > 1})
    if duplicates:
        raise PortError(f"port given twice: {', '.join(duplicates)}")
    if not identity_only:
        flash_layout(board)
        if image is None:
            raise HilError("no firmware image given")
    console = console or Console(stderr=True)
    if not identity_only:
        for url in ports:
            if is_socket(url):
                console.print(f"note: {url}: {SOCKET_NOTE}", markup=False, highlight=False, soft_wrap=True)
    cancel = threading.Event()
    results: list[FlashResult | None] = [None] * len(ports)
    with esplog.routed(), Progress(
        TextColumn("{task.fields[label]}", style="bold"),
        BarColumn(bar_width=24),
        _SentColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[stage]}"),
        console=console,
        transient=False,
    ) as progress:
        tasks = [progress.add_task("", total=None, label=f"{board.name} {url}", stage="waiting", sent=True)
                 for url in ports]

        def work(i: int) -> None:
            url = ports[i]
            task = tasks[i]

            def on_progress(done: int, total: int, _desc: str) -> None:
                progress.update(task, completed=done, total=total)
                if progress_hook is not None:
                    progress_hook(url, done, total)

            def on_status(text: str) -> None:
                progress.update(task, stage=text)

            log = esplog.BoardLog(log_dir / log_name(board, url), on_progress=on_progress,
                                  on_status=on_status, cancel=cancel,
                                  deadline=time.monotonic() + options.deadline_s)
            started = time.monotonic()
            try:
                with esplog.bind(log):
                    if identity_only:
                        result = FlashResult(board=board.name, port=url, outcome="checked",
                                             log_path=str(log.path))
                        result.attempts.append("identity")
                    else:
                        result = flash_port(board, url, image, options, log)
                    booted = result.boot is None or result.boot["status"] in BOOTING_STATES
                    if identity_only or (identity and booted and result.outcome in ("written", "skipped")):
                        result.identity = dataclasses.asdict(
                            _identity_step(board, url, log, identity_timeout, forced=identity_only))
            except HilError as exc:
                log.line(f"FAILED: {exc}")
                result = FlashResult(board=board.name, port=url, error=str(exc), log_path=str(log.path))
            except Exception as exc:  # noqa: BLE001  (a bug must not hide the other boards' results)
                log.write(traceback.format_exc())
                result = FlashResult(board=board.name, port=url, log_path=str(log.path),
                                     error=f"{board.name} on {url}: unexpected {type(exc).__name__}: {exc} "
                                           f"(traceback in {log.path})")
            finally:
                log.close()
            result.duration = time.monotonic() - started
            results[i] = result
            if result.outcome in ("skipped", "verified", "checked"):
                progress.update(task, total=1, completed=1, sent=False)  # nothing transferred; done
            progress.update(task, stage=progress_stage(result))

        with ThreadPoolExecutor(max_workers=len(ports), thread_name_prefix="flash") as pool:
            futures = [pool.submit(work, i) for i in range(len(ports))]
            try:
                for future in futures:
                    future.result()
            except KeyboardInterrupt:
                cancel.set()  # workers stop at their next esptool progress/status call
                for future in futures:
                    future.result(timeout=60)
                raise
    return [r for r in results if r is not None]


def _identity_step(board: Board, url: str, log: esplog.BoardLog, timeout: float, *,
                   forced: bool) -> IdentityResult:
    reason = None if forced else skip_reason_after_flash(url)
    if reason:
        log.line(f"identity check skipped: {reason}")
        return IdentityResult("skipped", reason)
    log.status("checking identity over the REPL")
    result = identify(board, url, timeout=timeout)
    log.line(f"identity {result.status}: {result.reason}")
    return result
