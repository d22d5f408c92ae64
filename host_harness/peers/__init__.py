"""Host network peers for board tests: echo, sink, source, UDP, TLS, and fault injectors.

Each peer: ``Peer(bind_host, *, socket_factory=socket.socket, ...)``, ``.address -> (ip, port)``,
``.close()``, context manager.  Bind to the host-side IP of a virtual board's namespace pair with
``socket_factory=pair.host_socket``, or to 127.0.0.1.  ``registry.live()`` lists peers still open,
so a test (or the pytest plugin) can fail when one survives.
"""

from host_harness.peers.app_http import AppHttp
from host_harness.peers.base import Connection, Peer, PeerError, PeerTimeout, Registry, StreamPeer, registry
from host_harness.peers.certs import CertAuthority, CertKey, TlsMaterial, material_for
from host_harness.peers.dialer import DialBack
from host_harness.peers.faults import HalfClose, NeverAccept, ResetAfter, SlowReader
from host_harness.peers.http import HttpHello
from host_harness.peers.relay import TcpRelay
from host_harness.peers.tcp import TcpEcho, TcpSink, TcpSource, seeded_bytes
from host_harness.peers.tls import MtlsServer, TlsExpired, TlsServer, TlsWrongCa, TlsWrongHost
from host_harness.peers.udp import UdpEcho

__all__ = [
    "AppHttp",
    "CertAuthority",
    "CertKey",
    "Connection",
    "DialBack",
    "HalfClose",
    "HttpHello",
    "MtlsServer",
    "NeverAccept",
    "Peer",
    "PeerError",
    "PeerTimeout",
    "Registry",
    "ResetAfter",
    "SlowReader",
    "StreamPeer",
    "TcpEcho",
    "TcpRelay",
    "TcpSink",
    "TcpSource",
    "TlsExpired",
    "TlsMaterial",
    "TlsServer",
    "TlsWrongCa",
    "TlsWrongHost",
    "UdpEcho",
    "material_for",
    "registry",
    "seeded_bytes",
]
