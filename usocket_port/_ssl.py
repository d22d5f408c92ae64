# The `ssl` / `ussl` / `tls` module that usocket_port.install() puts in sys.modules: the client side of
# MicroPython's ssl API (micropython-lib ssl.py over extmod/modtls_mbedtls.c) for usocket_port sockets.
#
# wrap_socket(sock, server_hostname=...) runs the TLS client handshake on the connected socket now (the
# glue's wrap(), else MicroPython's `tls`; _wrap below) and returns the same socket object,
# which then carries TLS.  Certificate checking is configured once with usocket_port.tls_setup(ca_path,
# hostname), as for IPPROTO_SEC; without it, no verification (MicroPython's own ssl default, CERT_NONE).
# Server-side TLS and per-call certificates are refused with OSError(EOPNOTSUPP) rather than ignored.
try:
    from micropython import const
except ImportError:  # CPython: const() is the identity on ints
    const = int

import usocket_target as _t

import usocket_port as _c

_native = None  # the firmware's own ssl (else tls) module, set by install()
_tls = None  # the firmware's own tls (else ssl) module, for usocket_port/_mptls.py

CERT_NONE = 0
CERT_OPTIONAL = 1
CERT_REQUIRED = 2
PROTOCOL_TLS_CLIENT = 16
PROTOCOL_TLS_SERVER = 17


def _no(what):
    return OSError(_t.EOPNOTSUPP, what + ": not supported through usocket_port (configure checking with "
                                         "usocket_port.tls_setup(ca_path, hostname))")


def __getattr__(name):
    # Names this shim lacks come from the firmware's own module (a glue's ssl.create_default_context()...).
    if _native is None:
        raise AttributeError(name)
    return getattr(_native, name)


def wrap_socket(sock, server_side=False, key=None, cert=None, cert_reqs=CERT_NONE, cadata=None,
                server_hostname=None, do_handshake=True, keyfile=None, certfile=None, ca_certs=None,
                do_handshake_on_connect=True, **kw):
    if not isinstance(sock, _c.socket):
        # A native socket (a glue's own TLS path, e.g. WiPy's IPPROTO_SEC): the firmware's wrap_socket.
        a = {}
        for k, v in (("server_side", server_side), ("keyfile", keyfile), ("certfile", certfile),
                     ("ca_certs", ca_certs), ("server_hostname", server_hostname)):
            if v:
                a[k] = v
        if cert_reqs:
            a["cert_reqs"] = cert_reqs
        a.update(kw)
        return _native.wrap_socket(sock, **a)
    if server_side:
        raise _no("server-side TLS")
    if key or cert or cadata or keyfile or certfile or ca_certs:
        raise _no("certificates passed to wrap_socket()")
    _wrap(sock, server_hostname)
    return sock


class SSLContext:
    def __init__(self, protocol=PROTOCOL_TLS_CLIENT):
        if protocol != PROTOCOL_TLS_CLIENT:
            raise _no("server-side TLS")
        self.verify_mode = CERT_NONE

    def load_verify_locations(self, cafile=None, cadata=None):
        raise _no("load_verify_locations()")

    def wrap_socket(self, sock, server_side=False, do_handshake_on_connect=True, server_hostname=None):
        return wrap_socket(sock, server_side, server_hostname=server_hostname)


_SEC = const(8)  # same values as in usocket_port/__init__.py
_NS = const(16)
_SHIFT = const(5)


def _wrap(self, host):
    # ssl.wrap_socket() of install()'s `ssl` module (usocket_port/_ssl.py): TLS client handshake on this
    # connected plain stream socket now, within its timeout.  The glue's wrap(), else -- where the glue
    # has no secure() of its own -- MicroPython's `tls` module; a target whose TLS can only start inside
    # connect() (WiPy) says so.
    s = self._n()
    if self._ms & _SEC:
        return
    f = getattr(_t, "wrap", None)
    if f is None:
        if hasattr(_t, "secure"):
            raise OSError(_t.EOPNOTSUPP, "TLS starts inside connect() on this target: "
                                         "use socket(AF_INET, SOCK_STREAM, IPPROTO_SEC)")
        from usocket_port import _mptls
        f = _mptls.secure
    to = (self._ms >> _SHIFT) - 1
    if to == 0:
        # (asyncio.open_connection(ssl=...) wraps while its non-blocking connect is still under way)
        raise OSError(_t.EOPNOTSUPP, "ssl.wrap_socket() needs a connected blocking or timeout socket: the "
                                     "handshake here is not driven non-blocking")
    try:
        s = f(s, host, to if to > 0 else -1)
    except OSError as e:
        self._s = None
        raise OSError(_t.errno_of(e)) from None
    self._s = s
    self._ms = self._ms & ~_NS | _SEC | (_NS if hasattr(s, "readinto") else 0)
