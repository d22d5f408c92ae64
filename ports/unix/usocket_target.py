# usocket_target for the MicroPython unix port (Linux): glue between usocket_port and the native `socket`.
#
# Facts this glue absorbs (toolchain-notes.md §2, port-semantics.md §4, §6.1):
#   * connect/bind/sendto take a raw struct sockaddr buffer, recvfrom/accept return one;
#   * no recv_into / recvfrom_into; no IPPROTO_* constants in the module (Linux values are used);
#   * getaddrinfo failures are OSError('[addrinfo error -N]') with a message string;
#   * select.poll registers sockets (but registering a bare int fd crashes this build: never do it).
# The interface every glue implements is described in docs/usocket_port.md.
import errno as _e
import io
import select
import socket as _so
import time

try:
    from micropython import const
except ImportError:
    def const(x):
        return x

NAME = "unix"
Base = io.IOBase  # lets select.poll / asyncio register the wrapper through its ioctl()

EAGAIN = _e.EAGAIN
ETIMEDOUT = _e.ETIMEDOUT
EINPROGRESS = _e.EINPROGRESS
EBADF = _e.EBADF
EINVAL = _e.EINVAL
EIO = _e.EIO
EOPNOTSUPP = _e.EOPNOTSUPP
EALREADY = _e.EALREADY
# Not in MicroPython's errno module; Linux value (this glue targets the Linux unix port).
EISCONN = getattr(_e, "EISCONN", 106)

_IPPROTO_SEC = const(100)  # no native secure sockets: emulated (TLS client on connect), value as on WiPy

CONSTANTS = [
    ("AF_INET", _so.AF_INET),
    ("SOCK_STREAM", _so.SOCK_STREAM),
    ("SOCK_DGRAM", _so.SOCK_DGRAM),
    # Linux values; the native module does not export them but the kernel takes them.
    ("IPPROTO_IP", 0),
    ("IPPROTO_TCP", 6),
    ("IPPROTO_UDP", 17),
    ("TCP_NODELAY", 1),
    ("IPPROTO_SEC", _IPPROTO_SEC),
]
for _k in ("AF_INET6", "SOL_SOCKET", "SO_REUSEADDR", "SO_BROADCAST", "SO_KEEPALIVE", "SO_LINGER", "SO_ERROR",
           "IP_ADD_MEMBERSHIP", "IP_DROP_MEMBERSHIP"):
    if hasattr(_so, _k):
        CONSTANTS.append((_k, getattr(_so, _k)))
del _k

ticks_ms = time.ticks_ms
ticks_add = time.ticks_add
ticks_diff = time.ticks_diff

# struct sockaddr_in template from the C library itself (family field layout/endianness are the host's).
_SA = bytes(_so.getaddrinfo("0.0.0.0", 1, _so.AF_INET, _so.SOCK_DGRAM)[0][-1])


def errno_of(e):
    n = e.args[0] if e.args else EIO
    if type(n) is str:
        # getaddrinfo: '[addrinfo error -2]' -> -2
        i = n.find("error ")
        j = n.find("]")
        try:
            return int(n[i + 6:j])
        except ValueError:
            return EIO
    return n


def addr(ip, port):
    b = bytearray(_SA)
    b[2] = port >> 8
    b[3] = port & 255
    i = 4
    for p in ip.split("."):
        b[i] = int(p)
        i += 1
    return b


def unaddr(b):
    return ("%d.%d.%d.%d" % (b[4], b[5], b[6], b[7]), (b[2] << 8) | b[3])


def getaddrinfo(host, port):
    out = []
    for f, t, p, c, a in _so.getaddrinfo(host, port, _so.AF_INET, _so.SOCK_STREAM):
        out.append((f, t, p, c or "", unaddr(a)))
    return out


def new(af, type, proto):
    if proto == _IPPROTO_SEC:
        proto = 6
    s = _so.socket(af, type, proto)
    s.setblocking(False)
    return s







def connected(s, a):
    # Linux reports a finished non-blocking connect through a second connect(): EISCONN = done,
    # EALREADY/EINPROGRESS = still pending, anything else = the connect's own failure (raised).
    try:
        s.connect(a)
    except OSError as e:
        n = errno_of(e)
        if n == EISCONN:
            return True
        if n == EALREADY or n == EINPROGRESS or n == EAGAIN:
            return False
        raise
    return True




def recv(s, n):
    d = s.recv(n)
    if d is None:
        # A TLS socket (IPPROTO_SEC) reports "would block" as None, not EAGAIN (extmod/modtls_mbedtls.c).
        raise OSError(EAGAIN)
    return d


def recv_into(s, mv):
    d = recv(s, len(mv))
    n = len(d)
    mv[:n] = d
    return n


def recvfrom(s, n):
    return s.recvfrom(n)


def recvfrom_into(s, mv):
    d, a = s.recvfrom(len(mv))
    n = len(d)
    mv[:n] = d
    return n, a



def wait(s, ev, ms):
    # Block until s is ready for ev (select.POLLIN/POLLOUT bits), an error/hangup, or ms passes (-1: forever).
    p = select.poll()
    p.register(s, ev)
    p.poll(ms)


def poll(s, ev):
    # Readiness now (for a stream ioctl(MP_STREAM_POLL)); unused here since poll takes our fileno.
    p = select.poll()
    p.register(s, ev)
    r = p.poll(0)
    return r[0][1] if r else 0


def fileno(s):
    return s.fileno()


# IPPROTO_SEC: connect, then wrap with MicroPython's `tls` module (usocket_port/_mptls.py, shared by the
# glues whose firmware has it); loaded on first use so the import heap stays small.
def tls_setup(ca_path=None, hostname=None):
    from usocket_port import _mptls
    _mptls.tls_setup(ca_path, hostname)


def secure(s, host):
    from usocket_port import _mptls
    return _mptls.secure(s, host)
