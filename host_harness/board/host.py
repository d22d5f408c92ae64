"""host kind (boards/cpython.toml, kind "host"): CPython 3.11 as the target, in its own namespace pair.

The code runs in a subprocess (cpython_agent.py) whose sys.path is a staged copy of a board's /lib (the deploy
set of host_harness.deploy.deploy_sources, as symlinks), so `exec` means the same as on a board.
Bring-up: deployed (the staged /lib) -> online (namespace pair) -> booted is folded into online (the
interpreter starts inside the namespace).  Soft and hard reset both start a fresh interpreter: the closest
CPython gets to a board's reset.
"""

from __future__ import annotations

import json
import os
import select
import signal
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ..deploy import deploy_sources
from ..errors import HilError
from ..transport.result import ExecResult
from .base import RunningBoard

_AGENT = Path(__file__).with_name("cpython_agent.py")
_START_TIMEOUT = 10.0
_INTERRUPT_GRACE = 1.0  # after the deadline: time a KeyboardInterrupt gets to unwind
_TIMEOUT = object()  # _read_reply: the deadline passed
_EOF = object()  # _read_reply: the process went away


class HostBoard(RunningBoard):
    def __init__(self, definition, *, extras=(), roots=(), use_netns: bool | None = None, log=None) -> None:
        super().__init__(definition, log=log)
        self._extras = [Path(p) for p in extras]
        self.device_roots = list(roots)
        self._use_netns = use_netns
        self._pair = None
        self._proc: subprocess.Popen | None = None
        self._ctl_r = -1
        self._stage: tempfile.TemporaryDirectory | None = None

        self.bring_up.add("deployed", self._stage_lib, 10.0)
        self.bring_up.add("online", self._online, _START_TIMEOUT + 15.0)
        self.ladder.add("soft", self._restart, _START_TIMEOUT)
        self.ladder.add("hard", self._restart, _START_TIMEOUT)

    # -- lifecycle ------------------------------------------------------------------------------------
    def _stage_lib(self, deadline: float) -> str:
        """A /lib look-alike of symlinks (first one wins, as a later file of the same name is shadowed)."""
        self._stage = tempfile.TemporaryDirectory(prefix="uhil-cpython-lib-")
        stage = Path(self._stage.name)
        sources = deploy_sources("cpython", self._extras)
        for src, dest in sources:
            link = stage / dest
            link.parent.mkdir(parents=True, exist_ok=True)
            if not (link.exists() or link.is_symlink()):
                os.symlink(src.resolve(), link)
        return f"{len(sources)} files staged in {stage}"

    def _online(self, deadline: float) -> str:
        if self._proc is not None:  # after a reset: the interpreter is already fresh and in its namespace
            return "interpreter running"
        from .. import netns

        ok, why = netns.netns_support()
        want = self._use_netns if self._use_netns is not None else ok
        if want and not ok:
            raise HilError(f"board cpython: network namespaces unavailable: {why}")
        if want:
            self._pair = netns.create_pair(owner_pid=os.getpid())
            self.ip, self.host_ip = self._pair.board_ip, self._pair.host_ip
            self.socket_factory = self._pair.host_socket
        else:
            # No namespaces (unprivileged run): the board and its peers share loopback.
            self.ip = self.host_ip = "127.0.0.1"
        self._spawn()
        return f"interpreter in {'its own namespace' if self._pair else 'this namespace'}, ip {self.ip}"

    def _spawn(self) -> None:
        assert self._stage is not None
        ctl_r, ctl_w = os.pipe()
        argv = [sys.executable, "-u", "-P", str(_AGENT), str(ctl_w)]
        if self._pair is not None:
            argv = self._pair.board_argv(argv)
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "PYTHONPATH": self._stage.name,
            "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONIOENCODING": "utf-8",
            "HOME": os.environ.get("HOME", "/"),
            "USOCKET_HIL_OWNER": str(os.getpid()),  # who started this board process (finds orphans)
        }
        try:
            self._proc = subprocess.Popen(
                argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                pass_fds=(ctl_w,), env=env, cwd=self._stage.name, start_new_session=True,
            )
        finally:
            os.close(ctl_w)
        self._ctl_r = ctl_r
        os.set_blocking(self._proc.stdout.fileno(), False)
        res = self.exec("import usocket_target\n", _START_TIMEOUT)
        if not res.ok:
            out = (res.stdout.decode(errors="replace") + res.error).strip().splitlines()
            raise HilError(f"board cpython did not start: {out[-1] if out else res.outcome}")

    def _kill(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait(5)
            for f in (proc.stdin, proc.stdout):
                try:
                    f.close()
                except OSError:
                    pass
        if self._ctl_r >= 0:
            os.close(self._ctl_r)
            self._ctl_r = -1

    def _restart(self, deadline: float) -> str:
        self._kill()
        self._spawn()
        return "fresh interpreter"

    def close(self) -> None:
        self._kill()
        if self._pair is not None:
            pair, self._pair = self._pair, None
            pair.close()
        if self._stage is not None:
            self._stage.cleanup()
            self._stage = None

    # -- running code ---------------------------------------------------------------------------------
    def exec(self, code: str, timeout: float, *, on_output=None, catch_exit: bool = False) -> ExecResult:
        t0 = time.monotonic()
        if self._proc is None or self._proc.poll() is not None:
            return ExecResult("transport", error="the cpython board process is not running", duration=0.0)
        out = bytearray()
        body = json.dumps({"code": code}).encode()
        try:
            self._proc.stdin.write(struct.pack(">I", len(body)) + body)
            self._proc.stdin.flush()
        except (BrokenPipeError, OSError):
            return self._died(out, t0)
        reply = self._read_reply(out, t0 + timeout)
        if reply is _TIMEOUT:
            # Deadline: interrupt like Ctrl-C, then restart the interpreter either way (a fresh VM).
            os.kill(self._proc.pid, signal.SIGINT)
            self._read_reply(out, time.monotonic() + _INTERRUPT_GRACE)
            self._kill()
            self._spawn()
            return ExecResult("hung", bytes(out), f"no result within {timeout:.1f} s; interpreter restarted",
                             time.monotonic() - t0)
        if reply is _EOF:
            return self._died(out, t0)
        # Show module paths as a board would (/lib/...), not as the staging folder this process uses.
        error = reply.get("error", "").replace(self._stage.name if self._stage else "\0", "/lib")
        return ExecResult(reply["outcome"], bytes(out), error, time.monotonic() - t0)

    def _died(self, out: bytearray, t0: float) -> ExecResult:
        assert self._proc is not None
        code = self._proc.wait(5)
        self._drain(out)
        self._kill()
        self._spawn()
        how = f"killed by signal {-code}" if code < 0 else f"exit status {code}"
        return ExecResult("crashed", bytes(out), f"interpreter died ({how}); restarted", time.monotonic() - t0)

    def _drain(self, out: bytearray) -> None:
        assert self._proc is not None
        try:
            while chunk := os.read(self._proc.stdout.fileno(), 65536):
                out += chunk
        except (BlockingIOError, OSError):
            pass

    def _read_reply(self, out: bytearray, deadline: float) -> dict | object:
        """Collect console output until the result frame arrives, the process dies or the deadline."""
        assert self._proc is not None
        ctl = bytearray()
        stdout_fd = self._proc.stdout.fileno()
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return _TIMEOUT
            ready, _, _ = select.select([self._ctl_r, stdout_fd], [], [], min(left, 0.5))
            if stdout_fd in ready:
                self._drain(out)
            if self._ctl_r in ready:
                chunk = os.read(self._ctl_r, 65536)
                if not chunk:
                    return _EOF  # control pipe closed: the process is gone
                ctl += chunk
                if len(ctl) >= 4:
                    (n,) = struct.unpack(">I", ctl[:4])
                    if len(ctl) >= 4 + n:
                        # The agent flushed stdout before writing the frame: take what is in the pipe.
                        self._drain(out)
                        return json.loads(bytes(ctl[4:4 + n]))
            if not ready and self._proc.poll() is not None:
                return _EOF
