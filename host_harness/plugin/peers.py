"""Host peers as fixtures, bound where the board can reach them, and closed (and checked) at teardown.

Each fixture builds the peer from host_harness.peers with bind_host = the board's host-side address and
socket_factory = the backend's (inside the host namespace for a virtual board).  Peers that take
parameters are factory fixtures: `peer_reset_after(n=10)` returns a started peer.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

import pytest

from .board import BoardHandle

# fixture name -> (class name in host_harness.peers, is a factory)
PEER_FIXTURES: dict[str, tuple[str, bool]] = {
    "tcp_echo": ("TcpEcho", False),
    "tcp_sink": ("TcpSink", False),
    "tcp_source": ("TcpSource", False),
    "udp_echo": ("UdpEcho", False),
    "tls_server": ("TlsServer", False),
    "mtls_server": ("MtlsServer", False),
    "peer_reset_after": ("ResetAfter", True),
    "peer_half_close": ("HalfClose", True),
    "peer_slow_reader": ("SlowReader", True),
    "peer_never_accept": ("NeverAccept", False),
    "tls_wrong_ca": ("TlsWrongCa", False),
    "tls_wrong_host": ("TlsWrongHost", False),
    "tls_expired": ("TlsExpired", False),
    "peer_factory": ("", True),
}


def peers_module():
    return importlib.import_module("host_harness.peers")


class PeerPool:
    """The peers one test made through our fixtures; all closed at teardown."""

    def __init__(self, board: BoardHandle) -> None:
        self.board = board
        self.peers: list[Any] = []

    def make(self, cls: type | str, **kwargs: Any) -> Any:
        if isinstance(cls, str):
            cls = getattr(peers_module(), cls)
        host = self.board.host_ip
        if not host:
            pytest.fail(f"usocket-hil: board {self.board.name} has no host address for peers "
                        "(real boards: pass --peer-host IP)", pytrace=False)
        peer = cls(host, socket_factory=self.board._backend.socket_factory, **kwargs)
        self.peers.append(peer)
        return peer

    def close(self) -> list[str]:
        errors = []
        for p in reversed(self.peers):
            try:
                p.close()
            except Exception as exc:  # noqa: BLE001 - report every peer that failed to stop
                errors.append(f"{p!r}: {exc}")
        self.peers.clear()
        return errors


def _make_fixture(name: str, cls_name: str, factory: bool) -> Callable:
    if name == "peer_factory":
        def fixture(_hil_peer_pool: PeerPool):
            """peer_factory(cls_or_name, **kwargs): any host_harness.peers class, bound for the board."""
            return _hil_peer_pool.make
    elif factory:
        def fixture(_hil_peer_pool: PeerPool):
            return lambda **kwargs: _hil_peer_pool.make(cls_name, **kwargs)
        fixture.__doc__ = f"Factory: {name}(**kwargs) -> a started host_harness.peers.{cls_name}."
    else:
        def fixture(_hil_peer_pool: PeerPool):
            return _hil_peer_pool.make(cls_name)
        fixture.__doc__ = f"A started host_harness.peers.{cls_name} the board can reach; closed at teardown."
    fixture.__name__ = name
    return pytest.fixture(name=name)(fixture)


_REACH = pytest.StashKey[str]()  # "" once the board reached a peer of ours, else why it cannot


def check_reach_once(config: pytest.Config, board: BoardHandle) -> None:
    """Before the first test with peers: can the board reach them at all (host_harness/peers/reach.py)?  If
    not, the session stops with one line saying which address and why (exit PEERS_UNREACHABLE), rather than
    fail every network case on the same connect."""
    from ..peers.reach import PEERS_UNREACHABLE, unreachable_reason
    from ..transport.result import BoardError

    why = config.stash.get(_REACH, None)
    if why is None:
        if not board.host_ip:
            return  # PeerPool.make says so, per test
        try:
            why = unreachable_reason(lambda code, timeout: board.exec(code, timeout=timeout).text,
                                     board.host_ip, board._backend.socket_factory) or ""
            said = f"the board reaches its host peers at {board.host_ip}"
        except OSError as exc:  # no listener possible there: no peer could listen either
            why = said = f"host peers cannot listen on {board.host_ip}: {exc.strerror or exc}"
        except BoardError as exc:  # the probe itself did not run: the cases will tell
            why, said = "", f"peer reachability not checked: {exc}"
        board._sink(f"[usocket-hil] {said}\n".encode())
        config.stash[_REACH] = why
    if why:
        pytest.exit(f"usocket-hil: {why}", returncode=PEERS_UNREACHABLE)


@pytest.fixture
def _hil_peer_pool(request: pytest.FixtureRequest, board: BoardHandle):
    check_reach_once(request.config, board)
    pool = PeerPool(board)
    yield pool
    errors = pool.close()
    if errors:
        pytest.fail("usocket-hil: peer(s) did not close cleanly: " + "; ".join(errors), pytrace=False)


def fixtures() -> dict[str, Callable]:
    return {name: _make_fixture(name, cls, fac) for name, (cls, fac) in PEER_FIXTURES.items()}


def live_listener_ids() -> set[int]:
    import sys

    if "host_harness.peers" not in sys.modules:
        return set()
    return {id(p) for p in peers_module().registry.live()}


def leftover_listeners(before: set[int]) -> list[str]:
    """Close every peer listener opened since `before` and still live; describe them."""
    import sys

    if "host_harness.peers" not in sys.modules:
        return []  # nothing could have opened one
    survivors = [p for p in peers_module().registry.live() if id(p) not in before]
    described = [repr(p).replace(" open>", ">") for p in survivors]
    for p in survivors:
        try:
            p.close()
        except Exception:  # noqa: BLE001 - the leak itself is what gets reported
            pass
    return described
