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

from esp_pylib.logger import EspLog, EspLogBase

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


class _Dispatcher(EspLogBase):
    """The installed esptool logger: forwards to the calling thread's BoardLog, else to the old logger."""

    def __init__(self, fallback: EspLogBase | None) -> None:
        self._fallback = fallback

    def _target(self) -> BoardLog | None:
        return current()

    def print(self, *args: Any, **kwargs: Any) -> None:
        log = self._target()
        if log is None:
            if self._fallback is not None:
                self._fallback.print(*args, **kwargs)
            return
        sep = kwargs.get("sep", " ")
        end = kwargs.get("end", "\n")
        log.write(sep.join(str(a) for a in args) + end)

    def _tagged(self, tag: str, args: tuple[Any, ...], fallback: Callable[..., None] | None,
                **kwargs: Any) -> None:
        log = self._target()
        if log is None:
            if fallback is not None:
                fallback(*args, **kwargs)
            return
        log.line(f"{tag}{' '.join(str(a) for a in args)}")

    def err(self, *args: Any, suggestion: str | None = None) -> None:
        self._tagged("Error: ", args, self._fallback and self._fallback.err, suggestion=suggestion)

    def warn(self, *args: Any, suggestion: str | None = None) -> None:
        self._tagged("Warning: ", args, self._fallback and self._fallback.warn, suggestion=suggestion)

    # esptool still calls the pre-esp-pylib names in places.
    def error(self, message: str, suggestion: str | None = None) -> None:
        self.err(message, suggestion=suggestion)

    def warning(self, message: str, suggestion: str | None = None) -> None:
        self.warn(message, suggestion=suggestion)

    def note(self, *args: Any) -> None:
        self._tagged("Note: ", args, self._fallback and self._fallback.note)

    def hint(self, *args: Any) -> None:
        self._tagged("Hint: ", args, self._fallback and self._fallback.hint)

    def debug(self, *args: Any) -> None:
        if self._target() is not None:
            self._tagged("Debug: ", args, None)

    def set_verbosity(self, mode: int | str) -> None:
        if self._fallback is not None:
            self._fallback.set_verbosity(mode)

    def progress_bar(self, cur_iter: int, total_iters: int, prefix: str = "", suffix: str = "",
                     bar_length: int = 30) -> None:
        log = self._target()
        if log is None:
            if self._fallback is not None:
                self._fallback.progress_bar(cur_iter, total_iters, prefix, suffix, bar_length)
            return
        log.progress(cur_iter, total_iters, prefix.strip())


_install_lock = threading.Lock()
_installs = 0
_saved: EspLogBase | None = None


@contextmanager
def routed() -> Iterator[None]:
    """Install the dispatcher while the block runs (re-entrant across threads); restore the old logger."""
    global _installs, _saved
    import esptool.logger  # noqa: F401  (makes esptool install its default logger first)

    with _install_lock:
        if _installs == 0:
            _saved = EspLog.instance
            EspLog.instance = _Dispatcher(_saved)
        _installs += 1
    try:
        yield
    finally:
        with _install_lock:
            _installs -= 1
            if _installs == 0:
                EspLog.instance = _saved
                _saved = None
