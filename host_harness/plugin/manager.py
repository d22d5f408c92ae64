"""Session state of the plugin: the board definition, the running backend, the current test's log/deadline.

One HilSession per pytest session (config.stash).  Bring-up happens on first use of the `board` fixture,
never at import or configure time, so test runs that do not touch a board pay nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from ..board.steps import BRINGUP_FAILED, StepError
from ..boards import Board
from ..errors import HilError
from . import options
from .backends import Backend
from .logs import SessionLog, TestLog
from .sync import SyncServer

HIL_KEY = pytest.StashKey["HilSession"]()


class TestState:
    """Per-test: output log, deadline, what to redo after the board is reset mid-test."""

    def __init__(self, nodeid: str, timeout: float) -> None:
        self.log = TestLog(nodeid)
        self.timeout = timeout
        self.deadline = time.monotonic() + timeout
        self.after_reset: list[Callable[[], None]] = []
        self.used = False  # the board fixture was set up (a skipped test gets no log file)

    def start_clock(self) -> None:
        self.deadline = time.monotonic() + self.timeout

    def remaining(self) -> float:
        return self.deadline - time.monotonic()

    def on_reset(self) -> None:
        for fn in list(self.after_reset):
            try:
                fn()
            except Exception as exc:  # noqa: BLE001 - must not mask the hang/crash being reported
                self.log.write(f"[usocket-hil] re-setup after reset failed: {exc}\n".encode())


class HilSession:
    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self._board: Board | None = None
        self.backend: Backend | None = None
        self.bringup_error: str | None = None
        self.log_dir = Path(config.getoption("--board-log-dir"))
        if not self.log_dir.is_absolute():
            # Relative to where pytest was started, like --junitxml (rootdir can move: pytest takes the
            # value of `--port /dev/ttyUSB0` for a path when it looks for the rootdir).
            self.log_dir = Path(config.invocation_params.dir) / self.log_dir
        self.session_log = SessionLog(self.log_dir)
        self.needs_reset = False
        self.link_lost: str | None = None  # why the board's link is gone mid-suite: the session stops
        self._sync: SyncServer | None = None

    @property
    def board(self) -> Board:
        if self._board is None:
            self._board = options.resolve_board(self.config)
        return self._board

    def lose_link(self, exc: Exception) -> str:
        """Record that the board's link is gone (a reset could not reach it); the message the session stops
        with (exit LINK_LOST): the tests not run are untested, not one ERROR each."""
        self.link_lost = (f"usocket-hil: link to the board lost on {self.board.name} mid-suite ({exc}); "
                          "the tests not run are untested")
        self.session_log.write(f"[usocket-hil] {self.link_lost}\n".encode())
        return self.link_lost

    # -- bring-up / shutdown ----------------------------------------------------------------------------
    def acquire(self) -> Backend:
        """The running backend, brought up on first use.  A failed bring-up stops the whole session with one
        line and exit status 2 (BRINGUP_FAILED): every later test would fail for the same one cause."""
        if self.backend is not None:
            return self.backend
        if self.bringup_error is not None:
            pytest.exit(self.bringup_error, returncode=BRINGUP_FAILED)
        from .backends import make_backend

        backend = None
        try:
            backend = make_backend(self.config, self.board, log=self.session_log.write)
            self.session_log.write(f"[usocket-hil] bringing up {backend.describe()}\n".encode())
            backend.start()
        except (HilError, OSError) as exc:  # OSError: e.g. a port path that is not a tty, a full disk
            # A StepError already says which board did not come up, at which step.
            said = isinstance(exc, StepError)
            self.bringup_error = (f"usocket-hil: {exc}" if said
                                  else f"usocket-hil: board {self.board.name} did not come up: {exc}")
            if backend is not None:
                try:
                    backend.close()
                except Exception:  # noqa: BLE001 - the bring-up error is the one worth reporting
                    pass
            self.session_log.write(f"[usocket-hil] {self.bringup_error}\n".encode())
            pytest.exit(self.bringup_error, returncode=BRINGUP_FAILED)
        self.backend = backend
        self.needs_reset = False
        return backend

    def sync_server(self) -> SyncServer:
        backend = self.acquire()
        if self._sync is None:
            if not backend.host_ip:
                pytest.fail(f"usocket-hil: board {self.board.name}: no host address for the sync channel "
                            "(pass --peer-host IP)", pytrace=False)
            try:
                self._sync = SyncServer(backend.host_ip, backend.socket_factory)
            except OSError as exc:
                pytest.fail(f"usocket-hil: cannot start the sync server on {backend.host_ip}: {exc}",
                            pytrace=False)
        return self._sync

    def release(self) -> None:
        """End of the board scope: stop the sync server and the board (and everything it started)."""
        sync, self._sync = self._sync, None
        backend, self.backend = self.backend, None
        if sync is not None:
            sync.close()
        if backend is not None:
            self.session_log.write(f"[usocket-hil] shutting down {backend.describe()}\n".encode())
            backend.close()
