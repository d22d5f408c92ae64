# usocket_target for WiPy 1.0 (MicroPython ports/cc3200, TI CC3200 with the SimpleLink network processor):
# glue between usocket_port and the native `socket`.  Interface: docs/usocket_port.md; notes: docs/ports.md.
#
# Facts this glue absorbs (port-semantics.md §1, §5, §6.4, §7.2):
#   * NO float literals anywhere in this file: the cc3200 build has no float support (a float literal is a
#     SyntaxError at import) -- tests/host/test_no_floats.py checks it;
#   * `errno` has only EPERM EIO ENODEV EINVAL ETIMEDOUT: everything else comes from the fallback table
#     ERRNO below (MicroPython's internal numbers, which the cc3200 build uses);
#   * timeouts are whole seconds natively: the core never hands one to the firmware (it waits itself with
#     select.poll), so the only sub-second values the core ever uses are its own ms deadlines;
#   * sendall is only send: the core loops itself; recv reads at most 16000 bytes per call;
#   * sl_Send sends in 1460-byte chunks (1386 on a secure socket) and, non-blocking, reports "nothing sent"
#     when a later chunk finds no NWP buffer although the earlier ones went out (drivers/cc3100/src/socket.c,
#     driver.c _SlDrvDataWriteOp): TX_MAX caps every native write at one chunk, so a write is all or nothing;
#   * ssl.wrap_socket defaults to TLS 1.0 only (SL_SO_SEC_METHOD_TLSV1, modssl.c): new() asks for TLS 1.2;
#   * the NWP reads the CA from its own hidden file system, which only the FTP server writes: tls_setup()
#     names the uploaded file, it cannot put one there (see CA_UPLOAD);
#   * getaddrinfo takes exactly 2 args and fails with POSITIVE SimpleLink DNS codes (e.g. 163): negated
#     here so the seed's "negative number" rule holds;
#   * IPPROTO_SEC is native: socket(AF_INET, SOCK_STREAM, IPPROTO_SEC) + ssl.wrap_socket() BEFORE connect;
#     the network processor does the handshake inside connect(); OSError(453) under CERT_NONE means
#     "connected without server verification" (an upstream comparison bug makes it raise) = success.
# Left to the core's defaults for MicroPython sockets (docs/usocket_port.md, "Glue interface"): addr/unaddr
# (tuples), recv/recv_into/recvfrom/recvfrom_into, wait/poll (select.poll).
import errno as _e
import io
import socket as _so
import time

try:
    from micropython import const
except ImportError:
    def const(x):
        return x

NAME = "wipy"
Base = io.IOBase

# MicroPython's internal errno numbers (py/mperrno.h, MICROPY_USE_INTERNAL_ERRNO=1 on cc3200), for the names
# the cc3200 `errno` module leaves out.  Cases and users look names up here when errno lacks them.
ERRNO = {
    "EPERM": 1, "ENOENT": 2, "EIO": 5, "EBADF": 9, "EAGAIN": 11, "ENOMEM": 12, "EACCES": 13, "EEXIST": 17,
    "ENODEV": 19, "EISDIR": 21, "EINVAL": 22, "EOPNOTSUPP": 95, "EADDRINUSE": 98, "ECONNABORTED": 103,
    "ECONNRESET": 104, "ENOBUFS": 105, "EISCONN": 106, "ENOTCONN": 107, "ETIMEDOUT": 110,
    "ECONNREFUSED": 111, "EHOSTUNREACH": 113, "EALREADY": 114, "EINPROGRESS": 115,
}


def _n(name):
    return getattr(_e, name, ERRNO[name])


EAGAIN = _n("EAGAIN")
ETIMEDOUT = _n("ETIMEDOUT")
EINPROGRESS = _n("EINPROGRESS")
EBADF = _n("EBADF")
EINVAL = _n("EINVAL")
EIO = _n("EIO")
EOPNOTSUPP = _n("EOPNOTSUPP")
EALREADY = _n("EALREADY")
EISCONN = _n("EISCONN")
_ESECSNOVERIFY = const(453)  # SL_ESECSNOVERIFY, negated: connected without server verification
_ESECDATEERROR = const(461)  # SL_ESECDATEERROR, negated: connected, but the certificate's dates are bad
TX_MAX = const(1386)  # bytes per native write: one sl_Send chunk on a secure socket (1460 plain)
CA_PATH = "/flash/cert/ca.pem"  # the one CA name the FTP server stores for the NWP (ftp/updater.c)
# Why a CA written by Python never reaches the NWP (tests/device/cases/tls_verify.py skips with it unless the
# host uploaded the CA over FTP and says so in env["ca_uploaded"]).
CA_UPLOAD = "WiPy's network processor reads the CA from its hidden file system, which only the FTP server " \
            "writes (ports/cc3200/ftp/updater.c: upload to /flash/cert/ca.pem; docs/wipy/general.rst)"
# ports/cc3200/mods/modssl.c hands SimpleLink only the CA file: the network processor checks the chain and
# dates, never the certificate's host name.
NO_HOSTNAME_CHECK = "WiPy's network processor (SimpleLink) does not check certificate host names " \
                    "(ports/cc3200/mods/modssl.c passes only the CA file)"

