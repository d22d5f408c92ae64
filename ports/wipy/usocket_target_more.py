# usocket_target_more for WiPy 1.0: the parts of the glue (ports/wipy/usocket_target.py, whose header lists the
# facts) used rarely, loaded on first use through usocket_target.__getattr__.
import time

# (the native socket module as the glue imported it: after usocket_port.install(), `import socket` is ours)
from usocket_target import EINVAL, EOPNOTSUPP, ETIMEDOUT, errno_of, socket, ticks_diff, ticks_ms

# MicroPython's internal errno numbers (py/mperrno.h, MICROPY_USE_INTERNAL_ERRNO=1 on cc3200), for the names
# the cc3200 `errno` module leaves out.  Cases and users look names up here when errno lacks them.
ERRNO = {
    "EPERM": 1, "ENOENT": 2, "EIO": 5, "EBADF": 9, "EAGAIN": 11, "ENOMEM": 12, "EACCES": 13, "EEXIST": 17,
    "ENODEV": 19, "EISDIR": 21, "EINVAL": 22, "EOPNOTSUPP": 95, "EADDRINUSE": 98, "ECONNABORTED": 103,
    "ECONNRESET": 104, "ENOBUFS": 105, "EISCONN": 106, "ENOTCONN": 107, "ETIMEDOUT": 110,
    "ECONNREFUSED": 111, "EHOSTUNREACH": 113, "EALREADY": 114, "EINPROGRESS": 115,
}
NAME = "wipy"
cert_reqs = None  # ssl.CERT_REQUIRED once tls_setup() named the CA (CA_PATH); None: CERT_NONE, WiPy's default
CA_PATH = "/flash/cert/ca.pem"  # the one CA name the FTP server stores for the NWP (ftp/updater.c)
# Why a CA written by Python never reaches the NWP (tests/device/cases/tls_verify.py skips with it unless the
# host installed the CA over FTP: env["ca_installed"], host_harness/board/network.py).
CA_UPLOAD = "WiPy's network processor reads the CA from its hidden file system, which only the FTP server " \
            "writes (ports/cc3200/ftp/updater.c: upload to /flash/cert/ca.pem; docs/wipy/general.rst)"
# ports/cc3200/mods/modssl.c hands SimpleLink only the CA file: the network processor checks the chain and
# dates, never the certificate's host name.
NO_HOSTNAME_CHECK = "WiPy's network processor (SimpleLink) does not check certificate host names " \
                    "(ports/cc3200/mods/modssl.c passes only the CA file)"


def getaddrinfo(host, port):
    try:
        r = socket.getaddrinfo(host, port)  # exactly two arguments on cc3200
    except OSError as e:
        n = errno_of(e)
        raise OSError(-n if n > 0 else n)  # positive SimpleLink DNS codes -> the seed's negative numbers
    # (proto 0 natively)
    return [(f, socket.SOCK_STREAM, socket.IPPROTO_TCP, c or "", (a[0], a[1])) for f, t, p, c, a in r]


def tls_setup(ca_path=None, hostname=None):
    """THE call that turns certificate checking on for IPPROTO_SEC sockets (docs/ports.md).  On WiPy the CA
    must have been uploaded over FTP to /flash/cert/ca.pem: the network processor reads it from its own
    hidden file system (CA_UPLOAD), so the file is not visible to Python and is not opened here.  Any other
    path is refused with OSError(EINVAL).  The CC3200 network processor cannot check host names: a hostname
    is refused with OSError(EOPNOTSUPP) rather than silently not checked."""
    if hostname is not None:
        raise OSError(EOPNOTSUPP, "WiPy's network processor cannot check certificate host names")
    if ca_path is not None and ca_path != CA_PATH:
        raise OSError(EINVAL, "on WiPy the CA is %r, uploaded over FTP (got %r)" % (CA_PATH, ca_path))
    global cert_reqs
    if ca_path is None:
        cert_reqs = None
    else:
        import ssl
        cert_reqs = ssl.CERT_REQUIRED


def wrap_socket(s):
    # IPPROTO_SEC: ssl.wrap_socket() BEFORE connect (the network processor does the handshake in connect()),
    # asking for TLS 1.2, with the CA from tls_setup() if any.  The native socket is closed on failure.
    import ssl
    v = getattr(ssl, "PROTOCOL_TLSv1_2", 3)  # SL_SO_SEC_METHOD_TLSV1_2, not the TLS 1.0 default
    try:
        if cert_reqs is None:
            return ssl.wrap_socket(s, ssl_version=v)
        return ssl.wrap_socket(s, cert_reqs=cert_reqs, ca_certs=CA_PATH, ssl_version=v)
    except Exception:
        s.close()
        raise


def fileno(s):
    return -1  # SimpleLink descriptors are not file descriptors: poll goes through ioctl


def secure(s, host, ms):
    return s  # the network processor did the handshake inside connect()


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
