"""RunningBoard: a board that is up -- what the CLI, the pytest plugin and the bench talk to.

A RunningBoard is made by `open_board()` (board/__init__.py) from a board definition (boards/*.toml) and
where the board is (a port URL, a running virtual board, nothing: start one).  It runs code with a deadline
(ExecResult outcomes), resets through its reset ladder, and knows the network facts host peers need.
Its kind (serial.py, virtual.py, host.py) fills in the bring-up steps and reset rungs (steps.py).
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from pathlib import Path

from ..boards import Board
from ..transport.result import ExecResult
from .steps import BringUp, ResetLadder, StepOutcome

SocketFactory = Callable[..., socket.socket]
Log = Callable[[bytes], None]


class RunningBoard:
    """Base class of the board kinds; `start()` runs the bring-up strategy, `reset()` climbs the ladder."""

    def __init__(self, definition: Board, *, log: Log | None = None) -> None:
        self.definition = definition
        self.ip: str | None = None  # address the host uses to reach the board
        self.host_ip: str | None = None  # address the board uses to reach host peers (None: no peers possible)
        self.socket_factory: SocketFactory = socket.socket  # host-side sockets that reach the board
        self.device_roots: list[Path] = []  # host folders of deployed modules (for tracebacks)
        self.log: Log = log or (lambda b: None)  # bring-up and reset output goes to the session log
        self.bring_up = BringUp(f"board {definition.name}")
        self.ladder = ResetLadder(f"board {definition.name}")
        self.record: list[StepOutcome] = []  # every step and rung run so far, in order

    # -- what every kind provides ---------------------------------------------------------------------
    def exec(self, code: str, timeout: float, *, on_output: Callable[[bytes], None] | None = None,
             catch_exit: bool = False) -> ExecResult:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def describe(self) -> str:
        return self.definition.name

    # -- strategy and ladder --------------------------------------------------------------------------
    def _note(self, outcome: StepOutcome) -> None:
        self.record.append(outcome)
        self.log(f"[usocket-hil] {self.describe()}: {outcome.line()}\n".encode())

    def start(self) -> RunningBoard:
        """Bring the board up (StepError names the step that failed); on failure everything is closed."""
        self.bring_up.board = self.ladder.board = self.describe()
        try:
            self.bring_up.run(self._note)
        except BaseException:
            self.close()
            raise
        return self

    def reset(self, level: str = "soft", *, only: bool = False) -> StepOutcome:
        """Reset from rung `level` up the ladder (only that rung with `only`), then bring the board back
        online (and redeploy after a power cycle).  StepError when no rung brought it back."""
        worked = self.ladder.climb(self._note, start=level, stop=level if only else None)
        self.bring_up.run(self._note, start="deployed" if worked.step == "power" else "online")
        return worked

    def install_ca(self, pem: str | bytes) -> bool:
        """Put a TLS CA where the board's verification reads it, if the REPL cannot (a WiPy's network
        processor store, network.py); False: the code on the board writes it itself."""
        return False

    def ensure_up(self) -> str | None:
        """Bring back a board found dead between uses (a kind that can tell); what was done, or None."""
        return None

    def soft_reset(self) -> None:
        self.reset("soft")

    def hard_reset(self) -> None:
        self.reset("hard")

    def __enter__(self) -> RunningBoard:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
