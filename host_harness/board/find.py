"""Finding a running virtual board (started by `usocket-hil virtual up` or by another process's
VirtualBoard) by its id, its board definition, or the port it serves -- so `--board NAME` needs no `--port`
and a `--port` that is a virtual board's pty brings its namespace (board IP, host IP) along."""

from __future__ import annotations

import os

from ..discovery import VirtualEntry, discover_virtual
from ..errors import HilError

# A running virtual board: the state-file entry discovery.py reads (one description for `boards` and here).
RunningVirtual = VirtualEntry


def running() -> list[RunningVirtual]:
    return [vb for vb in discover_virtual() if vb.alive and vb.port_url]


def _same_port(a: str, b: str) -> bool:
    if a == b:
        return True
    try:
        return "://" not in a and "://" not in b and os.path.realpath(a) == os.path.realpath(b)
    except OSError:
        return False


def by_port(url: str) -> RunningVirtual | None:
    """The running virtual board serving `url` (its pty symlink or real pty path, its socket:// URL, or a
    network REPL URL of its services: one whose `netns=` is the board's host-side namespace)."""
    from ..transport.urls.network import netns_of

    ns = netns_of(url)
    for vb in running():
        if _same_port(url, vb.port_url) or (vb.socket_url and url == vb.socket_url):
            return vb
        if ns and os.path.basename(ns) in vb.netns:
            return vb
    return None


def by_name(name: str) -> RunningVirtual | None:
    """A running virtual board by id (vb1), or the one running board of a definition (virtual-esp32).
    None when none runs; HilError when several of that definition do (pick one by id)."""
    boards = running()
    for vb in boards:
        if vb.name == name:
            return vb
    from ..virtual import EPHEMERAL_NAME

    # By definition only boards someone started to be shared (`virtual up`), not another process's own.
    matches = [vb for vb in boards if vb.definition == name and not EPHEMERAL_NAME.match(vb.name)]
    if len(matches) > 1:
        raise HilError(f"{len(matches)} virtual '{name}' boards are running ({', '.join(v.name for v in matches)}):"
                       f" pick one with --board ID or --port URL")
    return matches[0] if matches else None


def check_same_target(running: RunningVirtual, definition) -> None:
    """TargetMismatch unless board file `definition` is the running virtual board's target."""
    from ..boards import load_board
    from .identify import TargetMismatch

    own = load_board(running.definition)
    if own.target != definition.target:
        raise TargetMismatch(f"virtual board {running.name} is {own.name} (target {own.target}), but board "
                             f"file {definition.name} is target {definition.target}; nothing was written: "
                             f"pass --board {own.name}")
