"""`usocket-hil bridge URL`: a local pty in front of a network REPL (wipy:// telnet, webrepl://), for tools that
open serial ports only, e.g. `mpremote connect PTY exec ...` (host_harness/netrepl/bridge.py)."""

from __future__ import annotations

import argparse
import signal
from pathlib import Path

from ..errors import TransportError
from .common import add_command, positive_seconds


def register(subparsers: argparse._SubParsersAction) -> None:
    p = add_command(subparsers, "bridge", run, "serve a network REPL (telnet, WebREPL) on a local pty",
                    "Open URL (wipy://HOST[:23][?user=&password=&netns=] or webrepl://HOST[:8266]?password=...) "
                    "and relay it to a new pseudo-terminal until Ctrl-C; a dropped session is logged in again. "
                    "Prints the pty path on the first line.")
    p.add_argument("url", metavar="URL")
    p.add_argument("--link", metavar="PATH", help="also make PATH a symlink to the pty (removed on exit)")
    p.add_argument("--reconnect-timeout", type=positive_seconds, default=30.0, metavar="S",
                   help="how long to keep trying when the board drops the session (default 30)")


def run(args: argparse.Namespace) -> int:
    import serial

    from ..netrepl.bridge import Bridge
    from ..transport.urls import NETWORK_SCHEMES, check_url, scheme

    check_url(args.url)  # a malformed or unknown URL: one line saying what to write
    if scheme(args.url) not in NETWORK_SCHEMES:
        raise TransportError(f"cannot bridge {args.url}: bridge serves a network REPL, give wipy://HOST or "
                             "webrepl://HOST?password=... (a serial port or socket:// URL needs no bridge: "
                             "give it to mpremote or --port as it is)")
    bridge = Bridge(args.url, link=Path(args.link) if args.link else None,
                    reconnect_timeout=args.reconnect_timeout)
    try:
        try:
            bridge.open()
        except (serial.SerialException, ValueError) as exc:
            raise TransportError(f"cannot open {args.url}: {exc}") from None
        signal.signal(signal.SIGTERM, lambda *_: bridge.stop.set())
        print(bridge.port, flush=True)
        bridge.serve()
        return 0 if bridge.net is not None else 2  # None: the session dropped and could not be re-opened
    finally:
        bridge.close()
