"""Virtual boards: the real MicroPython unix interpreter behind a pty, driven by the real mpremote.

`VirtualBoard` starts a supervisor process (host_harness/virtual/supervisor.py) and waits until its
state file says the board is up.  With `network=True` this process creates the namespace pair (so
`netns.host_socket` works here, root or not) and the supervisor runs the interpreter inside it.
"""

from __future__ import annotations

import atexit
import itertools
import os
import re
from pathlib import Path
from typing import Any

from ..boards import Board, load_board
from ..errors import HilError
from . import manager

__all__ = ["VirtualBoard"]

_counter = itertools.count(1)
EPHEMERAL_NAME = re.compile(r"^t\d+-\d+$")  # unnamed VirtualBoards: t<owner pid>-<n>, private to their owner


class VirtualBoard:
    def __init__(self, board: Board | str = "virtual-unix", *, network: bool = True, tcp: bool = False,
                 flash_dir: Path | None = None, name: str | None = None, state_dir: Path | None = None,
                 model_dir: Path | None = None, start_timeout: float = 20.0) -> None:
        self.board = load_board(board) if isinstance(board, str) else board
        if not self.board.is_virtual:
            raise HilError(f"board '{self.board.name}' is kind '{self.board.kind}', not a virtual board")
        self.network = network
        self.tcp = tcp
        # Unnamed boards are private to their owner (t<pid>-<n>).  Named or not, the log, the default flash
        # folder and its NWP store live as long as the board (manager.py): a fresh flash on start, gone on close().
        self.ephemeral = name is None
        self.name = manager.check_name(name) if name else f"t{os.getpid()}-{next(_counter)}"
        self.state_dir = Path(state_dir) if state_dir else manager.state_dir()
        self._paths = manager.paths(self.name, self.state_dir)
        self._own_flash = flash_dir is None
        self.flash_dir = Path(flash_dir).resolve() if flash_dir else self._paths["flash"]
        self.model_dir = model_dir
        self.start_timeout = start_timeout
        self.netns: Any = None  # host_harness.netns.NetnsHandle when network=True
        self.port_url: str | None = None
        self.socket_url: str | None = None
        self.board_ip: str | None = None
        self.host_ip: str | None = None
        self.pid: int | None = None
        self._proc = None
        self._started = False

    # -- life cycle -------------------------------------------------------------------------------

    def start(self) -> VirtualBoard:
        if self._proc is not None:
            return self
        atexit.register(self.close)
        try:
            if self.network:
                from ..netns import create_pair, netns_support

                ok, why = netns_support()
                if not ok:
                    raise HilError(f"virtual board network needs network namespaces: {why} "
                                   "(or start it with network=False / --no-network)")
                self.netns = create_pair(owner_pid=os.getpid())
            self._launch(fresh_flash=True)
        except BaseException:
            self.close()
            raise
        return self

    def _launch(self, fresh_flash: bool = False) -> None:
        netns_argv = netns_info = None
        if self.netns is not None:
            netns_argv = self.netns.board_argv([])
            netns_info = {"names": list(self.netns.names), "board_ip": self.netns.board_ip,
                          "host_ip": self.netns.host_ip, "owner": os.getpid()}
        self._proc = manager.launch(
            self.board, self.name, directory=self.state_dir, flash_dir=self.flash_dir, tcp=self.tcp,
            netns_argv=netns_argv, netns_info=netns_info, parent_pid=os.getpid(),
            model_dir=self.model_dir, fresh_flash=fresh_flash,
        )
        self._started = True  # from here on the board's files are ours to remove (close)
        state = manager.wait_ready(self._proc, self.name, self.state_dir, self.start_timeout)
        self.pid = self._proc.pid
        self.port_url = state["port_url"]
        self.socket_url = state.get("socket_url")
        self.board_ip = state.get("board_ip")
        self.host_ip = state.get("host_ip")

    def alive(self) -> bool:
        """The supervisor (and so the board) is running."""
        return self._proc is not None and self._proc.poll() is None

    def exit_reason(self) -> str:
        """How the supervisor ended (for the message that says the board was restarted)."""
        rc = None if self._proc is None else self._proc.poll()
        if rc is None:
            return "running"
        return f"killed by signal {-rc}" if rc < 0 else f"exit status {rc}"

    def restart(self) -> None:
        """Power-cycle: start a new supervisor with the same name, flash folder and namespace pair (so the
        board keeps its files and IP); for a supervisor that died or stopped answering."""
        self._stop_supervisor()
        self._launch()

    def _stop_supervisor(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            manager.stop_pid(proc.pid, self.name, self.state_dir)
            try:
                proc.wait(5)
            except Exception:  # noqa: BLE001  (already reaped by stop_pid)
                pass

    def close(self) -> None:
        """Stop the supervisor (and so the interpreter), the namespaces, and ephemeral files.  Idempotent."""
        self._stop_supervisor()
        netns, self.netns = self.netns, None
        if netns is not None:
            netns.close()
        if self._started:
            manager.remove_board_files(self.name, self.state_dir, self.flash_dir)
        atexit.unregister(self.close)

    def __enter__(self) -> VirtualBoard:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- queries and actions ----------------------------------------------------------------------

    @property
    def log_path(self) -> Path:
        return self._paths["log"]

    def state(self) -> dict[str, Any]:
        """The supervisor's current state file (crash count, interpreter pid, ...)."""
        if self._proc is None:
            raise HilError(f"virtual board '{self.name}' is not running")
        data = manager.read_state(self.name, self.state_dir)
        if data is None:
            raise HilError(f"virtual board '{self.name}' has no state file (supervisor gone?)")
        return data

    @property
    def board_pid(self) -> int | None:
        return self.state().get("board_pid")

    def crash_count(self) -> int:
        return int(self.state().get("crash_count", 0))

    def hard_reset(self, timeout: float = 10.0) -> None:
        """Restart the interpreter (a fresh VM in friendly mode, as after power-cycling)."""
        if self.pid is None:
            raise HilError(f"virtual board '{self.name}' is not running")
        manager.hard_reset(self.name, self.state_dir, timeout)

    def __repr__(self) -> str:
        return f"VirtualBoard({self.board.name!r}, name={self.name!r}, port={self.port_url!r})"
