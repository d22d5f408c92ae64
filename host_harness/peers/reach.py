"""Can the board reach its host peers?  Asked once, before the first test that uses them.

Peers listen on the board's host address (board.host_ip) in the namespace of the board's socket factory.  When
that is not where the board's packets go -- a board in its own network namespace behind a loopback port (ser2net
or a TCP bridge in front of its pty: its peers land on this namespace's 127.0.0.1, which is the board's own
loopback), or a --peer-host of another network -- every network case fails on the same connect.  So one TCP
listener is opened there, the board connects to it once (usocket_port, deployed; with a deadline), and the
listener must see that connection: a connect the board's own namespace answers (something listening on the same
address and port there) proves nothing.  Nothing but that one connection is sent, to the board's own peer
address.
"""

from __future__ import annotations

import ipaddress
import select
import socket
from collections.abc import Callable

PEERS_UNREACHABLE = 7  # exit status of a suite stopped because the board cannot reach its peers
CONNECT_S = 5  # the board's connect deadline (whole seconds: the shared device code has no floats)
ACCEPT_S = 2.0  # after the board said "connected": the listener's wait for it

# Runs on the board: one connect, its outcome printed as a literal ('ok' or the errno's name).  The modules it
# imported are dropped again, so the heap a case module starts with is the one it had (small boards).
_PROBE = """
import sys
_hil_had = set(sys.modules)
def _hil_reach(host, port, secs):
    import usocket_port
    s = usocket_port.socket(usocket_port.AF_INET, usocket_port.SOCK_STREAM)
    try:
        s.settimeout(secs)
        s.connect((host, port))
        return 'ok'
    except OSError as e:
        n = e.args[0] if e.args else e
        try:
            import errno
            return errno.errorcode.get(n, 'errno %%r' %% (n,))
        except (ImportError, AttributeError):
            return 'errno %%r' %% (n,)
    finally:
        s.close()
print(repr(_hil_reach(%r, %d, %d)))
_hil_m = None
for _hil_m in [m for m in sys.modules if m not in _hil_had]:
    del sys.modules[_hil_m]
del _hil_reach, _hil_had, _hil_m
"""


def probe_code(host: str, port: int, seconds: int = CONNECT_S) -> str:
    return _PROBE % (host, port, seconds)


def _hint(host: str) -> str:
    if ipaddress.ip_address(host).is_loopback:
        return (f"{host} is the board's own loopback unless it runs in this network namespace, so the board is "
                "in another one (a virtual board behind ser2net or a TCP bridge: give its id or its pty, whose "
                "namespace the harness knows) or on another machine (pass --peer-host with an address of this "
                "host on the board's network)")
    return (f"is {host} an address of this host on the board's network (a firewall, another subnet)? "
            "--peer-host sets it")


def unreachable_reason(run_on_board: Callable[[str, float], str], host: str,
                       socket_factory: Callable[..., socket.socket] = socket.socket) -> str | None:
    """None when the board's connect to a listener on `host` arrived; else one line saying what happened.
    `run_on_board(code, timeout)` runs code on the board and returns what it printed."""
    with socket_factory(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind((host, 0))
        listener.listen(1)
        port = listener.getsockname()[1]
        said = run_on_board(probe_code(host, port), CONNECT_S + 10.0).strip().strip("'\"")
        arrived = bool(select.select([listener], [], [], ACCEPT_S if said == "ok" else 0)[0])
        if arrived:
            listener.accept()[0].close()
            return None
    what = (f"connected, but not to this host's listener (something in the board's own network answers on "
            f"{host}:{port})" if said == "ok" else f"failed with {said}")
    return (f"the board cannot reach its host peers at {host}: its TCP connect to {host}:{port}, where a peer "
            f"of this host listened, {what}; {_hint(host)}")
