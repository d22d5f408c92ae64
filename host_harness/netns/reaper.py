"""Processes that end a namespace pair when its owner dies.

* ``python -m host_harness.netns.reaper OWNER_PID OWNER_START NAME...`` (root, named namespaces):
  a detached watcher that deletes the names once the owner has died.  A process, not a thread,
  because the owner may be killed with SIGKILL, leaving no chance for in-process cleanup.  It exits
  by itself once the names are gone (normal close()).
* ``unshare -rn python -m host_harness.netns.reaper hold OWNER_PID OWNER_START HOST_IP BOARD_IP FD``
  (unprivileged): the *holder*.  It is the host namespace (its own user+net namespace), keeps a child
  in a nested board namespace, builds the veth between them, and hands out sockets created inside
  either namespace over the control socket FD (SCM_RIGHTS).  The namespaces are anonymous: when the
  holder exits (owner died, or the control socket closed) they vanish with it, so nothing is left.
"""

from __future__ import annotations

import os
import select
import signal
import socket
import subprocess
import sys
import time

from host_harness.netns.common import (
    NETNS_DIR,
    PREFIXLEN,
    VETH,
    delete_names,
    owner_alive,
    socket_in_netns,
)

POLL_S = 0.5  # bounded wait per round; a pidfd wakes us at once on exit anyway


def _pidfd(pid: int) -> int | None:
    try:
        return os.pidfd_open(pid)
    except (ProcessLookupError, OSError, AttributeError):
        return None  # already gone, or no pidfd support: fall back to polling /proc


def watch(owner: int, start: int, names: list[str]) -> int:
    pidfd = _pidfd(owner)
    poller = select.poll()
    if pidfd is not None:
        poller.register(pidfd, select.POLLIN)
    try:
        while True:
            if not owner_alive(owner, start):
                left = delete_names(names)
                return 1 if left else 0
            if not any((NETNS_DIR / n).exists() for n in names):
                return 0  # closed normally by someone
            if pidfd is not None:
                poller.poll(int(POLL_S * 1000))
                # A readable pidfd means exit; owner_alive() above confirms (zombie counts as dead).
                time.sleep(0.01)
            else:
                time.sleep(POLL_S / 2)
    finally:
        if pidfd is not None:
            os.close(pidfd)


# -- unprivileged holder ----------------------------------------------------------------------------

# The board-namespace keeper: dies with the holder (PR_SET_PDEATHSIG) or when its stdin closes.
_KEEPER = (
    "import ctypes, os, signal, sys\n"
    "ctypes.CDLL(None).prctl(1, signal.SIGKILL)\n"  # 1 = PR_SET_PDEATHSIG
    "if os.getppid() != int(sys.argv[1]): sys.exit(0)\n"  # holder already gone
    "sys.stdin.buffer.read()\n"
)


def _run(argv: list[str], stdin: str | None = None) -> None:
    res = subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=10)
    if res.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)}: {(res.stderr or res.stdout).strip()}")


def hold(owner: int, start: int, host_ip: str, board_ip: str, ctl_fd: int) -> int:
    ctl = socket.socket(fileno=ctl_fd)
    keeper = subprocess.Popen(
        ["unshare", "-n", sys.executable, "-c", _KEEPER, str(os.getpid())],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        board_net = f"/proc/{keeper.pid}/ns/net"
        deadline = time.monotonic() + 10
        # unshare execs the keeper under the same pid once the new namespace exists.
        while os.readlink(board_net) == os.readlink("/proc/self/ns/net"):
            if time.monotonic() > deadline or keeper.poll() is not None:
                raise RuntimeError("board namespace keeper did not start")
            time.sleep(0.01)
        _run(
            ["ip", "-batch", "-"],
            (
                "link set lo up\n"
                f"link add {VETH} type veth peer name {VETH} netns {keeper.pid}\n"
                f"link set {VETH} addrgenmode none\n"
                f"addr add {host_ip}/{PREFIXLEN} dev {VETH}\n"
                f"link set {VETH} up\n"
            ),
        )
        _run(
            ["nsenter", "-t", str(keeper.pid), "-n", "ip", "-batch", "-"],
            (
                "link set lo up\n"
                f"link set {VETH} addrgenmode none\n"
                f"addr add {board_ip}/{PREFIXLEN} dev {VETH}\n"
                f"link set {VETH} up\n"
            ),
        )
        ctl.sendall(f"ready {keeper.pid}\n".encode())
        return _serve(ctl, owner, start, board_net)
    except Exception as exc:  # reported to the creator on the control socket
        try:
            ctl.sendall(f"error {exc}\n".replace("\n", " ").strip().encode() + b"\n")
        except OSError:
            pass
        return 1
    finally:
        keeper.kill()
        keeper.wait(5)
        ctl.close()


def _serve(ctl: socket.socket, owner: int, start: int, board_net: str) -> int:
    """Answer 'sock h|b FAMILY TYPE PROTO' lines with an fd, until the owner dies or ctl closes."""
    pidfd = _pidfd(owner)
    poller = select.poll()
    poller.register(ctl, select.POLLIN)
    if pidfd is not None:
        poller.register(pidfd, select.POLLIN)
    buf = b""
    while owner_alive(owner, start):
        if ctl.fileno() not in dict(poller.poll(int(POLL_S * 1000))):
            continue  # timeout or the owner's pidfd: the loop condition decides
        data = ctl.recv(4096)
        if not data:
            return 0  # the creator closed the pair (or died)
        buf += data
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            try:
                _verb, where, fam, typ, proto = line.decode().split()
                if where == "h":
                    s = socket.socket(int(fam), int(typ), int(proto))
                else:
                    s = socket_in_netns(board_net, int(fam), int(typ), int(proto))
            except Exception as exc:  # one bad request must not end the pair
                ctl.sendall(f"error {exc}".replace("\n", " ").encode() + b"\n")
                continue
            socket.send_fds(ctl, [b"ok\n"], [s.fileno()])
            s.close()
    return 0


def main(argv: list[str]) -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a terminal Ctrl-C is the owner's business
    if argv and argv[0] == "hold" and len(argv) == 6:
        return hold(int(argv[1]), int(argv[2]), argv[3], argv[4], int(argv[5]))
    if len(argv) < 3 or argv[0] == "hold":
        print(
            "usage: python -m host_harness.netns.reaper OWNER_PID OWNER_START NAME...\n"
            "       python -m host_harness.netns.reaper hold OWNER_PID OWNER_START HOST_IP BOARD_IP FD",
            file=sys.stderr,
        )
        return 2
    return watch(int(argv[0]), int(argv[1]), argv[2:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
