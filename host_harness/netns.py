"""Network namespaces for virtual boards: a board namespace and a host namespace joined by a veth /30.

Why: a virtual board must reach host peers over a real IP link (not loopback) without touching the
machine's own network.  Both ends therefore live in namespaces created here; the root namespace gets
no address, no link and no route, and neither namespace has a default route, so nothing can leave.

Names are ``uhil-<owner pid>-<owner start ticks>-<subnet index>-<h|b>``: the owner's pid plus its
start time (from /proc/<pid>/stat) identify a dead owner even after pid reuse, and the subnet index
is recoverable from the name, so choosing a free /30 only needs the list of names (under a lock).

Without root, `unshare -rn` + `nsenter` give the same pair in anonymous namespaces (UserNetnsPair);
NetnsPair.create picks the variant.  USOCKET_HIL_NETNS=named|user forces one.
"""

from __future__ import annotations

import ctypes
import fcntl
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from host_harness.errors import HilError

PREFIX = "uhil-"
NETNS_DIR = Path("/run/netns")
VETH = "uhil0"  # same interface name on both sides: the two ends live in different namespaces
SUBNET_BASE = (10 << 24) | (213 << 16)  # 10.213.0.0/16
SUBNET_SLOTS = 1 << 14  # 16384 /30s in the /16
PREFIXLEN = 30
_CLONE_NEWNET = 0x40000000
_CAP_NET_ADMIN = 12
_CAP_SYS_ADMIN = 21
_IP_TIMEOUT = 10.0
_NAME_RE = re.compile(r"^uhil-(\d+)-(\d+)-(\d+)-([hb])$")


class NetnsError(HilError):
    """A namespace could not be created, entered or removed."""


# ---------------------------------------------------------------------------------------------
# helpers


def _lock_path() -> Path:
    # /run/lock is shared by every root process on the machine; fall back for odd containers.
    for d in ("/run/lock", tempfile.gettempdir()):
        if os.access(d, os.W_OK):
            return Path(d) / "usocket-hil-netns.lock"
    raise NetnsError("no writable directory for the namespace lock (/run/lock, $TMPDIR)")


class _CreateLock:
    """Cross-process (flock) lock around 'choose a free subnet + add the host namespace'."""

    def __init__(self, timeout: float = 15.0) -> None:
        self.timeout = timeout
        self.fd = -1

    def __enter__(self) -> _CreateLock:
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


def _ip(args: Sequence[str], *, stdin: str | None = None, check: bool = True) -> subprocess.CompletedProcess:
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


def _all_names() -> list[str]:
    try:
        return sorted(n for n in os.listdir(NETNS_DIR) if n.startswith(PREFIX))
    except FileNotFoundError:
        return []


def _parse(name: str) -> tuple[int, int, int, str] | None:
    m = _NAME_RE.match(name)
    if not m:
        return None
    return int(m[1]), int(m[2]), int(m[3]), m[4]


def _ip_str(value: int) -> str:
    return socket.inet_ntoa(value.to_bytes(4, "big"))


def subnet_addresses(index: int) -> tuple[str, str]:
    """(host_ip, board_ip) of /30 number `index` inside 10.213.0.0/16."""
    base = SUBNET_BASE + 4 * index
    return _ip_str(base + 1), _ip_str(base + 2)


def delete_names(names: Sequence[str]) -> list[str]:
    """Delete the named namespaces that still exist (their veth goes with them); return those left."""
    present = [n for n in names if (NETNS_DIR / n).exists()]
    if present:
        # One `ip` process for all; -force keeps going past a name another process just removed.
        _ip(["-force", "-batch", "-"], stdin="".join(f"netns del {n}\n" for n in present), check=False)
    return [n for n in names if (NETNS_DIR / n).exists()]


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


# ---------------------------------------------------------------------------------------------
# support check


def _cap_effective() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("CapEff:"):
            return int(line.split()[1], 16)
    return 0


MODE_ENV = "USOCKET_HIL_NETNS"  # "named" or "user" forces a mode (tests of the unprivileged path)
_user_probe: tuple[bool, str] | None = None


