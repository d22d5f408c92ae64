"""What the plugin needs from any board: run code with a deadline, reset, and the network facts peers need.

Every backend returns host_harness.transport's ExecResult (outcomes ok, error, hung, crashed, transport),
so `board.exec`/`board.call` behave identically on a virtual board, a serial board and CPython.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ...boards import Board

if TYPE_CHECKING:  # the transport pulls in mpremote: only load it when a board is brought up
    from ...transport.result import ExecResult

SocketFactory = Callable[..., socket.socket]


@dataclass
class Backend:
    """Base class; subclasses fill in start/exec/soft_reset/hard_reset/close."""

    board: Board
    ip: str | None = None  # address the host uses to reach the board
    host_ip: str | None = None  # address the board uses to reach host peers (None: no peers possible)
    socket_factory: SocketFactory = field(default=socket.socket)  # host-side sockets that reach the board
    device_roots: list[Path] = field(default_factory=list)  # host folders of deployed modules (tracebacks)
    log: Callable[[bytes], None] = field(default=lambda b: None)  # bring-up output goes to the session log

    def start(self) -> None:
        raise NotImplementedError

    def exec(self, code: str, timeout: float) -> ExecResult:
        raise NotImplementedError

    def soft_reset(self) -> None:
        raise NotImplementedError

    def hard_reset(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def describe(self) -> str:
        return self.board.name
