"""Shared parts of the namespace pairs: names, constants, the create lock, owner liveness, `ip`, subnets.

Names are ``uhil-<owner pid>-<owner start ticks>-<subnet index>-<h|b>``: the owner's pid plus its
start time (from /proc/<pid>/stat) identify a dead owner even after pid reuse, and the subnet index
is recoverable from the name, so choosing a free /30 only needs the list of names (under a lock).
"""

from __future__ import annotations

import ctypes
import fcntl
import os
import re
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from host_harness.errors import HilError

PREFIX = "uhil-"
NETNS_DIR = Path("/run/netns")
VETH = "uhil0"  # same interface name on both sides: the two ends live in different namespaces
SUBNET_BASE = (10 << 24) | (213 << 16)  # 10.213.0.0/16
SUBNET_SLOTS = 1 << 14  # 16384 /30s in the /16
PREFIXLEN = 30
REAPER_MODULE = "host_harness.netns.reaper"  # run with `python -m` (watcher and unprivileged holder)
_CLONE_NEWNET = 0x40000000
_IP_TIMEOUT = 10.0
_NAME_RE = re.compile(r"^uhil-(\d+)-(\d+)-(\d+)-([hb])$")


class NetnsError(HilError):
    """A namespace could not be created, entered or removed."""


# ---------------------------------------------------------------------------------------------
# the create lock


def _lock_path() -> Path:
    # /run/lock is shared by every root process on the machine; fall back for odd containers.
    for d in ("/run/lock", tempfile.gettempdir()):
        if os.access(d, os.W_OK):
            return Path(d) / "usocket-hil-netns.lock"
    raise NetnsError("no writable directory for the namespace lock (/run/lock, $TMPDIR)")


