"""Named pairs (root): `ip netns add` namespaces under /run/netns, plus their inventory and reaper."""

from __future__ import annotations

import os
import random
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from .common import (
    NETNS_DIR,
    PREFIX,
    PREFIXLEN,
    REAPER_MODULE,
    SUBNET_SLOTS,
    VETH,
    CreateLock,
    NetnsError,
    SubnetAddresses,
    all_names,
    child_env,
    delete_names,
    owner_alive,
    parse_name,
    proc_start_ticks,
    run_ip,
    socket_in_netns,
)


@dataclass
class NetnsPair(SubnetAddresses):
    """A board namespace and a host namespace joined by a veth pair on a private /30.

    host_ip is .1 and board_ip .2 of the /30.  Use as a context manager or call close().
    """

    host_ns: str
    board_ns: str
    index: int
    owner_pid: int
    reaper: subprocess.Popen | None = field(default=None, repr=False)
    _closed: bool = field(default=False, repr=False)

    @property
    def names(self) -> tuple[str, str]:
        return (self.board_ns, self.host_ns)

    # -- creation -------------------------------------------------------------------------------

    @classmethod
    def create(cls, owner_pid: int | None = None, *, reaper: bool = True) -> NetnsPair:
        """Create a named pair (root).  Use netns.create_pair(), which picks named or user namespaces.

        With `owner_pid`, a detached reaper deletes it when that process dies; without, the calling process
        is the owner (no reaper; reap_stale() cleans up after a crash).  `reaper=False` suppresses the
        watcher even with an owner (tests of reap_stale).
        """
        watch = owner_pid is not None and reaper
        owner = os.getpid() if owner_pid is None else owner_pid
        start = proc_start_ticks(owner)
        if start is None:
            raise NetnsError(f"owner process {owner} does not exist")
        host_ns, index = cls._claim_host_ns(owner, start)
        board_ns = f"{PREFIX}{owner}-{start}-{index}-b"
        pair = cls(host_ns=host_ns, board_ns=board_ns, index=index, owner_pid=owner)
        try:
            if watch:
                pair.reaper = _spawn_reaper(owner, start, pair.names)
            pair._setup()
        except BaseException:
            pair.close()
            raise
        return pair

    @staticmethod
    def _claim_host_ns(owner: int, start: int) -> tuple[str, int]:
        # Under the lock: read the used subnet indexes from the names, add the host namespace.  Once it
        # exists its index is visible to every other creator, so the lock covers only this step.
        with CreateLock():
            for _attempt in range(8):
                used = {p[2] for n in all_names() if (p := parse_name(n))}
                if len(used) >= SUBNET_SLOTS:
                    raise NetnsError("all 16384 /30 subnets of 10.213.0.0/16 are in use; run reap_stale()")
                index = random.randrange(SUBNET_SLOTS)
                while index in used:
                    index = (index + 1) % SUBNET_SLOTS
                name = f"{PREFIX}{owner}-{start}-{index}-h"
                res = run_ip(["netns", "add", name], check=False)
                if res.returncode == 0:
                    return name, index
                if "File exists" not in res.stderr:
                    raise NetnsError(f"`ip netns add {name}` failed: {res.stderr.strip()}")
        raise NetnsError("could not claim a free namespace name after 8 attempts")

    def _setup(self) -> None:
        run_ip(["netns", "add", self.board_ns])
        # The veth is created inside the host namespace with its peer placed straight into the board
        # namespace, so no interface ever appears in the root namespace.  addrgenmode none: no IPv6
        # link-local, so the link carries only what a test sends.
        run_ip(
            ["-n", self.host_ns, "-batch", "-"],
            stdin=(
                "link set lo up\n"
                f"link add {VETH} type veth peer name {VETH} netns {self.board_ns}\n"
                f"link set {VETH} addrgenmode none\n"
                f"addr add {self.host_ip}/{PREFIXLEN} dev {VETH}\n"
                f"link set {VETH} up\n"
            ),
        )
        run_ip(
            ["-n", self.board_ns, "-batch", "-"],
            stdin=(
                "link set lo up\n"
                f"link set {VETH} addrgenmode none\n"
                f"addr add {self.board_ip}/{PREFIXLEN} dev {VETH}\n"
                f"link set {VETH} up\n"
            ),
        )
        self._wait_carrier()

    def _wait_carrier(self, timeout: float = 3.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            out = run_ip(["-n", self.board_ns, "-o", "link", "show", VETH]).stdout
            if "LOWER_UP" in out:
                return
            if time.monotonic() > deadline:
                raise NetnsError(f"veth in {self.board_ns} has no carrier after {timeout:.0f} s")
            time.sleep(0.01)

    @classmethod
    def attach(cls, name: str) -> NetnsPair:
        """Rebuild a handle from either namespace name (e.g. in `virtual down`, another process)."""
        parsed = parse_name(name)
        if parsed is None:
            raise NetnsError(f"{name!r} is not a usocket-hil namespace name (uhil-PID-START-INDEX-h|b)")
        pid, start, index, _role = parsed
        base = f"{PREFIX}{pid}-{start}-{index}"
        pair = cls(host_ns=f"{base}-h", board_ns=f"{base}-b", index=index, owner_pid=pid)
        if not any((NETNS_DIR / n).exists() for n in pair.names):
            raise NetnsError(f"network namespace {name} does not exist")
        return pair

    # -- use ------------------------------------------------------------------------------------

    def board_argv(self, argv: Sequence[str]) -> list[str]:
        """argv that runs `argv` inside the board namespace."""
        return ["ip", "netns", "exec", self.board_ns, *argv]

    def host_argv(self, argv: Sequence[str]) -> list[str]:
        """argv that runs `argv` inside the host namespace."""
        return ["ip", "netns", "exec", self.host_ns, *argv]

    def host_socket(
        self, family: int = socket.AF_INET, type: int = socket.SOCK_STREAM, proto: int = 0
    ) -> socket.socket:
        """A socket created inside the host namespace (signature-compatible with socket.socket)."""
        return socket_in_netns(NETNS_DIR / self.host_ns, family, type, proto)

    def board_socket(
        self, family: int = socket.AF_INET, type: int = socket.SOCK_STREAM, proto: int = 0
    ) -> socket.socket:
        """A socket created inside the board namespace."""
        return socket_in_netns(NETNS_DIR / self.board_ns, family, type, proto)

    def exists(self) -> bool:
        return any((NETNS_DIR / n).exists() for n in self.names)

    # -- teardown -------------------------------------------------------------------------------

    def close(self) -> None:
        """Delete both namespaces (and so the veth) and stop the reaper.  Idempotent.

        Sockets still open inside a namespace keep the kernel object alive (unnamed, unreachable)
        until they are closed; close peers first.
        """
        left = delete_names(self.names)
        if self.reaper is not None:
            if self.reaper.poll() is None:
                self.reaper.terminate()
            try:
                self.reaper.wait(5.0)
            except subprocess.TimeoutExpired:
                self.reaper.kill()
                self.reaper.wait(5.0)
            self.reaper = None
        self._closed = True
        if left:
            raise NetnsError(f"could not delete network namespace(s) {', '.join(left)}")

    def __enter__(self) -> NetnsPair:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _spawn_reaper(owner: int, start: int, names: Sequence[str]) -> subprocess.Popen:
    # Own session: a Ctrl-C or a kill of the owner's process group must not take the reaper with it.
    return subprocess.Popen(
        [sys.executable, "-m", REAPER_MODULE, str(owner), str(start), *names],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        close_fds=True,
        cwd="/",
        env=child_env(),
    )


# ---------------------------------------------------------------------------------------------
# inventory


def ours(owner_pid: int | None = None) -> list[str]:
    """usocket-hil namespaces still present (all owners, or only those of `owner_pid`)."""
    names = all_names()
    if owner_pid is None:
        return names
    return [n for n in names if (p := parse_name(n)) and p[0] == owner_pid]


def reap_stale() -> list[str]:
    """Delete namespaces whose owner process is dead; return the names removed."""
    stale = [n for n in all_names() if (p := parse_name(n)) and not owner_alive(p[0], p[1])]
    left = delete_names(stale)
    if left:
        raise NetnsError(f"could not delete stale network namespace(s) {', '.join(left)}")
    return stale
