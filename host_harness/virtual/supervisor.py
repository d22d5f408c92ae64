"""The host half of a virtual board: owns the pty (and optional TCP port) and keeps the interpreter running.

Run as `python -m host_harness.virtual.supervisor --name NAME ...` (VirtualBoard and `usocket-hil virtual up`
do that).  Why a separate process: the board must outlive one mpremote invocation, survive soft resets
(each one a fresh interpreter) and be killable as a unit.

Data path:  host --pty master / TCP--> [supervisor] --stdin pipe--> micropython (vboard.py)
            host <--pty master / TCP-- [supervisor] <--stdout pipe-- micropython (stdout and stderr)
The stdin pipe is created once and survives interpreter restarts, so no byte the host sent is lost across
a soft reset.  A control pipe from the board says when user code runs ("A") and when the REPL reads
("D"): only then is a 0x03 byte turned into SIGINT, as a real board's interrupt character is armed only
during execution.
"""

from __future__ import annotations

import argparse
import collections
import ctypes
import dataclasses
import errno
import json
import os
import platform
import pty
import selectors
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

# Exit codes of vboard.py (see host_harness/virtual/device/vboard.py).
RC_SOFT_RAW = 90
RC_SOFT_FRIENDLY = 91
RC_HARD = 92

VBOARD_PY = Path(__file__).resolve().parent / "device" / "vboard.py"
STATE_KIND = "usocket-hil-virtual"
# A SIGINT in the interpreter's first moments (before MicroPython installs its handler) kills it, so a
# Ctrl-C that arrives this soon after a spawn is held back until the window has passed.
SPAWN_GRACE_S = 0.5
CRASH_WINDOW_S = 10.0
CRASH_BURST = 5  # this many crashes inside the window: wait before the next restart
CRASH_BACKOFF_S = 2.0
OUT_HIGH_WATER = 64 * 1024  # stop reading the board's output while this much waits for the host
IN_HIGH_WATER = 64 * 1024  # stop reading the host while this much waits for the board
TAIL_BYTES = 2048  # last board output kept for the crash log

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    # Runs in the forked child before exec: the interpreter is killed if the supervisor dies (even -9).
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except Exception:  # noqa: BLE001  (best effort: parent-death cleanup also happens in shutdown)
        pass


def _log(msg: str) -> None:
    sys.stderr.write(f"{time.strftime('%H:%M:%S')} supervisor[{os.getpid()}]: {msg}\n")
    sys.stderr.flush()


def write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2))
    os.replace(tmp, path)


