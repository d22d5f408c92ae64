# usocket_target for CircuitPython 9 (espressif): glue between usocket_port and socketpool.SocketPool(wifi.radio).
# Interface: docs/usocket_port.md; notes: docs/ports.md.
#
# Facts this glue absorbs (port-semantics.md §3, §5, §6.6, §7.3):
#   * no socket module: one SocketPool(wifi.radio); constants live on the pool instance;
#   * only recv_into/recvfrom_into: recv/recvfrom are synthesised;
#   * listen(backlog) has no default (the core always passes one);
#   * getaddrinfo failures are SocketPool.gaierror (an OSError subclass): re-raised as plain OSError(-2);
#   * send() on a socket CircuitPython does not consider connected is BrokenPipeError -> EPIPE;
#   * non-blocking connect is broken (timeout 0 -> ETIMEDOUT at once, and the socket never counts as
#     connected): connect() here reports EINPROGRESS as the seed says, and the real connect runs later,
#     with the socket's remaining time as its timeout, when the core waits for POLLOUT (wait()), polls
#     (poll()) or asks connected();
#   * a non-blocking recv_into at EOF raises ENOTCONN: that is EOF (0) here;
#   * IPPROTO_SEC: ssl.create_default_context().wrap_socket(sock, server_hostname=...) BEFORE connect; the
#     wrapped socket's connect does TCP + handshake.
# No float literals (shared rule), const() for constants.
# (as e: a compiler with MICROPY_COMP_MODULE_CONST folds a literal `errno.X` to its own build's number, wrong on
# the virtual board's port model; `e`, a name the firmware already has)
import errno as e
import select
import time

import socketpool
import wifi

try:
    import io
    IOBase = getattr(io, "IOBase", object)
except ImportError:
    IOBase = object

try:
    from micropython import const
except ImportError:  # CircuitPython without micropython.const: the identity on ints (no new name)
    const = int

NAME = "circuitpython"

# EAGAIN, ETIMEDOUT... come from `errno` (the core's default, usocket_port/__init__.py); these are this glue's own.
EIO = e.EIO
EINPROGRESS = e.EINPROGRESS
ENOTCONN = e.ENOTCONN
del e
_EPIPE = const(32)  # newlib's sys/errno.h; CircuitPython's py/moderrno.c does not list EPIPE

_IPPROTO_SEC = const(100)  # emulated, value as on WiPy
_CONNECT_MS = const(10000)  # connect budget when the connect finishes outside a timed wait

# The one pool, under the module's own name (a name the firmware interns: no new one in RAM).
socketpool = socketpool.SocketPool(wifi.radio)

def CONSTANTS():
    # Called once by the core (a function: no list stays in RAM).
    out = [("IPPROTO_SEC", _IPPROTO_SEC)]
    for n in ("AF_INET", "AF_INET6", "SOCK_STREAM", "SOCK_DGRAM", "SOCK_RAW", "IPPROTO_IP", "IPPROTO_TCP",
              "IPPROTO_UDP", "SOL_SOCKET", "SO_REUSEADDR", "TCP_NODELAY", "IP_MULTICAST_TTL"):
        if hasattr(socketpool, n):
            out.append((n, getattr(socketpool, n)))
    return out

if hasattr(time, "ticks_ms"):  # the virtual board's port model runs on MicroPython
    ticks_ms = time.ticks_ms
    ticks_add = time.ticks_add
    ticks_diff = time.ticks_diff
else:
    def ticks_ms():
        return time.monotonic_ns() // 1000000

    def ticks_add(t, ms):
        return t + ms

    def ticks_diff(a, t):
        return a - t


def errno_of(e):
    if isinstance(e, BrokenPipeError):
        return _EPIPE
    n = e.args[0] if e.args else EIO
    return n if type(n) is int else EIO


class socket:
    # A socketpool Socket plus what CircuitPython lacks: a pending connect (address, outcome) and TLS.
    # (Class, attribute and argument names are ones the firmware interns already: no new names in RAM.)
    def __init__(self, n, ssl):
        self.n = n
        self.ssl = ssl  # IPPROTO_SEC: wrapped for TLS when the connect runs
        self.p = None  # address of a connect that has not run yet
        self.a = None  # the address connected to (wrap() connects again, with TLS)
        self.e = None  # its failure, kept for connected()

    def __getattr__(self, name):
        # close, bind, listen, setsockopt, setblocking, sendto: the socketpool Socket's own (one method
        # instead of six wrappers: each resident function costs RAM)
        return getattr(self.n, name)

    def connect(self, a):
        self.p = a
        self.a = a
        raise OSError(EINPROGRESS)

    def send(self, buf):
        if self.p is not None:
            # a write right after a non-blocking connect (not EPIPE): the connect runs now, its failure
            # is the write's
            wait(self, 0, _CONNECT_MS)
            connected(self, None)
        return self.n.send(buf)


def new(af, type, proto):
    n = socketpool.socket(af, type)
    n.setblocking(False)
    return socket(n, proto == _IPPROTO_SEC)


def connected(s, a):
    if s.p is not None:
        return False  # not run yet: the core's wait() runs it, with the socket's own time
    e = s.e
    if e is not None:
        s.e = None
        raise e
    return True


def recv_into(s, mv):
    if s.p is not None:
        wait(s, 0, _CONNECT_MS)  # a read while the connect has not run: it runs now, its failure is the read's
        connected(s, None)
    try:
        return s.n.recv_into(mv)
    except OSError as e:
        if errno_of(e) == ENOTCONN:
            return 0  # non-blocking recv_into at EOF (espressif): EOF
        raise


def recv(s, n):
    # Synthesised from recv_into: one buffer and the bytes the API must return (no slice copy between).
    b = bytearray(n)
    k = recv_into(s, b)
    return bytes(b) if k == n else bytes(memoryview(b)[:k])


def wait(s, ev, ms):
    if s.p is not None:
        # A pending connect: the real one is the wait, once, within ms (CircuitPython's connect only works
        # with a timeout); its failure is kept for connected().
        a = s.p
        s.p = None
        n = s.n
        try:
            n.settimeout(None if ms < 0 else (ms if ms > 0 else 1) / 1000)
            if s.ssl:
                t = __import__("usocket_target_more").tls(n, a)  # the TLS wrap, in the lazy part
                t.connect(a)
                s.n = t
            else:
                n.connect(a)
        except OSError as e:
            s.e = e
        s.n.setblocking(False)
        return
    p = select.poll()
    p.register(s.n, ev)
    p.poll(ms)


def __getattr__(name):
    # The rarely used parts (DNS, server side, datagrams, readiness for select, TLS, network bring-up, texts)
    # live in usocket_target_more, loaded on first use: `import usocket_port` stays small.
    # (__import__ of a long string: the lazy part's name is not interned at `import usocket_port`)
    if name in ("getaddrinfo", "accept", "recvfrom_into", "recvfrom", "poll", "secure", "wrap", "tls_setup",
                "connect_network", "PEER_RESET_IS_EOF"):
        return getattr(__import__("usocket_target_more"), name)
    raise AttributeError(name)