def _probe_user_namespaces() -> tuple[bool, str]:
    """Can this user create a user+net namespace (`unshare -rn`)?  Probed once per process."""
    global _user_probe
    if _user_probe is None:
        missing = [t for t in ("unshare", "nsenter") if shutil.which(t) is None]
        if missing:
            _user_probe = (False, f"{' and '.join(missing)} (util-linux) not installed")
        else:
            try:
                res = subprocess.run(
                    ["unshare", "-rn", "ip", "link", "set", "lo", "up"],
                    capture_output=True,
                    text=True,
                    timeout=10,
                )
                ok, err = res.returncode == 0, (res.stderr or res.stdout).strip()
            except (OSError, subprocess.TimeoutExpired) as exc:
                ok, err = False, str(exc)
            _user_probe = (ok, "" if ok else f"unprivileged user namespaces unavailable ({err})")
    return _user_probe


def netns_mode() -> tuple[str | None, str]:
    """("named", "") as root; ("user", "") unprivileged via `unshare -rn`; (None, reason) if neither."""
    if not sys.platform.startswith("linux"):
        return None, f"network namespaces need Linux (this is {sys.platform})"
    if shutil.which("ip") is None:
        return None, "the `ip` command (iproute2) is not installed; install iproute2"
    if not Path("/proc/self/ns/net").exists():
        return None, "this kernel has no network namespaces (/proc/self/ns/net missing)"
    forced = os.environ.get(MODE_ENV, "")
    if forced not in ("", "named", "user"):
        return None, f"{MODE_ENV}={forced!r}: use 'named' or 'user'"
    caps = _cap_effective()
    missing = [
        n
        for n, bit in (("CAP_SYS_ADMIN", _CAP_SYS_ADMIN), ("CAP_NET_ADMIN", _CAP_NET_ADMIN))
        if not caps >> bit & 1
    ]
    if forced != "user" and os.geteuid() == 0 and not missing:
        return "named", ""
    if forced == "named":
        return None, "named network namespaces need root with CAP_SYS_ADMIN and CAP_NET_ADMIN"
    ok, why = _probe_user_namespaces()
    if ok:
        return "user", ""
    return None, (
        f"network namespaces need root (`ip netns add`) or unprivileged user namespaces, and {why}; "
        "run as root or use --no-network"
    )


def netns_support() -> tuple[bool, str]:
    """(usable, reason if not): root with iproute2, or unprivileged user namespaces."""
    mode, why = netns_mode()
    return mode is not None, why


# ---------------------------------------------------------------------------------------------
# the pair


