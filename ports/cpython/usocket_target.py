# usocket_target for CPython 3.11: glue between usocket_port and the standard `socket` module.
#
# CPython raises OSError subclasses (BlockingIOError, TimeoutError, socket.gaierror...); errno_of() turns
# them into plain numbers so the core re-raises a plain OSError.  Put ports/cpython on sys.path.
# Left to the core's defaults (docs/usocket_port.md, "Glue interface"), which fit CPython's socket too:
# errno numbers, addr/unaddr (tuples), recv, recvfrom, wait/poll (select.poll; a negative timeout blocks),
# fileno.
import errno as _e
import socket as _so
import ssl
import time

NAME = "cpython"
IOBase = object  # CPython's select.poll uses fileno(); io.IOBase would add unwanted behaviour

# EAGAIN, ETIMEDOUT... : the core takes them from `errno` (its default).
_PENDING = (_e.EINPROGRESS, _e.EALREADY, _e.EAGAIN, _e.EWOULDBLOCK)

_IPPROTO_SEC = 100  # emulated: TLS client on connect (as on WiPy)

CONSTANTS = [("IPPROTO_SEC", _IPPROTO_SEC)]
for _k in ("AF_INET", "AF_INET6", "SOCK_STREAM", "SOCK_DGRAM", "IPPROTO_IP", "IPPROTO_TCP", "IPPROTO_UDP",
           "TCP_NODELAY", "SOL_SOCKET", "SO_REUSEADDR", "SO_BROADCAST", "SO_KEEPALIVE", "SO_LINGER",
           "SO_ERROR",
           "SO_RCVBUF", "SO_SNDBUF", "IP_ADD_MEMBERSHIP", "IP_DROP_MEMBERSHIP", "MSG_PEEK", "MSG_DONTWAIT"):
    if hasattr(_so, _k):
        CONSTANTS.append((_k, int(getattr(_so, _k))))
del _k


def ticks_ms():
    return time.monotonic_ns() // 1000000


def ticks_add(t, d):
    return t + d


def ticks_diff(a, b):
    return a - b


def errno_of(e):
    if isinstance(e, (ssl.SSLWantReadError, ssl.SSLWantWriteError)):
        return _e.EAGAIN  # a non-blocking TLS socket that must wait
    n = getattr(e, "errno", None)
    if n is None and e.args and type(e.args[0]) is int:
        n = e.args[0]  # a plain OSError(n) (the core's own): CPython sets .errno only with two args
    if type(n) is int:
        return _e.EAGAIN if n == _e.EWOULDBLOCK else n
    if isinstance(e, TimeoutError):
        return _e.ETIMEDOUT
    return _e.EIO


def getaddrinfo(host, port):
    try:
        r = _so.getaddrinfo(host, port, _so.AF_INET, _so.SOCK_STREAM)
    except UnicodeError:  # the IDNA codec refuses the name before any lookup: same meaning as EAI_NONAME
        raise OSError(_so.EAI_NONAME, "name not encodable") from None
    return [(int(f), int(t), p, c, (a[0], a[1])) for f, t, p, c, a in r]


def new(af, type, proto):
    if proto == _IPPROTO_SEC:
        proto = _so.IPPROTO_TCP
    s = _so.socket(af, type, proto)
    s.setblocking(False)
    return s


def connected(s, a):
    n = s.connect_ex(a)
    if n == 0 or n == _e.EISCONN:
        return True
    if n in _PENDING:
        return False
    raise OSError(n, _e.errorcode.get(n, "connect failed"))


# The native *_into calls (no copy); the core's defaults would copy from recv/recvfrom.
def recv_into(s, mv):
    return s.recv_into(mv)


def recvfrom_into(s, mv):
    return s.recvfrom_into(mv)


_tls_ca = None  # path of the CA file (None: no verification, as WiPy's CERT_NONE default)
_tls_host = None  # name the certificate must carry (None: the IP given to connect())


def tls_setup(ca_path=None, hostname=None):
    """THE call that turns certificate checking on for IPPROTO_SEC sockets (docs/ports.md)."""
    global _tls_ca, _tls_host
    if ca_path is not None:
        try:
            with open(ca_path, "rb"):
                pass
        except OSError as e:
            raise OSError(e.errno or _e.EIO, "cannot read CA file %r" % (ca_path,)) from None
    _tls_ca, _tls_host = ca_path, hostname


def secure(s, host, ms):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if _tls_ca is None:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    else:
        ctx.load_verify_locations(cafile=_tls_ca)
    s.settimeout(None if ms < 0 else max(ms, 1) / 1000)  # what is left of connect()'s deadline
    try:
        t = ctx.wrap_socket(s, server_hostname=_tls_host or host)
    except ssl.SSLCertVerificationError as e:
        s.close()
        # MBEDTLS_ERR_X509_CERT_VERIFY_FAILED, the number MicroPython targets give for the same refusal
        raise OSError(-9984, e.verify_message or "certificate verify failed") from None
    except OSError as e:
        s.close()
        raise OSError(errno_of(e)) from None
    t.setblocking(False)
    return t


wrap = secure  # ssl.wrap_socket() of a connected socket (usocket_port/_ssl.py): the same client handshake
