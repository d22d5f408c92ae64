# usocket_target for WiPy 1.0 (MicroPython ports/cc3200, TI CC3200 with the SimpleLink network processor):
# glue between usocket_port and the native `socket`.  Interface: docs/usocket_port.md; notes: docs/ports.md.
#
# Facts this glue absorbs (port-semantics.md §1, §5, §6.4, §7.2):
#   * NO float literals anywhere in this file: the cc3200 build has no float support (a float literal is a
#     SyntaxError at import) -- tests/host/test_no_floats.py checks it;
#   * `errno` has only EPERM EIO ENODEV EINVAL ETIMEDOUT: everything else comes from the fallback table
#     ERRNO in usocket_target_more.py (MicroPython's internal numbers, which the cc3200 build uses);
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
import errno as e  # (e: a name the firmware already has; deleted below)
import io
import socket
import time

try:
    from micropython import const
except ImportError:
    def const(x):
        return x

IOBase = io.IOBase

# The errno numbers the core needs, with MicroPython's internal numbers (py/mperrno.h,
# MICROPY_USE_INTERNAL_ERRNO=1 on cc3200) where the cc3200 `errno` module leaves the name out; the full table
# for other names is ERRNO in usocket_target_more.
EAGAIN = getattr(e, "EAGAIN", 11)
ETIMEDOUT = getattr(e, "ETIMEDOUT", 110)
EINPROGRESS = getattr(e, "EINPROGRESS", 115)
EBADF = getattr(e, "EBADF", 9)
EINVAL = getattr(e, "EINVAL", 22)
EIO = getattr(e, "EIO", 5)
EOPNOTSUPP = getattr(e, "EOPNOTSUPP", 95)
EALREADY = getattr(e, "EALREADY", 114)
EISCONN = getattr(e, "EISCONN", 106)
_ESECSNOVERIFY = const(453)  # SL_ESECSNOVERIFY, negated: connected without server verification
_ESECDATEERROR = const(461)  # SL_ESECDATEERROR, negated: connected, but the certificate's dates are bad
TX_MAX = const(1386)  # bytes per native write: one sl_Send chunk on a secure socket (1460 plain)
_SL_SOL_SOCKET = const(1)  # SimpleLink values: setsockopt passes level/option straight to sl_SetSockOpt


def CONSTANTS():
    # Called once by the core (a function: no list stays in RAM).
    return [("SOL_SOCKET", _SL_SOL_SOCKET), ("SO_KEEPALIVE", 9), ("SO_RCVTIMEO", 20), ("AF_INET", socket.AF_INET),
            ("SOCK_STREAM", socket.SOCK_STREAM), ("SOCK_DGRAM", socket.SOCK_DGRAM), ("IPPROTO_TCP", socket.IPPROTO_TCP),
            ("IPPROTO_UDP", socket.IPPROTO_UDP), ("IPPROTO_SEC", socket.IPPROTO_SEC)]


ticks_ms = time.ticks_ms
ticks_add = time.ticks_add
ticks_diff = time.ticks_diff


def errno_of(e):
    n = e.args[0] if e.args else EIO
    return n if type(n) is int else EIO


def new(af, type, proto):
    s = socket.socket(af, type, proto)
    if proto == socket.IPPROTO_SEC:
        import usocket_target_more  # the TLS wrap (and its names) in the lazy part
        s = usocket_target_more.wrap_socket(s)
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
        if n == _ESECSNOVERIFY:
            import usocket_target_more  # loaded already: new() wrapped this socket there
            if usocket_target_more.cert_reqs is None:  # (a name the firmware has, as ssl's keyword)
                return True
        raise
    return True


def __getattr__(name):
    # The rarely used parts (DNS, TLS setup, network bring-up, the errno table, texts) live in
    # usocket_target_more, compiled and loaded on first use: `import usocket_port` stays small.
    if name in ("getaddrinfo", "tls_setup", "fileno", "secure", "connect_network", "ERRNO", "CA_PATH",
                "CA_UPLOAD", "NO_HOSTNAME_CHECK", "NAME"):
        import usocket_target_more
        return getattr(usocket_target_more, name)
    raise AttributeError(name)
