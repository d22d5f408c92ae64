"""virtual kind: a virtual board (host_harness.virtual: the MicroPython unix interpreter behind a pty, in its
own namespace pair), driven through the same session, deploy and steps as a serial board.

Two ways to have one:
* owned (`VirtualKind`): this process starts it (the pytest plugin's default) and stops it at close.  Its
  extra rungs: hard = restart the interpreter (SIGUSR1 to the supervisor), power = restart the supervisor
  itself (same flash folder and namespace pair, so files and IPs survive).  A supervisor found dead after an
  exec is restarted at once, and the exec's outcome says so.
* attached (`AttachedVirtual`): one already running (`usocket-hil virtual up`), found by id, definition or
  port (find.py).  Its namespace pair is used, never deleted; its board file is its identity.
"""

from __future__ import annotations

from ..boards import Board, load_board
from ..errors import HilError
from ..transport.result import ExecResult
from .find import RunningVirtual, check_same_target
from .serial import SerialBoard

POWER_DEADLINE_S = 30.0


class VirtualKind(SerialBoard):
    """A virtual board this process starts and owns."""

    def __init__(self, definition: Board, *, network: bool | None = None, **kwargs) -> None:
        kwargs.setdefault("check_target", False)  # its board file is its identity
        super().__init__(definition, "", **kwargs)
        self.network = network
        self.vb = None
        self.ladder.add("power", self._power, POWER_DEADLINE_S)

    def describe(self) -> str:
        return f"{self.definition.name} (virtual)"

    def hard_reset_action(self):
        return self.vb.hard_reset

    def _boot(self, deadline: float) -> str:
        from ..netns import netns_support
        from ..virtual import VirtualBoard

        if self.vb is None:
            network = self.network
            if network is None:
                network = self.definition.has("network") and netns_support()[0]
            self.vb = VirtualBoard(self.definition, network=network, start_timeout=deadline)
            self.vb.start()
            if network:
                self.ip, self.host_ip = self.vb.board_ip, self.vb.host_ip
                self.socket_factory = self.vb.netns.host_socket
            elif self.definition.has("network"):
                # No namespaces: the interpreter runs in this namespace; board and peers meet on loopback.
                self.ip = self.host_ip = "127.0.0.1"
        self.url = self.vb.port_url
        self.open_session(deadline)
        return f"virtual board {self.vb.name} on {self.url}"

    def _hard(self, deadline: float) -> str:
        self.session.hard_reset(deadline)
        return "interpreter restarted (power-on boot)"

    def _power(self, deadline: float) -> str:
        why = self.vb.exit_reason()
        self.vb.restart()
        self.url = self.vb.port_url
        self.open_session(deadline)
        return f"supervisor restarted (it was {why})"

    def ensure_up(self) -> str | None:
        """The supervisor died since the last use (killed, crashed): restart it rather than let every later
        test fail at set-up."""
        if self.vb is None or self.vb.alive():
            return None
        why = self.vb.exit_reason()
        self.reset("power", only=True)
        return f"the virtual board's supervisor died ({why}); restarted it"

    def exec(self, code: str, timeout: float, *, on_output=None, catch_exit: bool = False) -> ExecResult:
        res = super().exec(code, timeout, on_output=on_output, catch_exit=catch_exit)
        if res.outcome in ("transport", "crashed") and self.vb is not None and not self.vb.alive():
            try:
                note = self.ensure_up()
            except HilError as exc:
                return res.with_note(f"the virtual board's supervisor died ({self.vb.exit_reason()}) and "
                                     f"could not be restarted: {exc}", recovered_by=None)
            return res.with_note(note or "", outcome="crashed", recovered_by="power-cycle")
        return res

    def close(self) -> None:
        try:
            super().close()
        finally:
            if self.vb is not None:
                vb, self.vb = self.vb, None
                vb.close()


def start_detached(definition: Board, *, network: bool | None = None, flash_dir=None,
                   start_timeout: float = POWER_DEADLINE_S):
    """A virtual board this process starts and owns (close() it), reached only through its port: other
    processes attach to it (open_board(definition, vb.port_url)), e.g. the workers of a pool
    (plugin/pool.py).  `flash_dir`: start on that folder (a copy of an identical board's flash)."""
    from ..netns import netns_support
    from ..virtual import VirtualBoard

    if network is None:
        network = definition.has("network") and netns_support()[0]
    return VirtualBoard(definition, network=network, flash_dir=flash_dir, start_timeout=start_timeout)


class AttachedVirtual(SerialBoard):
    """A virtual board some other process started; we use it and leave it running."""

    def __init__(self, running: RunningVirtual, definition: Board | None = None, *, url: str | None = None,
                 **kwargs) -> None:
        definition = definition or load_board(running.definition)
        kwargs.setdefault("check_target", False)
        super().__init__(definition, url or running.port_url, **kwargs)
        self.running = running
        check_same_target(running, definition)
        if running.board_ip and self.ip is None:
            self.ip = running.board_ip
        if running.host_ip and self.host_ip is None:
            self.host_ip = running.host_ip
            self.socket_factory = _host_socket_factory(running)

    def describe(self) -> str:
        return f"{self.definition.name} on {self.url}"

    def hard_reset_action(self):
        from pathlib import Path

        from ..virtual import manager

        return lambda: manager.hard_reset(self.running.name, Path(self.running.state_dir))

    def _hard(self, deadline: float) -> str:
        self.session.hard_reset(deadline)
        return f"interpreter of {self.running.name} restarted"


def _host_socket_factory(running: RunningVirtual):
    """Sockets inside the board's host-side namespace: where its host IP lives (not in ours)."""
    from ..netns import NetnsPair

    names = [n for n in running.netns if n.endswith("-h")]
    if not names:
        def refuse(*_a, **_k):
            raise HilError(f"virtual board {running.name} runs in anonymous (unprivileged) namespaces this "
                           f"process cannot enter: start it as root, or with --no-network and pass "
                           f"--peer-host 127.0.0.1")
        return refuse
    return NetnsPair.attach(names[0]).host_socket