class Supervisor:
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
            from ..netns import NetnsPair, netns_support

            ok, why = netns_support()
            if not ok:
                raise HilError(f"virtual board network needs network namespaces: {why} (or use --no-network)")
            self.pair = NetnsPair.create(owner_pid=os.getpid())
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

    # -- the interpreter ------------------------------------------------------------------------

    def argv(self) -> list[str]:
        argv = [self.micropython]
        if self.board.heapsize:
            argv += ["-X", f"heapsize={self.board.heapsize}"]
        argv.append(str(VBOARD_PY))
        return [*self.netns_argv, *argv]

    def spawn(self, mode: str) -> None:
        ctl_w = self.pipes["ctl"][1]
        env = dict(os.environ)
        env.pop("MICROPYPATH", None)
        env.update({
            "VBOARD_MODE": mode,
            "VBOARD_FS": str(self.flash_dir),
            "VBOARD_CTL": str(ctl_w),
            "VBOARD_DESC": self.board.description,
            "VBOARD_MACHINE": f"unix-{platform.machine()}",
        })
        if self.model_dir:
            env["VBOARD_MODEL"] = str(self.model_dir)
        if self.netns_info:
            # The port models' network/wifi station reports these as the board's address (wlan_env.py).
            env["VBOARD_IP"] = self.netns_info["board_ip"]
            env["VBOARD_HOST_IP"] = self.netns_info["host_ip"]
        self.proc = subprocess.Popen(
            self.argv(), stdin=self.pipes["stdin"][0], stdout=self.pipes["stdout"][1],
            stderr=subprocess.STDOUT, pass_fds=(ctl_w,), env=env, cwd="/", preexec_fn=_die_with_parent,
        )
        self.spawned_at = time.monotonic()
        self.armed = False
        self.pending_sigint = False
        self.respawn_at = None
        self.write_state()

    def kill_board(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                _log(f"interpreter {self.proc.pid} did not die after SIGKILL")

    def discard_input(self) -> None:
        # A power cycle loses what sat in the board's receive buffer.
        self.inbuf.clear()
        rfd = self.pipes["stdin"][0]
        os.set_blocking(rfd, False)
        try:
            while os.read(rfd, 65536):
                pass
        except BlockingIOError:
            pass
        finally:
            os.set_blocking(rfd, True)

    def on_exit(self, rc: int) -> None:
        self.drain_ctl()
        self.armed = False
        now = time.monotonic()
        if self.expected_exit == "shutdown":
            return
        if self.services is not None:
            self.services.on_reset(hard=self.expected_exit == "hard" or rc not in (RC_SOFT_RAW, RC_SOFT_FRIENDLY))
        if self.expected_exit == "hard" or rc == RC_HARD:
            self.expected_exit = None
            self.counters["hard_resets"] += 1
            _log("hard reset")
            self.discard_input()
            self.spawn("friendly")
            return
        if rc in (RC_SOFT_RAW, RC_SOFT_FRIENDLY):
            self.counters["soft_resets"] += 1
            self.spawn("raw" if rc == RC_SOFT_RAW else "friendly")
            return
        self.counters["crash_count"] += 1
        how = f"signal {-rc}" if rc < 0 else f"exit code {rc}"
        tail = b"".join(self.tail)[-TAIL_BYTES:].decode("utf-8", "replace")
        _log(f"CRASH #{self.counters['crash_count']}: interpreter {self.proc.pid if self.proc else '?'} "
             f"ended with {how}; restarting (power-on). Last output:\n{tail}")
        self.discard_input()
        self.crash_times = [t for t in self.crash_times if now - t < CRASH_WINDOW_S] + [now]
        self.respawn_mode = "friendly"
        self.respawn_at = now + (CRASH_BACKOFF_S if len(self.crash_times) >= CRASH_BURST else 0.0)
        self.proc = None
        self.write_state()

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

    # -- I/O ------------------------------------------------------------------------------------

    def drain_ctl(self) -> None:
        try:
            data = os.read(self.pipes["ctl"][0], 4096)
        except BlockingIOError:
            return
        if data:
            self.armed = data[-1:] == b"A"

    def from_host(self, data: bytes) -> None:
        self.drain_ctl()  # the board may have just started running code
        if b"\x03" not in data or not self.armed:
            self.inbuf += data
            return
        for part_index, part in enumerate(data.split(b"\x03")):
            if part_index:
                self.interrupt()
            self.inbuf += part

    def interrupt(self) -> None:
        # A real board's interrupt character never reaches its input buffer while code runs.
        if time.monotonic() - self.spawned_at < SPAWN_GRACE_S:
            self.pending_sigint = True
            return
        self.send_sigint()

    def send_sigint(self) -> None:
        self.pending_sigint = False
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.kill(self.proc.pid, signal.SIGINT)
            except ProcessLookupError:
                pass

    def from_board(self, data: bytes) -> None:
        self.tail.append(data)
        # One serial line: a TCP client, when connected, is the console; otherwise the pty is.
        if self.client is not None:
            self.tcp_out += data
        else:
            self.pty_out += data

    def accept(self) -> None:
        assert self.listener is not None
        try:
            conn, _ = self.listener.accept()
        except BlockingIOError:
            return
        if self.client is not None:  # a new connection takes the line over, as reopening a port does
            self.drop_client()
        conn.setblocking(False)
        self.client = conn
        self.tcp_out.clear()

    def drop_client(self) -> None:
        if self.client is not None:
            self.client.close()
            self.client = None
            self.tcp_out.clear()

    def pump(self, timeout: float) -> None:
        stdin_w = self.pipes["stdin"][1]
        out_r = self.pipes["stdout"][0]
        ctl_r = self.pipes["ctl"][0]
        # A fresh selector per round: which fds to watch depends on the buffers' fill levels.
        with selectors.DefaultSelector() as sel:
            sel.register(self.wake_r, selectors.EVENT_READ, "wake")
            sel.register(ctl_r, selectors.EVENT_READ, "ctl")
            backlog = len(self.pty_out) + len(self.tcp_out)
            if backlog < OUT_HIGH_WATER:
                sel.register(out_r, selectors.EVENT_READ, "out")
            master_ev = (selectors.EVENT_READ if len(self.inbuf) < IN_HIGH_WATER else 0) | (
                selectors.EVENT_WRITE if self.pty_out else 0)
            if master_ev:
                sel.register(self.master, master_ev, "master")
            if self.inbuf:
                sel.register(stdin_w, selectors.EVENT_WRITE, "stdin")
            if self.listener is not None:
                sel.register(self.listener, selectors.EVENT_READ, "listen")
            if self.client is not None:
                ev = (selectors.EVENT_READ if len(self.inbuf) < IN_HIGH_WATER else 0) | (
                    selectors.EVENT_WRITE if self.tcp_out else 0)
                if ev:
                    sel.register(self.client, ev, "client")
            events = sel.select(timeout)
        order = {"wake": 0, "ctl": 1}  # control first: arming must be known before a 0x03 is judged
        for key, mask in sorted(events, key=lambda e: order.get(e[0].data, 2)):
            what = key.data
            if what == "wake":
                try:
                    os.read(self.wake_r, 512)
                except BlockingIOError:
                    pass
            elif what == "ctl":
                self.drain_ctl()
            elif what == "out":
                try:
                    data = os.read(out_r, 65536)
                except BlockingIOError:
                    data = b""
                if data:
                    self.from_board(data)
            elif what == "master":
                if mask & selectors.EVENT_READ:
                    try:
                        data = os.read(self.master, 65536)
                    except (BlockingIOError, OSError):
                        data = b""
                    if data:
                        self.from_host(data)
                if mask & selectors.EVENT_WRITE and self.pty_out:
                    try:
                        n = os.write(self.master, self.pty_out)
                        del self.pty_out[:n]
                    except BlockingIOError:
                        pass
            elif what == "stdin":
                try:
                    n = os.write(stdin_w, self.inbuf)
                    del self.inbuf[:n]
                except BlockingIOError:
                    pass
            elif what == "listen":
                self.accept()
            elif what == "client" and self.client is not None:
                try:
                    if mask & selectors.EVENT_READ:
                        data = self.client.recv(65536)
                        if not data:
                            self.drop_client()
                            continue
                        self.from_host(data)
                    if mask & selectors.EVENT_WRITE and self.tcp_out:
                        n = self.client.send(self.tcp_out)
                        del self.tcp_out[:n]
                except BlockingIOError:
                    pass
                except OSError:
                    self.drop_client()

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
                    break
                if self.hard_reset_requested:
                    self.hard_reset_requested = False
                    if self.proc is not None and self.proc.poll() is None:
                        self.expected_exit = "hard"
                        self.kill_board()
                    else:
                        self.counters["hard_resets"] += 1
                        if self.services is not None:
                            self.services.on_reset(hard=True)
                        self.discard_input()
                        self.spawn("friendly")
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
        return exc.exit_code


if __name__ == "__main__":
    sys.exit(main())
