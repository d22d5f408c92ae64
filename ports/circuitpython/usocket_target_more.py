# usocket_target_more for CircuitPython: the parts of the glue (ports/circuitpython/usocket_target.py, whose
# header lists the facts) used rarely, loaded on first use through usocket_target.__getattr__.
import errno as _e
import select
import time

import wifi
from usocket_target import EIO, connected, const, errno_of, socket, socketpool, ticks_diff, ticks_ms, wait

_CONNECT_MS = const(10000)  # as usocket_target's: the connect budget outside a timed wait

# ports/espressif/common-hal/socketpool/Socket.c: after a peer's RST the non-blocking recv_into reports
# EAGAIN, then ENOTCONN -- exactly what it reports at an orderly EOF -- so a reset reads as EOF here.
PEER_RESET_IS_EOF = ("CircuitPython espressif reports a peer reset as EAGAIN then ENOTCONN, the same as EOF "
                     "(ports/espressif/common-hal/socketpool/Socket.c)")


def getaddrinfo(host, port):
    try:
        r = socketpool.getaddrinfo(host, port)
    except OSError as e:  # SocketPool.gaierror
        raise OSError(errno_of(e))
    return [(f, t, p, c or "", (a[0], a[1])) for f, t, p, c, a in r if f == socketpool.AF_INET]


def accept(s, a):
    # (usocket_port/_more.py's accept: the native accept, its socket wrapped as this glue's)
    ns, a = s.n.accept()
    return socket(ns, False), a


def poll(s, ev):
    # Readiness now (a stream ioctl's MP_STREAM_POLL, usocket_port/_more.py): a pending connect runs first.
    if s.p is not None:
        wait(s, 0, _CONNECT_MS)
    p = select.poll()
    p.register(s.n, ev)
    r = p.poll(0)
    return r[0][1] if r else 0


def recvfrom_into(s, mv):
    return s.n.recvfrom_into(mv)


def recvfrom(s, n):
    b = bytearray(n)
    k, a = s.n.recvfrom_into(b)
    return bytes(b) if k == n else bytes(memoryview(b)[:k]), a


def secure(s, host, ms):
    return s  # wrapped before the connect in usocket_target.wait()


def wrap(s, host, ms):
    # ssl.wrap_socket() on a connected socket (usocket_port/_ssl.py): CircuitPython's handshake only runs
    # inside SSLSocket.connect(), so the plain connection (nothing sent on it yet) is replaced by a TLS
    # one to the same address: a fresh socket, wrapped, connected within ms.
    s.n.close()
    s.n = socketpool.socket(socketpool.AF_INET, socketpool.SOCK_STREAM)
    s.n.setblocking(False)
    s.ssl = True
    s.p = s.a
    wait(s, 0, ms)
    connected(s, None)
    return s


# ---- TLS configuration ---------------------------------------------------------------------------------
_tls_ca = None  # PEM text of the CA (None: no verification)
_tls_host = None


def tls_setup(ca_path=None, hostname=None):
    """THE call that turns certificate checking on for IPPROTO_SEC sockets (docs/ports.md): ca_path is a PEM
    file on the board; None turns checking off.  hostname: the name the certificate must carry (default:
    the IP given to connect())."""
    global _tls_ca, _tls_host
    if ca_path is None:
        _tls_ca = None
    else:
        try:
            with open(ca_path) as f:
                _tls_ca = f.read()
        except OSError as e:
            raise OSError(errno_of(e), "cannot read CA file %r" % (ca_path,))
        if "-----BEGIN CERTIFICATE-----" not in _tls_ca:
            _tls_ca = None
            raise OSError(_e.EINVAL, "no PEM certificate in %r" % (ca_path,))
    _tls_host = hostname


def tls(n, a):
    # n (a socketpool Socket) wrapped for TLS to address a, checked as tls_setup() said (wait() connects it).
    import ssl
    c = ssl.create_default_context()
    if _tls_ca is None:
        c.load_verify_locations(cadata="")  # no bundle, no CA: no verification (as WiPy's CERT_NONE)
        c.check_hostname = False
    else:
        c.load_verify_locations(cadata=_tls_ca)
    return c.wrap_socket(n, server_hostname=_tls_host or a[0])


# ---- network bring-up ----------------------------------------------------------------------------------
def connect_network(ssid, key, timeout_ms=20000):
    """Join `ssid` with wifi.radio; returns the board's IP.  OSError(EIO, text) for a missing AP or a wrong
    password (ConnectionError on CircuitPython), OSError(ETIMEDOUT, text) past timeout_ms."""
    t0 = ticks_ms()
    if wifi.radio.ipv4_address is not None:
        # Radio.c's connect() returns at once for the SSID it is on, whatever the key: leave it first
        wifi.radio.stop_station()
    try:
        wifi.radio.connect(ssid, key, timeout=timeout_ms // 1000 or 1)
    except ConnectionError as e:
        raise OSError(EIO, "wifi: %s (%r)" % (e, ssid))
    while wifi.radio.ipv4_address is None:
        if ticks_diff(ticks_ms(), t0) > timeout_ms:
            raise OSError(_e.ETIMEDOUT, "wifi: no IP from %r within %d ms" % (ssid, timeout_ms))
        time.sleep(1) if not hasattr(time, "sleep_ms") else time.sleep_ms(50)
    return str(wifi.radio.ipv4_address)
