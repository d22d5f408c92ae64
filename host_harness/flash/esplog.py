"""Per-board routing of esptool's output.

esptool writes everything (text and progress bars) through one process-global logger singleton
(espressif/esptool#1102), so two boards flashed from two threads would interleave on one stream.
Rather than a subprocess per board (which would cost an interpreter start + esptool import each, and
make cancellation and results harder to collect), we install one dispatching logger for the duration
of a flash run; it forwards each call to the BoardLog bound to the *calling thread*. esptool's API
runs entirely in the thread that called it, so the routing is exact.

The dispatcher's progress hook is also our cancellation point: esptool calls it for every block,
so Ctrl-C or a per-board deadline stops a write within one block.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO

from esptool.logger import EsptoolLogger, TemplateLogger

from .errors import FlashCancelled

ProgressHook = Callable[[int, int, str], None]  # (done, total, description)


class BoardLog:
    """One board's log file plus hooks for the live display."""

    def __init__(self, path: Path, *, on_progress: ProgressHook | None = None,
                 on_status: Callable[[str], None] | None = None, deadline: float | None = None,
                 cancel: threading.Event | None = None) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._file: TextIO = path.open("w", encoding="utf-8")
        self._partial = ""  # esptool prints "Connecting..." dots with end=""
        self._on_progress = on_progress
        self._on_status = on_status
        self._deadline = deadline
        self._cancel = cancel
        self._t0 = time.monotonic()

    def write(self, text: str) -> None:
        text = self._partial + text
        *lines, self._partial = text.split("\n")
        for line in lines:
            self._file.write(f"[{time.monotonic() - self._t0:7.2f}] {line.rstrip()}\n")
        self._file.flush()

    def line(self, text: str) -> None:
        self.write(text + "\n")

    def status(self, text: str) -> None:
        """A stage change (connecting, writing, …): logged and shown on the board's progress line."""
        self.line(f"== {text}")
        if self._on_status:
            self._on_status(text)
        self.check()

    def progress(self, done: int, total: int, description: str) -> None:
        self.check()
        if self._on_progress:
            self._on_progress(done, total, description)

    def check(self) -> None:
        """Raise FlashCancelled when Ctrl-C was pressed or this board's deadline passed."""
        if self._cancel is not None and self._cancel.is_set():
            raise FlashCancelled("flash cancelled (Ctrl-C)")
        if self._deadline is not None and time.monotonic() > self._deadline:
            raise FlashCancelled("flash deadline passed")

    def close(self) -> None:
        if self._partial:
            self.write("\n")
        self._file.close()


_bound = threading.local()


def current() -> BoardLog | None:
    return getattr(_bound, "log", None)


@contextmanager
def bind(log: BoardLog) -> Iterator[BoardLog]:
    """Route esptool output from this thread to `log`."""
    previous = current()
    _bound.log = log
    try:
        yield log
    finally:
        _bound.log = previous


class _Dispatcher(TemplateLogger):
    """The installed esptool logger: forwards to the calling thread's BoardLog, else to esptool's own.

    A TemplateLogger, the contract esptool documents for custom loggers (docs/en/esptool/scripting.rst,
    "Redirecting Output with a Custom Logger"); set_logger() adapts it to the esp-pylib interface."""

    def __init__(self, fallback: EsptoolLogger) -> None:
        self._fallback = fallback

    def print(self, *args: Any, **kwargs: Any) -> None:
        log = current()
        if log is None:
            self._fallback.print(*args, **kwargs)
            return
        log.write(kwargs.get("sep", " ").join(str(a) for a in args) + kwargs.get("end", "\n"))

    def note(self, message: str) -> None:
        self._tagged("Note: ", message, self._fallback.note)

    def warning(self, message: str) -> None:
        self._tagged("Warning: ", message, self._fallback.warning)

    def error(self, message: str) -> None:
        self._tagged("Error: ", message, self._fallback.error)

    def debug(self, *args: Any) -> None:
        log = current()
        if log is not None:
            log.line("Debug: " + "".join(str(a) for a in args))
        else:
            self._fallback.debug(*args)

    @staticmethod
    def _tagged(tag: str, message: str, fallback: Callable[[str], None]) -> None:
        log = current()
        if log is None:
            fallback(message)
        else:
            log.line(f"{tag}{message}")

    def stage(self, finish: bool = False) -> None:
        if current() is None:
            self._fallback.stage(finish=finish)  # a BoardLog keeps every line: nothing to collapse

    def progress_bar(self, cur_iter: int, total_iters: int, prefix: str = "", suffix: str = "",
                     bar_length: int = 30) -> None:
        log = current()
        if log is None:
            self._fallback.progress_bar(cur_iter, total_iters, prefix, suffix, bar_length)
        else:
            log.progress(cur_iter, total_iters, prefix.strip())

    def set_verbosity(self, verbosity: str) -> None:
        self._fallback.set_verbosity(verbosity)


_install_lock = threading.Lock()
_installs = 0


@contextmanager
def routed() -> Iterator[None]:
    """Install the dispatcher with esptool's set_logger() while the block runs (re-entrant across
    threads); then esptool's default logger again."""
    global _installs
    default = EsptoolLogger()  # esptool's default logger (a singleton: its constructor returns it)
    with _install_lock:
        if _installs == 0:
            default.set_logger(_Dispatcher(default))
        _installs += 1
    try:
        yield
    finally:
        with _install_lock:
            _installs -= 1
            if _installs == 0:
                default.set_logger(default)
