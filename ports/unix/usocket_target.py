# usocket_target for the MicroPython unix port (Linux): glue between usocket_port and the native `socket`.
#
# Facts this glue absorbs (toolchain-notes.md §2, port-semantics.md §4, §6.1):
#   * connect/bind/sendto take a raw struct sockaddr buffer, recvfrom/accept return one;
#   * no recv_into / recvfrom_into; no IPPROTO_* constants in the module (Linux values are used);
#   * getaddrinfo failures are OSError('[addrinfo error -N]') with a message string;
#   * select.poll registers sockets (but registering a bare int fd crashes this build: never do it).
# The interface every glue implements is described in docs/usocket_port.md.
import errno
import io
import socket
import time

try:
    from micropython import const
except ImportError:
    const = int

# Import heap (docs/usocket_port.md, "Memory"): every global, function and new name (qstr) stays in RAM, so
# this glue defines only what differs from the core's defaults for MicroPython sockets: recv/recv_into
# (None from a TLS object = EAGAIN)/wait (select.poll) in usocket_port/__init__.py, recvfrom/recvfrom_into/
# poll/fileno in usocket_port/_more.py, secure/tls_setup in usocket_port/_mptls.py are what this port needs;
# argument names are ones the firmware already has as qstrs.

NAME = "unix"
IOBase = io.IOBase  # lets select.poll / asyncio register the wrapper through its ioctl()

# EAGAIN, ETIMEDOUT... come from `errno` (the core's default); EISCONN is not in MicroPython's errno module:
# the Linux value (this glue targets the unix port), for the core's default connected() (second connect()).
EISCONN = const(106)
_IPPROTO_SEC = const(100)  # no native secure sockets: emulated (TLS client on connect), value as on WiPy


def CONSTANTS():
    # Called once per core import (a function, so no list stays in RAM).
    out = [
        ("AF_INET", socket.AF_INET),
        ("SOCK_STREAM", socket.SOCK_STREAM),
        ("SOCK_DGRAM", socket.SOCK_DGRAM),
        # Linux values; the native module does not export them but the kernel takes them.
        ("IPPROTO_IP", 0),
        ("IPPROTO_TCP", 6),
        ("IPPROTO_UDP", 17),
        ("TCP_NODELAY", 1),
        ("IPPROTO_SEC", _IPPROTO_SEC),
    ]
    for n in ("AF_INET6", "SOL_SOCKET", "SO_REUSEADDR", "SO_BROADCAST", "SO_KEEPALIVE", "SO_LINGER", "SO_ERROR",
              "IP_ADD_MEMBERSHIP", "IP_DROP_MEMBERSHIP", "MSG_PEEK", "MSG_DONTWAIT"):
        if hasattr(socket, n):
            out.append((n, getattr(socket, n)))
    return out


ticks_ms = time.ticks_ms
ticks_add = time.ticks_add
ticks_diff = time.ticks_diff


def errno_of(e):
    n = e.args[0] if e.args else errno.EIO
    if type(n) is str:
        # getaddrinfo: '[addrinfo error -2]' -> -2 (split(), not find("error "): no string constants to intern)
        try:
            return int(n.split()[-1][:-1])
        except ValueError:
            return errno.EIO
    return n


# data: a struct sockaddr_in template from the C library itself (family field layout/endianness are the
# host's), made once when the def runs and kept as the default (no module global).
def addr(host, port, data=bytes(socket.getaddrinfo("0.0.0.0", 1, socket.AF_INET, socket.SOCK_DGRAM)[0][-1])):
    b = bytearray(data)
    b[2] = port >> 8
    b[3] = port & 255
    n = 4
    for v in host.split("."):
        b[n] = int(v)
        n += 1
    return b


def unaddr(b):
    return ("%d.%d.%d.%d" % (b[4], b[5], b[6], b[7]), (b[2] << 8) | b[3])


def getaddrinfo(host, port):
    out = []
    for f, t, p, c, a in socket.getaddrinfo(host, port, socket.AF_INET, socket.SOCK_STREAM):
        out.append((f, t, p, c or "", unaddr(a)))
    return out


def new(f, type, n):
    # (family, type, proto): IPPROTO_SEC is plain TCP here, TLS comes on connect.
    s = socket.socket(f, type, 6 if n == _IPPROTO_SEC else n)
    s.setblocking(False)
    return s



del const  # only needed while compiling/importing: one dict entry less (import heap)
