"""The host half of a virtual board: owns the pty (and optional TCP port) and keeps the interpreter running.

Run as `python -m host_harness.virtual.supervisor --name NAME ...` (VirtualBoard and `usocket-hil virtual up`
do that).  Why a separate process: the board must outlive one mpremote invocation, survive soft resets
(each one a fresh interpreter) and be killable as a unit.

This module is the process: set-up of the fds, the state file, signals and the main loop.  The serial line
(pty/TCP <-> the interpreter's pipes, Ctrl-C relay) is linemux.py; the interpreter's life cycle (spawn,
soft/hard reset, crash restart) is interpreter.py.  The stdin pipe is created once and survives interpreter
restarts, so no byte the host sent is lost across a soft reset.  A board whose firmware serves the network
(services/: WiPy telnet + FTP, ESP32 WebREPL) gets them started here, attached to the console through the
TCP listener; interpreter.py tells them of every reset.
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import errno
import json
import os
import pty
import signal
import socket
import subprocess
import sys
import time
import tty
from pathlib import Path
from typing import Any

from ..boards import Board, load_board
from ..errors import HilError
from ..micropython import find_micropython
from .interpreter import InterpreterLife, _log
from .linemux import SPAWN_GRACE_S, LineMux

STATE_KIND = "usocket-hil-virtual"


def write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2))
    os.replace(tmp, path)


class Supervisor(LineMux, InterpreterLife):
    def __init__(self, board: Board, *, name: str, state_dir: Path, flash_dir: Path, tcp: bool,
                 network: bool, netns_argv: list[str] | None, netns_info: dict | None,
                 parent_pid: int | None, model_dir: Path | None, micropython: str) -> None:
        self.board = board
        self.name = name
        self.state_dir = state_dir
        self.flash_dir = flash_dir
        self.want_tcp = tcp
        self.want_network = network
        self.netns_argv = netns_argv or []
        self.netns_info = netns_info
        self.parent_pid = parent_pid
        self.orphaned = False  # its parent died: nobody else removes its files
        self.model_dir = model_dir
        self.micropython = micropython
        self.state_path = state_dir / f"{name}.json"
        self.link_path = state_dir / f"{name}.tty"
        self.proc: subprocess.Popen | None = None
        self.spawned_at = 0.0
        self.armed = False
        self.pending_sigint = False
        self.expected_exit: str | None = None  # "hard" or "shutdown" while we kill the interpreter
        self.respawn_at: float | None = None
        self.respawn_mode = "friendly"
        self.inbuf = bytearray()  # host -> board, waiting for room in the stdin pipe
        self.pty_out = bytearray()
        self.tcp_out = bytearray()
        self.tail: collections.deque[bytes] = collections.deque(maxlen=64)
        self.crash_times: list[float] = []
        self.counters = {"crash_count": 0, "soft_resets": 0, "hard_resets": 0}
        self.stop = False
        self.hard_reset_requested = False
        self.pair = None
        self.listener: socket.socket | None = None
        self.client: socket.socket | None = None
        self.master = self.slave = -1
        self.pipes: dict[str, tuple[int, int]] = {}
        self.created: list[Path] = []  # files we made (and so remove); never another board's
        self.services = None  # services.ServiceHost: the firmware's network servers (telnet, FTP, WebREPL)

    # -- set-up ---------------------------------------------------------------------------------

    def setup(self) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.flash_dir.mkdir(parents=True, exist_ok=True)
        if self.state_path.exists() or self.link_path.is_symlink():
            raise HilError(f"virtual board '{self.name}' already exists ({self.state_path}); "
                           f"stop it with `usocket-hil virtual down {self.name}`")
        self.master, self.slave = pty.openpty()
        tty.setraw(self.slave)
        os.set_blocking(self.master, False)
        os.symlink(os.ttyname(self.slave), self.link_path)
        self.created += [self.link_path, self.state_path,
                         self.state_path.with_name(self.state_path.name + ".tmp")]
        for key in ("stdin", "stdout", "ctl"):
            self.pipes[key] = os.pipe()
        os.set_blocking(self.pipes["stdin"][1], False)
        os.set_blocking(self.pipes["stdout"][0], False)
        os.set_blocking(self.pipes["ctl"][0], False)
        for fd in (self.pipes["stdin"][0], self.pipes["stdout"][1], self.pipes["ctl"][1]):
            os.set_inheritable(fd, False)  # Popen passes them explicitly
        from .services import offered

        # Network services (services/) attach to the console through this listener.
        if self.want_tcp or ((self.want_network or self.netns_argv) and offered(self.board)):
            self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self.listener.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # a console: no Nagle delays
            self.listener.bind(("127.0.0.1", 0))
            self.listener.listen(1)
            self.listener.setblocking(False)
        if self.want_network and not self.netns_argv:
            from ..netns import create_pair, netns_support

            ok, why = netns_support()
            if not ok:
                raise HilError(f"virtual board network needs network namespaces: {why} (or use --no-network)")
            self.pair = create_pair(owner_pid=os.getpid())
            self.netns_argv = self.pair.board_argv([])
            self.netns_info = {"names": list(self.pair.names), "board_ip": self.pair.board_ip,
                               "host_ip": self.pair.host_ip, "owner": "supervisor"}

    def start_services(self) -> None:
        from ..netns import netns_mode
        from .services import ServiceHost, offered

        if not (offered(self.board) and self.netns_info and self.listener is not None):
            return
        if netns_mode()[0] != "named":
            _log(f"network services ({', '.join(offered(self.board))}) need named namespaces (root): not started")
            return
        self.services = ServiceHost(self.board, flash_dir=self.flash_dir, netns_info=self.netns_info,
                                    console_port=self.listener.getsockname()[1], micropython=self.micropython)
        self.services.start()

    # -- state ----------------------------------------------------------------------------------

    def socket_url(self) -> str | None:
        if self.listener is None or not self.want_tcp:
            return None
        return f"socket://127.0.0.1:{self.listener.getsockname()[1]}"

    def write_state(self) -> None:
        info = self.netns_info or {}
        write_json_atomic(self.state_path, {
            "kind": STATE_KIND,
            "name": self.name,
            "board": self.board.name,
            "description": self.board.description,
            "port_url": str(self.link_path),
            "pty": os.ttyname(self.slave),
            "socket_url": self.socket_url(),
            "pid": os.getpid(),
            "board_pid": self.proc.pid if self.proc is not None and self.proc.poll() is None else None,
            "board_ip": info.get("board_ip"),
            "host_ip": info.get("host_ip"),
            "netns": info.get("names"),
            "flash_dir": str(self.flash_dir),
            "services": self.services.urls() if self.services is not None else {},
            "heapsize": self.board.heapsize,
            **self.counters,
        })

    # -- main loop ------------------------------------------------------------------------------

    def run(self) -> int:
        self.wake_r, wake_w = os.pipe()
        os.set_blocking(self.wake_r, False)
        os.set_blocking(wake_w, False)
        signal.set_wakeup_fd(wake_w)
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, self._on_stop)
        signal.signal(signal.SIGUSR1, self._on_hard_reset)
        signal.signal(signal.SIGCHLD, lambda *_: None)  # only to wake select
        try:
            self.setup()
            self.start_services()
            self.spawn("friendly")
            _log(f"board '{self.name}' ({self.board.name}) ready on {self.link_path}"
                 + (f" and {self.socket_url()}" if self.socket_url() else "")
                 + (f"; board ip {self.netns_info['board_ip']}" if self.netns_info else ""))
            while not self.stop:
                if self.parent_pid and os.getppid() != self.parent_pid:
                    _log(f"parent {self.parent_pid} is gone; shutting down")
                    self.orphaned = True
                    break
                if self.hard_reset_requested:
                    self.hard_reset_requested = False
                    if self.proc is not None and self.proc.poll() is None:
                        self.expected_exit = "hard"
                        self.kill_board()
                    else:
                        self.power_on()
                if self.proc is not None and self.proc.poll() is not None:
                    self.on_exit(self.proc.returncode)
                if self.proc is None and self.respawn_at is not None and time.monotonic() >= self.respawn_at:
                    self.spawn(self.respawn_mode)
                if self.pending_sigint and time.monotonic() - self.spawned_at >= SPAWN_GRACE_S:
                    if self.armed:
                        self.send_sigint()
                    self.pending_sigint = False
                self.pump(0.1 if (self.pending_sigint or self.respawn_at) else 0.5)
            return 0
        finally:
            self.shutdown()

    def _on_stop(self, *_: object) -> None:
        self.stop = True

    def _on_hard_reset(self, *_: object) -> None:
        self.hard_reset_requested = True

    def shutdown(self) -> None:
        self.expected_exit = "shutdown"
        self.kill_board()
        if self.services is not None:
            self.services.close()
        for sock in (self.client, self.listener):
            if sock is not None:
                sock.close()
        if self.pair is not None:
            try:
                self.pair.close()
            except HilError as exc:
                _log(f"netns cleanup: {exc}")
        for fd in (self.master, self.slave, *(fd for p in self.pipes.values() for fd in p)):
            if fd >= 0:
                try:
                    os.close(fd)
                except OSError:
                    pass
        for path in self.created:
            try:
                if path.is_symlink() or path.exists():
                    path.unlink()
            except OSError as exc:
                if exc.errno != errno.ENOENT:
                    _log(f"cannot remove {path}: {exc}")
        _log("stopped")
        if self.orphaned:  # the owner that would remove the board's log and default flash folder died first
            from .manager import remove_board_files

            try:
                remove_board_files(self.name, self.state_dir, self.flash_dir)
            except OSError:
                pass


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m host_harness.virtual.supervisor",
                                description="Run one virtual board (normally started by VirtualBoard or "
                                            "`usocket-hil virtual up`).")
    p.add_argument("--board", default="virtual-unix")
    p.add_argument("--name", required=True)
    p.add_argument("--state-dir", required=True, type=Path)
    p.add_argument("--flash-dir", type=Path)
    p.add_argument("--tcp", action="store_true")
    p.add_argument("--network", action="store_true", help="create a namespace pair owned by this process")
    p.add_argument("--netns-argv", help="JSON argv prefix that enters an existing board namespace")
    p.add_argument("--netns-info", help="JSON {names, board_ip, host_ip} of that namespace pair")
    p.add_argument("--parent-pid", type=int, help="stop when this process is no longer our parent")
    p.add_argument("--model-dir", type=Path, help="port model directory, first on the board's sys.path")
    p.add_argument("--heapsize", help="override the board file's heapsize (micropython -X heapsize=)")
    p.add_argument("--description", help="override the board file's description (shown in the banner)")
    args = p.parse_args(argv)
    try:
        board = load_board(args.board)
        if not board.is_virtual:
            raise HilError(f"board '{board.name}' is kind '{board.kind}', not a virtual board")
        if args.heapsize or args.description:
            board = dataclasses.replace(board, heapsize=args.heapsize or board.heapsize,
                                        description=args.description or board.description)
        sup = Supervisor(
            board, name=args.name, state_dir=args.state_dir.resolve(),
            flash_dir=(args.flash_dir or args.state_dir / f"{args.name}.flash").resolve(),
            tcp=args.tcp, network=args.network,
            netns_argv=json.loads(args.netns_argv) if args.netns_argv else None,
            netns_info=json.loads(args.netns_info) if args.netns_info else None,
            parent_pid=args.parent_pid, model_dir=args.model_dir.resolve() if args.model_dir else None,
            micropython=find_micropython(),
        )
        return sup.run()
    except HilError as exc:
        print(f"usocket-hil virtual: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
