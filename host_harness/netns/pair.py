"""`create_pair()`: the one way to get a board/host namespace pair, whichever kind this machine allows.

As root: a NetnsPair (named.py, `ip netns`, a reaper watching the owner).  Unprivileged: a UserNetnsPair
(user.py, `unshare -rn` holder).  USOCKET_HIL_NETNS=named|user forces one (support.py).  Both have the same
interface: board_ip/host_ip, board_argv/host_argv, host_socket/board_socket, names, close().
"""

from __future__ import annotations

from .common import NetnsError
from .named import NetnsPair
from .support import netns_mode
from .user import UserNetnsPair

NetnsHandle = NetnsPair | UserNetnsPair


def create_pair(owner_pid: int | None = None, *, reaper: bool = True) -> NetnsHandle:
    """A new namespace pair.  With `owner_pid`, it is deleted when that process dies (even by kill -9).

    Without `owner_pid` the calling process owns it (no watcher; netns.reap_stale() cleans up after a crash).
    `reaper=False` suppresses the watcher of a named pair even with an owner (tests of reap_stale).
    Raises NetnsError (one line) when this machine has no usable namespaces.
    """
    mode, why = netns_mode()
    if mode is None:
        raise NetnsError(why)
    if mode == "user":
        return UserNetnsPair.create(owner_pid)
    return NetnsPair.create(owner_pid, reaper=reaper)
