"""The unprivileged pair (no root): an `unshare -rn` holder process with anonymous namespaces."""

from __future__ import annotations

import os
import random
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Sequence

from .common import (
    REAPER_MODULE,
    SUBNET_SLOTS,
    NetnsError,
    SubnetAddresses,
    child_env,
    proc_start_ticks,
    subnet_addresses,
)


class UserNetnsPair(SubnetAddresses):
    """The unprivileged variant (no root): same interface as NetnsPair, anonymous namespaces.

    A holder process (`unshare -rn python -m host_harness.netns.reaper hold ...`) *is* the host
    namespace and keeps a child in the nested board namespace; sockets made inside either come back
    over a unix socket (SCM_RIGHTS), since setns needs privileges this process lacks.  The holder exits
    when the owner dies or close() drops the control socket, and the namespaces die with it: there is
    nothing named to leak, so ours()/reap_stale() never see these.
    """

    def __init__(self, index: int, owner_pid: int, holder: subprocess.Popen, ctl: socket.socket, keeper: int):
        self.index = index
        self.owner_pid = owner_pid
        self.holder: subprocess.Popen | None = holder
        self.keeper_pid = keeper
        self._ctl: socket.socket | None = ctl
        self._lock = threading.Lock()
        self.host_ns = f"pid:{holder.pid}"
        self.board_ns = f"pid:{keeper}"
        self.reaper = None

    @property
    def names(self) -> tuple[str, ...]:
        return ()

    @classmethod
    def create(cls, owner_pid: int | None = None) -> UserNetnsPair:
        owner = os.getpid() if owner_pid is None else owner_pid
        start = proc_start_ticks(owner)
        if start is None:
            raise NetnsError(f"owner process {owner} does not exist")
        # The namespaces are private to this holder, so any /30 is free; pick one at random anyway.
        index = random.randrange(SUBNET_SLOTS)
        host_ip, board_ip = subnet_addresses(index)
        mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            holder = subprocess.Popen(
                [
                    "unshare",
                    "-rn",
                    sys.executable,
                    "-m",
                    REAPER_MODULE,
                    "hold",
                    str(owner),
                    str(start),
                    host_ip,
                    board_ip,
                    str(theirs.fileno()),
                ],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                pass_fds=[theirs.fileno()],
                start_new_session=True,
                cwd="/",
                env=child_env(),
            )
        finally:
            theirs.close()
        try:
            reply = _read_line(mine, 15.0)
            if not reply.startswith("ready "):
                raise NetnsError(
                    f"unprivileged namespace setup failed: {reply.removeprefix('error ') or 'no reply'}"
                )
        except NetnsError:
            # A holder that reported an error is exiting already; kill() bounds the wait either way.
            holder.kill()
            holder.wait(5)
            mine.close()
            raise
        return cls(index, owner, holder, mine, int(reply.split()[1]))

    def _nsenter(self, pid: int, argv: Sequence[str]) -> list[str]:
        return ["nsenter", "-t", str(pid), "-U", "-n", "--preserve-credentials", *argv]

    def board_argv(self, argv: Sequence[str]) -> list[str]:
        return self._nsenter(self.keeper_pid, argv)

    def host_argv(self, argv: Sequence[str]) -> list[str]:
        assert self.holder is not None, "pair is closed"
        return self._nsenter(self.holder.pid, argv)

    def _socket(self, where: str, family: int, type: int, proto: int) -> socket.socket:
        with self._lock:
            if self._ctl is None:
                raise NetnsError("network namespace pair is closed (does not exist)")
            self._ctl.sendall(f"sock {where} {int(family)} {int(type)} {int(proto)}\n".encode())
            self._ctl.settimeout(10.0)
            try:
                msg, fds, _flags, _addr = socket.recv_fds(self._ctl, 1024, 1)
            except (TimeoutError, OSError) as exc:
                raise NetnsError(f"namespace holder did not answer: {exc}") from exc
        if not fds:
            raise NetnsError(f"cannot create a socket in the namespace: {msg.decode().strip()}")
        return socket.socket(fileno=fds[0])

    def host_socket(
        self, family: int = socket.AF_INET, type: int = socket.SOCK_STREAM, proto: int = 0
    ) -> socket.socket:
        return self._socket("h", family, type, proto)

    def board_socket(
        self, family: int = socket.AF_INET, type: int = socket.SOCK_STREAM, proto: int = 0
    ) -> socket.socket:
        return self._socket("b", family, type, proto)

    def exists(self) -> bool:
        return self.holder is not None and self.holder.poll() is None

    def close(self) -> None:
        """Drop the control socket: the holder exits and the namespaces vanish.  Idempotent."""
        with self._lock:
            if self._ctl is not None:
                self._ctl.close()
                self._ctl = None
        if self.holder is not None:
            try:
                self.holder.wait(5.0)
            except subprocess.TimeoutExpired:
                self.holder.kill()
                self.holder.wait(5.0)
            self.holder = None

    def __enter__(self) -> UserNetnsPair:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _read_line(sock: socket.socket, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    buf = b""
    while b"\n" not in buf:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise NetnsError(f"namespace holder did not report ready within {timeout:.0f} s")
        sock.settimeout(remaining)
        try:
            chunk = sock.recv(4096)
        except TimeoutError:
            continue
        if not chunk:
            break
        buf += chunk
    return buf.decode(errors="replace").strip()