_SL_SOL_SOCKET = const(1)  # SimpleLink values: setsockopt passes level/option straight to sl_SetSockOpt
CONSTANTS = [("SOL_SOCKET", _SL_SOL_SOCKET), ("SO_KEEPALIVE", 9), ("SO_RCVTIMEO", 20)]
for _k in ("AF_INET", "SOCK_STREAM", "SOCK_DGRAM", "IPPROTO_TCP", "IPPROTO_UDP", "IPPROTO_SEC"):
    CONSTANTS.append((_k, getattr(_so, _k)))
del _k
_IPPROTO_SEC = _so.IPPROTO_SEC

ticks_ms = time.ticks_ms
ticks_add = time.ticks_add
ticks_diff = time.ticks_diff


def errno_of(e):
    n = e.args[0] if e.args else EIO
    return n if type(n) is int else EIO


def getaddrinfo(host, port):
    try:
        r = _so.getaddrinfo(host, port)  # exactly two arguments on cc3200
    except OSError as e:
        n = errno_of(e)
        raise OSError(-n if n > 0 else n)  # positive SimpleLink DNS codes -> the seed's negative numbers
    return [(f, _so.SOCK_STREAM, _so.IPPROTO_TCP, c or "", (a[0], a[1])) for f, t, p, c, a in r]  # proto 0 natively


# ---- TLS configuration ---------------------------------------------------------------------------------
_tls_ca = None  # CA file under /flash/cert/ (None: CERT_NONE, WiPy's default)


def tls_setup(ca_path=None, hostname=None):
    """THE call that turns certificate checking on for IPPROTO_SEC sockets (docs/ports.md).  On WiPy the CA
    must have been uploaded over FTP to /flash/cert/ca.pem: the network processor reads it from its own
    hidden file system (CA_UPLOAD), so the file is not visible to Python and is not opened here.  Any other
    path is refused with OSError(EINVAL).  The CC3200 network processor cannot check host names: a hostname
    is refused with OSError(EOPNOTSUPP) rather than silently not checked."""
    global _tls_ca
    if hostname is not None:
        raise OSError(EOPNOTSUPP, "WiPy's network processor cannot check certificate host names")
    if ca_path is not None and ca_path != CA_PATH:
        raise OSError(EINVAL, "on WiPy the CA is %r, uploaded over FTP (got %r)" % (CA_PATH, ca_path))
    _tls_ca = ca_path


def new(af, type, proto):
    s = _so.socket(af, type, proto)
    if proto == _IPPROTO_SEC:
        import ssl
        v = getattr(ssl, "PROTOCOL_TLSv1_2", 3)  # SL_SO_SEC_METHOD_TLSV1_2, not the TLS 1.0 default
        try:
            if _tls_ca is None:
                s = ssl.wrap_socket(s, ssl_version=v)
            else:
                s = ssl.wrap_socket(s, cert_reqs=ssl.CERT_REQUIRED, ca_certs=_tls_ca, ssl_version=v)
        except Exception:
            s.close()
            raise
    s.setblocking(False)
    return s


def connected(s, a):
    # sl_Connect() again: returns once done; SL_EALREADY (-> EINPROGRESS) while TCP or the NWP's handshake
    # is under way.  453 under CERT_NONE is success; 461 (bad certificate dates) is a failure when verifying.
    try:
        s.connect(a)
    except OSError as e:
        n = errno_of(e)
        if n == EISCONN:
            return True
        if n == EINPROGRESS or n == EALREADY or n == EAGAIN:
            return False
        if n == _ESECSNOVERIFY and _tls_ca is None:
            return True
        raise
    return True


def fileno(s):
    return -1  # SimpleLink descriptors are not file descriptors: poll goes through ioctl


def secure(s, host, ms):
    return s  # the network processor did the handshake inside connect()


# ---- network bring-up ----------------------------------------------------------------------------------
def connect_network(ssid, key, timeout_ms=20000):
    """Join `ssid` (WPA2) as a station; returns the board's IP.  OSError(ETIMEDOUT, text) past timeout_ms
    (the cc3200 reports a wrong key or a missing AP only as a timeout)."""
    from network import WLAN
    w = WLAN(mode=WLAN.STA)
    if w.isconnected():
        w.disconnect()  # join with these arguments: a station already up may be on another network or key
    try:
        w.connect(ssid, auth=(WLAN.WPA2, key), timeout=timeout_ms)
    except OSError as e:
        if errno_of(e) == ETIMEDOUT:
            raise OSError(ETIMEDOUT, "wlan: no connection to %r within %d ms (missing AP or wrong key)"
                          % (ssid, timeout_ms))
        raise
    t0 = ticks_ms()
    while not w.isconnected():
        if ticks_diff(ticks_ms(), t0) > timeout_ms:
            raise OSError(ETIMEDOUT, "wlan: no IP from %r within %d ms" % (ssid, timeout_ms))
        time.sleep_ms(50)
    return w.ifconfig()[0]