class CreateLock:
    """Cross-process (flock) lock around 'choose a free subnet + add the host namespace'."""

    def __init__(self, timeout: float = 15.0) -> None:
        self.timeout = timeout
        self.fd = -1

    def __enter__(self) -> CreateLock:
        # Each entry opens its own file description, so threads of one process exclude each other too.
        self.fd = os.open(_lock_path(), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return self
            except BlockingIOError:
                if time.monotonic() > deadline:
                    os.close(self.fd)
                    raise NetnsError(f"namespace lock {_lock_path()} busy for {self.timeout:.0f} s") from None
                time.sleep(0.02)

    def __exit__(self, *exc: object) -> None:
        os.close(self.fd)  # closing the description releases the flock


# ---------------------------------------------------------------------------------------------
# owner liveness


def proc_start_ticks(pid: int) -> int | None:
    """Start time of `pid` in clock ticks since boot (field 22 of /proc/pid/stat), None if gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    # comm (field 2) may contain spaces and parentheses: split after the last ')'.
    fields = stat.rsplit(")", 1)[1].split()
    try:
        return int(fields[19])  # field 22 overall = index 19 after pid and comm
    except (IndexError, ValueError):
        return None


def owner_alive(pid: int, start: int) -> bool:
    """True when process `pid` exists and is the same process (same start time), not a zombie."""
    if proc_start_ticks(pid) != start:
        return False
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


# ---------------------------------------------------------------------------------------------
# `ip`, names, subnets


def run_ip(args: Sequence[str], *, stdin: str | None = None, check: bool = True) -> subprocess.CompletedProcess:
    """Run `ip ARGS` with a deadline; a failure (with check) or a missing iproute2 is a NetnsError."""
    try:
        res = subprocess.run(
            ["ip", *args],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=_IP_TIMEOUT,
        )
    except FileNotFoundError:
        raise NetnsError("the `ip` command (iproute2) is not installed") from None
    except subprocess.TimeoutExpired:
        raise NetnsError(f"`ip {' '.join(args)}` did not finish within {_IP_TIMEOUT:.0f} s") from None
    if check and res.returncode != 0:
        msg = (res.stderr or res.stdout).strip().replace("\n", "; ")
        raise NetnsError(f"`ip {' '.join(args)}` failed: {msg}")
    return res


def all_names() -> list[str]:
    """Every usocket-hil named namespace present, sorted."""
    try:
        return sorted(n for n in os.listdir(NETNS_DIR) if n.startswith(PREFIX))
    except FileNotFoundError:
        return []


def parse_name(name: str) -> tuple[int, int, int, str] | None:
    """(owner pid, owner start ticks, subnet index, "h"|"b") of a usocket-hil name, else None."""
    m = _NAME_RE.match(name)
    if not m:
        return None
    return int(m[1]), int(m[2]), int(m[3]), m[4]


def ip_str(value: int) -> str:
    return socket.inet_ntoa(value.to_bytes(4, "big"))


def subnet_addresses(index: int) -> tuple[str, str]:
    """(host_ip, board_ip) of /30 number `index` inside 10.213.0.0/16."""
    base = SUBNET_BASE + 4 * index
    return ip_str(base + 1), ip_str(base + 2)


class SubnetAddresses:
    """The address properties both pair variants derive from their /30 `index`."""

    index: int

    @property
    def host_ip(self) -> str:
        return subnet_addresses(self.index)[0]

    @property
    def board_ip(self) -> str:
        return subnet_addresses(self.index)[1]

    @property
    def prefixlen(self) -> int:
        return PREFIXLEN

    @property
    def subnet(self) -> str:
        return f"{ip_str(SUBNET_BASE + 4 * self.index)}/{PREFIXLEN}"


def delete_names(names: Sequence[str]) -> list[str]:
    """Delete the named namespaces that still exist (their veth goes with them); return those left."""
    present = [n for n in names if (NETNS_DIR / n).exists()]
    if present:
        # One `ip` process for all; -force keeps going past a name another process just removed.
        run_ip(["-force", "-batch", "-"], stdin="".join(f"netns del {n}\n" for n in present), check=False)
    return [n for n in names if (NETNS_DIR / n).exists()]


# ---------------------------------------------------------------------------------------------
# sockets inside a namespace, child processes


_libc_obj: ctypes.CDLL | None = None


def _libc() -> ctypes.CDLL:
    global _libc_obj
    if _libc_obj is None:
        _libc_obj = ctypes.CDLL(None, use_errno=True)
    return _libc_obj


def socket_in_netns(
    netns_path: str | os.PathLike,
    family: int = socket.AF_INET,
    type: int = socket.SOCK_STREAM,
    proto: int = 0,
) -> socket.socket:
    """Create a socket inside the network namespace at `netns_path`, usable from this process.

    A short-lived thread enters the namespace (setns affects only the calling thread) and creates the
    socket; a socket stays in the namespace it was created in, so the main thread never moves.
    """
    result: dict[str, object] = {}

    def work() -> None:
        try:
            fd = os.open(netns_path, os.O_RDONLY | os.O_CLOEXEC)
            try:
                if _libc().setns(fd, _CLONE_NEWNET) != 0:
                    err = ctypes.get_errno()
                    raise OSError(err, f"setns({netns_path}): {os.strerror(err)}")
            finally:
                os.close(fd)
            result["sock"] = socket.socket(family, type, proto)
        except BaseException as exc:  # handed to the caller below
            result["err"] = exc

    t = threading.Thread(target=work, name="netns-socket", daemon=True)
    t.start()
    t.join(10.0)
    if t.is_alive():
        raise NetnsError(f"creating a socket in {netns_path} did not finish within 10 s")
    if "err" in result:
        exc = result["err"]
        if isinstance(exc, FileNotFoundError):
            raise NetnsError(f"network namespace {netns_path} does not exist (closed?)") from exc
        raise NetnsError(f"cannot create a socket in {netns_path}: {exc}") from exc
    sock = result["sock"]
    assert isinstance(sock, socket.socket)
    return sock


def child_env() -> dict[str, str]:
    """Environment for reaper/holder children: cwd is "/" (never pin a test's temp dir), so make sure
    the child can import this package (the checkout root: host_harness/netns/ -> two levels up)."""
    here = str(Path(__file__).resolve().parents[2])
    return {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [here, os.environ.get("PYTHONPATH", "")])),
    }