@dataclass
class NetnsPair:
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
        return f"{_ip_str(SUBNET_BASE + 4 * self.index)}/{PREFIXLEN}"

    @property
    def names(self) -> tuple[str, str]:
        return (self.board_ns, self.host_ns)

    # -- creation -------------------------------------------------------------------------------

    @classmethod
    def create(cls, owner_pid: int | None = None, *, reaper: bool = True) -> NetnsPair:
        """Create the pair.  With `owner_pid`, a detached reaper deletes it when that process dies.

        Not root: returns a UserNetnsPair (same interface, `unshare -rn` holder) when unprivileged
        user namespaces work.  Without `owner_pid` the calling process is the owner (no reaper;
        reap_stale() cleans up after a crash).  `reaper=False` suppresses the watcher even with an
        owner (tests of reap_stale).
        """
        mode, why = netns_mode()
        if mode is None:
            raise NetnsError(why)
        if mode == "user":
            return UserNetnsPair.create(owner_pid)  # type: ignore[return-value]
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
        with _CreateLock():
            for _attempt in range(8):
                used = {p[2] for n in _all_names() if (p := _parse(n))}
                if len(used) >= SUBNET_SLOTS:
                    raise NetnsError("all 16384 /30 subnets of 10.213.0.0/16 are in use; run reap_stale()")
                index = random.randrange(SUBNET_SLOTS)
                while index in used:
                    index = (index + 1) % SUBNET_SLOTS
                name = f"{PREFIX}{owner}-{start}-{index}-h"
                res = _ip(["netns", "add", name], check=False)
                if res.returncode == 0:
                    return name, index
                if "File exists" not in res.stderr:
                    raise NetnsError(f"`ip netns add {name}` failed: {res.stderr.strip()}")
        raise NetnsError("could not claim a free namespace name after 8 attempts")

    def _setup(self) -> None:
        _ip(["netns", "add", self.board_ns])
        # The veth is created inside the host namespace with its peer placed straight into the board
        # namespace, so no interface ever appears in the root namespace.  addrgenmode none: no IPv6
        # link-local, so the link carries only what a test sends.
        _ip(
            ["-n", self.host_ns, "-batch", "-"],
            stdin=(
                "link set lo up\n"
                f"link add {VETH} type veth peer name {VETH} netns {self.board_ns}\n"
                f"link set {VETH} addrgenmode none\n"
                f"addr add {self.host_ip}/{PREFIXLEN} dev {VETH}\n"
                f"link set {VETH} up\n"
            ),
        )
        _ip(
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
            out = _ip(["-n", self.board_ns, "-o", "link", "show", VETH]).stdout
            if "LOWER_UP" in out:
                return
            if time.monotonic() > deadline:
                raise NetnsError(f"veth in {self.board_ns} has no carrier after {timeout:.0f} s")
            time.sleep(0.01)

    @classmethod
    def attach(cls, name: str) -> NetnsPair:
        """Rebuild a handle from either namespace name (e.g. in `virtual down`, another process)."""
        parsed = _parse(name)
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


class UserNetnsPair:
    """The unprivileged variant (no root): same interface as NetnsPair, anonymous namespaces.

    A holder process (`unshare -rn python -m host_harness.netns_reaper hold ...`) *is* the host
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

    host_ip = NetnsPair.host_ip
    board_ip = NetnsPair.board_ip
    prefixlen = NetnsPair.prefixlen
    subnet = NetnsPair.subnet

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
                    "host_harness.netns_reaper",
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
                env=_child_env(),
            )
        finally:
            theirs.close()
        try:
            reply = _read_line(mine, 15.0)
        except NetnsError:
            holder.kill()
            holder.wait(5)
            mine.close()
            raise
        if not reply.startswith("ready "):
            holder.wait(5)
            mine.close()
            raise NetnsError(
                f"unprivileged namespace setup failed: {reply.removeprefix('error ') or 'no reply'}"
            )
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


NetnsHandle = NetnsPair | UserNetnsPair  # what the virtual-board contract calls a NetnsHandle


def _spawn_reaper(owner: int, start: int, names: Sequence[str]) -> subprocess.Popen:
    # Own session: a Ctrl-C or a kill of the owner's process group must not take the reaper with it.
    return subprocess.Popen(
        [sys.executable, "-m", "host_harness.netns_reaper", str(owner), str(start), *names],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        close_fds=True,
        cwd="/",
        env=_child_env(),
    )


def _child_env() -> dict[str, str]:
    # cwd is "/" (never pin a test's temp dir), so make sure the child can import this package.
    here = str(Path(__file__).resolve().parent.parent)
    return {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [here, os.environ.get("PYTHONPATH", "")])),
    }


# ---------------------------------------------------------------------------------------------
# inventory


def ours(owner_pid: int | None = None) -> list[str]:
    """usocket-hil namespaces still present (all owners, or only those of `owner_pid`)."""
    names = _all_names()
    if owner_pid is None:
        return names
    return [n for n in names if (p := _parse(n)) and p[0] == owner_pid]


def reap_stale() -> list[str]:
    """Delete namespaces whose owner process is dead; return the names removed."""
    stale = [n for n in _all_names() if (p := _parse(n)) and not owner_alive(p[0], p[1])]
    left = delete_names(stale)
    if left:
        raise NetnsError(f"could not delete stale network namespace(s) {', '.join(left)}")
    return stale


__all__ = [
    "NetnsError",
    "NetnsHandle",
    "NetnsPair",
    "UserNetnsPair",
    "netns_mode",
    "netns_support",
    "ours",
    "reap_stale",
    "socket_in_netns",
    "subnet_addresses",
]
