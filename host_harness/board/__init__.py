"""The running-board layer: `open_board()` turns a board definition and a place into a board that is up.

    definition (boards/*.toml, host_harness.boards)      what the board is: target, mpy arch, flash layout
      + where it is: a port URL | a running virtual board | nothing (start one)
      -> a kind (a RunningBoard subclass)                 how to drive it
           serial.py   any pyserial URL (device, pty, socket://, rfc2217://, transport/urls/ schemes)
           network.py  a network REPL URL (wipy://, webrepl://): FTP files/CA/firmware on a WiPy, peers in
                       the URL's namespace
           virtual.py  a virtual board this process starts (owned) or one already running (attached)
           host.py     CPython as the target (kind "host")
      place.py: where it is can also be a labgrid place (acquire -> its RFC2217 URL -> open_board -> release)
      -> steps.py: the bring-up strategy (off -> flashed -> booted -> deployed -> online) and the reset
         ladder (interrupt -> soft -> hard -> power); each kind adds the steps and rungs it can do.

The CLI (exec, repl, deploy, test), the pytest plugin (its backends are this) and the bench all open boards
here; nothing above this layer opens a port itself.  A new transport is a URL scheme (transport/urls/); a new
way to reach or power a board is a kind that adds its steps and rungs.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from ..boards import Board, load_board
from ..errors import HilError
from .base import RunningBoard
from .find import RunningVirtual, by_name, by_port
from .network import is_network_url
from .steps import BRING_UP_STATES, RESET_RUNGS, StepError, StepOutcome

__all__ = ["BRING_UP_STATES", "RESET_RUNGS", "RunningBoard", "RunningVirtual", "StepError", "StepOutcome",
           "loopback_peer_host", "open_board", "resolve"]


def loopback_peer_host(board_name: str, port: str | None) -> str | None:
    """A virtual board reached through a loopback port (the virtual ESP32's RFC2217 bridge, ser2net on this
    machine) runs in this machine's network namespace: board and peers meet on 127.0.0.1."""
    if not port or not load_board(board_name).is_virtual:
        return None
    host = port.split("://", 1)[-1].split(":", 1)[0]
    return "127.0.0.1" if "://" in port and host in ("127.0.0.1", "localhost") else None


def resolve(name: str | None, port: str | None) -> tuple[Board | None, RunningVirtual | None]:
    """The board definition and, if there is one, the running virtual board that `--board NAME` and/or
    `--port URL` name.  NAME may be a board file or a running virtual board's id (vb1).  The definition is
    None for a bare port nobody named (a real board: its facts tell, board/identify.py)."""
    running = by_port(port) if port else None
    if name is None:
        return (load_board(running.definition) if running is not None else None), running
    if port is None:
        found = by_name(name)
        if found is not None:
            return load_board(found.definition), found
    definition = load_board(name)
    return definition, running


def open_board(definition: Board | str, port: str | None = None, *, running: RunningVirtual | None = None,
               start_virtual: bool = True, extras: Iterable[Path] = (), verify: Iterable[str] | None = None,
               deploy: bool = True, roots: Iterable[Path] = (), peer_host: str | None = None,
               board_ip: str | None = None, wlan: tuple[str, str] | None = None, firmware: Path | None = None,
               online: bool = True, check_target: bool = True, enter_raw: bool = True,
               open_timeout: float = 5.0, log=None, start: bool = True,
               flash_log_dir: Path | None = None) -> RunningBoard:
    """A running board for `definition` at `port` (or `running`), brought up unless `start=False`.

    No port and a virtual definition: a running virtual board of that definition is used if `running` names
    it, else (`start_virtual`) a new one is started and owned by the returned board.  A port that a running
    virtual board serves is attached with its namespace (board IP, host IP, host-side sockets).
    Bring-up failures raise StepError naming the step (one line); nothing is left open.
    """
    if isinstance(definition, str):
        definition = load_board(definition)
    common = dict(extras=extras, log=log)
    if definition.kind == "host":
        if port:
            raise HilError(f"board {definition.name} runs on this host: it has no port")
        from .host import HostBoard

        board: RunningBoard = HostBoard(definition, roots=roots, **common)
    else:
        serial_args = dict(verify=verify, deploy=deploy, online=online, peer_host=peer_host, board_ip=board_ip,
                           wlan=wlan, firmware=firmware, open_timeout=open_timeout, enter_raw=enter_raw,
                           flash_log_dir=flash_log_dir, **common)
        if running is None and port:
            running = by_port(port)
        if is_network_url(port):
            from .network import NetworkBoard

            board = NetworkBoard(definition, port, running=running, check_target=check_target, **serial_args)
        elif running is not None:
            from .virtual import AttachedVirtual

            board = AttachedVirtual(running, definition, url=port, **serial_args)
        elif port:
            from .serial import SerialBoard

            board = SerialBoard(definition, port, check_target=check_target, **serial_args)
        elif definition.is_virtual and start_virtual:
            from .virtual import VirtualKind

            board = VirtualKind(definition, **serial_args)
        elif definition.is_virtual:
            raise HilError(f"no running virtual board '{definition.name}': start one with "
                           f"`usocket-hil virtual up --board {definition.name}`, or pass --port URL")
        else:
            raise HilError(f"board {definition.name} is a real board: pass --port URL (e.g. /dev/ttyUSB0, "
                           "rfc2217://HOST:PORT; `usocket-hil boards` lists attached ports)")
        board.device_roots = list(roots)
    return board.start() if start else board
