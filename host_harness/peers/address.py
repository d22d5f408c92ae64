"""The host address a real board reaches (--peer-host), checked before any test: peers bind there.

Numeric only (outside a namespace nothing is resolved but localhost and numeric addresses, docs/ARCHITECTURE.md
network rule), and one of this host's own addresses: a bind to it must succeed (an address of another machine,
or one no interface has, makes every peer test fail with the same bind error).  Binding sends no traffic.
"""

from __future__ import annotations

import errno
import ipaddress
import socket

from ..errors import HilError


class PeerHostError(HilError):
    """--peer-host / --board-ip is not a numeric address (of this host, for --peer-host)."""


def numeric_address(text: str, option: str) -> str:
    """`text` as a numeric IPv4/IPv6 address, or PeerHostError naming `option`."""
    try:
        return str(ipaddress.ip_address(text.strip()))
    except ValueError:
        raise PeerHostError(f"{option} {text!r} is not a numeric IP address (names are not looked up: "
                            "e.g. 192.168.1.10)") from None


def check_peer_host(text: str, port: str | None = None) -> str:
    """`text` as a usable peer address, or PeerHostError saying what to give instead.  The bind is tried where
    the peers will listen: in the namespace a board URL's `netns=` names (transport/urls/network.py), else here."""
    from ..transport.urls.network import socket_factory_for

    addr = ipaddress.ip_address(numeric_address(text, "--peer-host"))
    family = socket.AF_INET6 if addr.version == 6 else socket.AF_INET
    factory = (socket_factory_for(port) if port else None) or socket.socket
    with factory(family, socket.SOCK_STREAM) as s:
        try:
            s.bind((str(addr), 0))
        except OSError as exc:
            why = ("no interface of this host has that address" if exc.errno == errno.EADDRNOTAVAIL
                   else exc.strerror or str(exc))
            raise PeerHostError(f"--peer-host {addr}: peers cannot listen there ({why}); give an address of "
                                "this host on the board's network (`ip -brief address` lists them)") from None
    return str(addr)
