"""Host network peers for board tests: echo, sink, source, UDP, TLS, and fault injectors.

Each peer: ``Peer(bind_host, *, socket_factory=socket.socket, ...)``, ``.address -> (ip, port)``,
``.close()``, context manager.  Bind to the host-side IP of a virtual board's namespace pair with
``socket_factory=pair.host_socket``, or to 127.0.0.1.  ``registry.live()`` lists peers still open,
so a test (or the pytest plugin) can fail when one survives.
"""

from ..lazy import lazy_exports

# public name -> the submodule that defines it; cryptography and http.server load with the peers that need them
_EXPORTS = {
    "AppHttp": "app_http",
    **dict.fromkeys(("Connection", "Peer", "PeerError", "PeerTimeout", "Registry", "StreamPeer", "registry"), "base"),
    **dict.fromkeys(("CertAuthority", "CertKey", "TlsMaterial", "material_for"), "certs"),
    "DialBack": "dialer",
    **dict.fromkeys(("HalfClose", "NeverAccept", "ResetAfter", "SlowReader"), "faults"),
    "HttpHello": "http",
    "Mosquitto": "mosquitto",
    "TcpRelay": "relay",
    **dict.fromkeys(("TcpEcho", "TcpSink", "TcpSource", "seeded_bytes"), "tcp"),
    **dict.fromkeys(("MtlsServer", "TlsExpired", "TlsServer", "TlsWrongCa", "TlsWrongHost"), "tls"),
    "UdpEcho": "udp",
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
__all__ = sorted(_EXPORTS)
