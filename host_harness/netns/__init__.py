"""Network namespaces for virtual boards: a board namespace and a host namespace joined by a veth /30.

Why: a virtual board must reach host peers over a real IP link (not loopback) without touching the
machine's own network.  Both ends therefore live in namespaces created here; the root namespace gets
no address, no link and no route, and neither namespace has a default route, so nothing can leave.

As root the pair is two named namespaces (`ip netns`, named.py; a detached reaper.py process deletes
them if the owner is killed).  Without root, `unshare -rn` + `nsenter` give the same pair in anonymous
namespaces (UserNetnsPair, user.py); create_pair() (pair.py) picks the variant (support.py).
USOCKET_HIL_NETNS=named|user forces one.  Names, the create lock, `ip` and subnets: common.py.
"""

from __future__ import annotations

from .common import (
    NETNS_DIR,
    PREFIX,
    PREFIXLEN,
    SUBNET_BASE,
    SUBNET_SLOTS,
    VETH,
    NetnsError,
    delete_names,
    owner_alive,
    proc_start_ticks,
    socket_in_netns,
    subnet_addresses,
)
from .named import NetnsPair, ours, reap_stale
from .pair import NetnsHandle, create_pair
from .support import MODE_ENV, netns_mode, netns_support
from .user import UserNetnsPair

__all__ = [
    "MODE_ENV",
    "NETNS_DIR",
    "PREFIX",
    "PREFIXLEN",
    "SUBNET_BASE",
    "SUBNET_SLOTS",
    "VETH",
    "NetnsError",
    "NetnsHandle",
    "NetnsPair",
    "UserNetnsPair",
    "create_pair",
    "delete_names",
    "netns_mode",
    "netns_support",
    "ours",
    "owner_alive",
    "proc_start_ticks",
    "reap_stale",
    "socket_in_netns",
    "subnet_addresses",
]
