"""The interpreter's life cycle under the supervisor: spawn, exit, and what each exit means.

vboard.py ends the MicroPython process with a reserved code for a soft reset (come back in raw or friendly
mode) or for machine.reset() (a power-on boot, input lost); any other end is a crash: counted, logged with
the last output, and followed by a power-on restart (after a back-off when crashes come in a burst).
A mixin of Supervisor (supervisor.py); the serial line it talks over is linemux.py.
"""

from __future__ import annotations

import ctypes
import os
import platform
import signal
import subprocess
import sys
import time
from pathlib import Path

from ..micropython import interpreter_argv

# Exit codes of vboard.py (see host_harness/virtual/device/vboard.py).
RC_SOFT_RAW = 90
RC_SOFT_FRIENDLY = 91
RC_HARD = 92

VBOARD_PY = Path(__file__).resolve().parent / "device" / "vboard.py"
CRASH_WINDOW_S = 10.0
CRASH_BURST = 5  # this many crashes inside the window: wait before the next restart
CRASH_BACKOFF_S = 2.0
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


class InterpreterLife:
    """spawn / kill / on_exit for the MicroPython process behind the line."""

    def argv(self) -> list[str]:
        if getattr(self, "_interpreter", None) is None:
            self._interpreter = interpreter_argv(self.micropython)  # once: the same for every reset
        argv = list(self._interpreter)
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
            "VBOARD_BOARD": self.board.name,  # the machine a port model reports (vboard.py _identity)
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

    def power_on(self) -> None:
        """A hard reset with the interpreter already gone: power-on boot, the receive buffer lost."""
        self.counters["hard_resets"] += 1
        # On record before the reset is visible: the services' sessions end below, and a client may log in
        # again (host-side servers) before spawn() writes the state (a slow start of the interpreter).
        self.write_state()
        self.reset_services(hard=True)
        self.discard_input()
        self.spawn("friendly")

    def reset_services(self, hard: bool) -> None:
        # The firmware's network servers (services/) see the reset: sessions end; a hard one boots the NWP.
        if self.services is not None:
            self.services.on_reset(hard=hard)

    def on_exit(self, rc: int) -> None:
        self.drain_ctl()
        self.armed = False
        now = time.monotonic()
        if self.expected_exit == "shutdown":
            return
        if self.expected_exit == "hard" or rc == RC_HARD:
            self.expected_exit = None
            _log("hard reset")
            self.power_on()
            return
        if rc in (RC_SOFT_RAW, RC_SOFT_FRIENDLY):
            self.counters["soft_resets"] += 1
            self.reset_services(hard=False)
            self.spawn("raw" if rc == RC_SOFT_RAW else "friendly")
            return
        self.reset_services(hard=True)  # a crash restarts the board as a power-on does
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
