"""Parsing the network REPL URLs (wipy://, webrepl://) and opening their TCP connection, in a namespace if asked."""

from __future__ import annotations

import ipaddress
import os
import socket
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import serial

from ...netns import NETNS_DIR, socket_in_netns


@dataclass(frozen=True)
class NetUrl:
    scheme: str
    host: str
    port: int
    params: dict[str, str] = field(default_factory=dict)

    @property
    def netns(self) -> str | None:
        return self.params.get("netns")

    def where(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}"


def parse(url: str, scheme: str, default_port: int, allowed: tuple[str, ...]) -> NetUrl:
    """`scheme://host[:port][?k=v&...]` -> NetUrl; a ValueError names what is wrong (pyserial's convention)."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme != scheme:
        raise ValueError(f"expected a {scheme}:// URL, got {url!r}")
    if not parts.hostname:
        raise ValueError(f"{url!r} has no host: use {scheme}://HOST[:PORT]")
    try:
        port = parts.port or default_port
    except ValueError:
        raise ValueError(f"{url!r}: the port must be a number 1-65535") from None
    params: dict[str, str] = {}
    for key, values in urllib.parse.parse_qs(parts.query, keep_blank_values=True).items():
        if key not in allowed:
            raise ValueError(f"{url!r}: unknown option {key!r} (known: {', '.join(allowed)})")
        params[key] = values[-1]
    return NetUrl(scheme, parts.hostname, port, params)


def _check_host(host: str) -> None:
    # Outside a namespace we resolve nothing but localhost and numeric addresses (the project's network rule).
    if host == "localhost":
        return
    try:
        ipaddress.ip_address(host)
    except ValueError:
        raise serial.SerialException(f"host {host!r}: give a numeric address (names are not resolved)") from None


def netns_path(name: str) -> Path:
    return Path(name) if os.sep in name else NETNS_DIR / name


T = TypeVar("T")

# A board's one-client server listens again only after its previous client is gone (telnet.c re-creates its
# listening socket in the next servers cycle); a refusal this soon after is retried.
REFUSED_GRACE_S = 1.0


class Busy(Exception):
    """The board's one-client server turned us away (refused, or closed before its prompt)."""


def while_busy(attempt: Callable[[], T], message: str, grace: float = REFUSED_GRACE_S) -> T:
    """`attempt()`, retried for `grace` s while it raises Busy; then SerialException(message)."""
    end = time.monotonic() + grace
    while True:
        try:
            return attempt()
        except Busy:
            if time.monotonic() >= end:
                raise serial.SerialException(message) from None
            time.sleep(0.05)


def connect(u: NetUrl, timeout: float) -> socket.socket:
    """A connected TCP socket to the URL's host, created inside `netns=` when given.  SerialException on failure,
    with the reason a user can act on (refused: the server takes one client at a time, or is not running)."""
    return while_busy(lambda: _connect_once(u, timeout),
                      f"{u.where()}: connection refused (no server there, or it is busy with another client: "
                      "the board serves one at a time)", min(REFUSED_GRACE_S, timeout))


def _connect_once(u: NetUrl, timeout: float) -> socket.socket:
    _check_host(u.host)
    try:
        if u.netns:
            sock = socket_in_netns(netns_path(u.netns), socket.AF_INET, socket.SOCK_STREAM)
        else:
            sock = socket.socket(socket.AF_INET6 if ":" in u.host else socket.AF_INET, socket.SOCK_STREAM)
    except Exception as exc:  # NetnsError (a HilError) or OSError
        raise serial.SerialException(f"{u.where()}: {exc}") from None
    try:
        sock.settimeout(timeout)
        sock.connect((u.host, u.port))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.settimeout(None)  # the connect had its deadline; reads and writes set their own
    except ConnectionRefusedError:
        sock.close()
        raise Busy() from None
    except TimeoutError:
        sock.close()
        raise serial.SerialException(f"{u.where()}: no answer within {timeout:g} s") from None
    except OSError as exc:
        sock.close()
        raise serial.SerialException(f"{u.where()}: {exc.strerror or exc}") from None
    return sock


def netns_of(url: str) -> str | None:
    """The `netns=` namespace a URL's connections are made from, if it names one."""
    if "://" not in url:
        return None
    try:
        return urllib.parse.parse_qs(urllib.parse.urlsplit(url).query).get("netns", [None])[-1] or None
    except ValueError:
        return None


def socket_factory_for(url: str) -> Callable[[int, int], socket.socket] | None:
    """For host peers of a board reached at `url`: sockets in the URL's `netns=` namespace (a virtual board's
    host side, where its peers must listen), or None when the URL names none."""
    ns = netns_of(url)
    if not ns:
        return None
    path = netns_path(ns)
    return lambda family=socket.AF_INET, type=socket.SOCK_STREAM: socket_in_netns(path, family, type)


def board_ip_of(url: str) -> str | None:
    """The board's address when it is reached over the network (wipy://IP, webrepl://IP), else None."""
    from . import NETWORK_SCHEMES

    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in NETWORK_SCHEMES or not parts.hostname:
        return None
    return parts.hostname
