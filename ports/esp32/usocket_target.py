# usocket_target for MicroPython on ESP32 (ports/esp32: ESP-IDF lwIP sockets): glue between usocket_port
# and the native `socket`.  Interface: docs/usocket_port.md; per-target notes: docs/ports.md.
#
# Facts this glue absorbs (port-semantics.md §1, §2, §4, §6.2, §7.1):
#   * newlib errno numbers (ETIMEDOUT 116, EINPROGRESS 119, ENOTCONN 128): always taken from `errno`, and
#     EISCONN (not in the esp32 errno module) from a fallback;
#   * 100 ms timeout quanta and EAGAIN for timeouts under 0.1 s: never seen, the native socket stays
#     non-blocking and the core waits with select.poll, so a timeout is always ETIMEDOUT;
#   * connect()/bind() would resolve hostnames: the core refuses any non-numeric address first;
#   * b'' is latched after FIN by the firmware: that already is the EOF the core expects;
#   * no recv_into/recvfrom_into: the core's defaults synthesise them; SOL_SOCKET 0xfff, SO_REUSEADDR 4 come
#     from the module;
#   * a refused non-blocking connect: lwIP frees the pcb on the RST, so the second connect() (the core's
#     "is it connected?" after POLLOUT) says ENOTCONN (ERR_CLSD; esp-lwip src/api/api_msg.c, err.c has no
#     ECONNREFUSED): the core's default connected() reports it as ECONNRESET, what SO_ERROR says;
#   * IPPROTO_SEC: a plain TCP socket, then connect-then-wrap with the firmware's TLS (tls/ssl module): the
#     core's default secure() (usocket_port/_mptls.py).
# Left to the core's defaults for MicroPython sockets (docs/usocket_port.md, "Glue interface"): addr/unaddr
# (tuples), errno numbers, connected, recv/recv_into/recvfrom/recvfrom_into, wait/poll (select.poll), fileno,
# secure.
# No float literals (shared rule), const() for constants.
import errno as _e
import io
import socket
import time

try:
    from micropython import const
except ImportError:
    def const(x):
        return x

NAME = "esp32"
IOBase = io.IOBase  # select.poll / asyncio reach the wrapper through its ioctl()

# EAGAIN, ETIMEDOUT... come from `errno` (the core's default); EISCONN is for the core's default connected()
# (lwIP answers a second connect(): EISCONN done, EALREADY/EINPROGRESS pending, else the failure).
EIO = _e.EIO
EISCONN = getattr(_e, "EISCONN", 127)  # newlib's value; py/moderrno.c does not list it

_IPPROTO_SEC = const(100)  # emulated, value as on WiPy

def CONSTANTS():
    # Called once by the core (a function: no list stays in RAM).
    out = [("IPPROTO_SEC", _IPPROTO_SEC)]
    for n in ("AF_INET", "AF_INET6", "SOCK_STREAM", "SOCK_DGRAM", "SOCK_RAW", "IPPROTO_IP", "IPPROTO_TCP",
              "IPPROTO_UDP", "SOL_SOCKET", "SO_REUSEADDR", "SO_BROADCAST", "SO_BINDTODEVICE", "TCP_NODELAY",
              "IP_ADD_MEMBERSHIP", "MSG_PEEK", "MSG_DONTWAIT"):
        if hasattr(socket, n):
            out.append((n, getattr(socket, n)))
    return out

ticks_ms = time.ticks_ms
ticks_add = time.ticks_add
ticks_diff = time.ticks_diff


def errno_of(e):
    n = e.args[0] if e.args else EIO
    return n if type(n) is int else EIO


def getaddrinfo(host, port):
    out = []
    for f, t, p, c, a in socket.getaddrinfo(host, port):
        if f == socket.AF_INET and a is not None:  # IPv6 entries carry addr None on this port
            out.append((f, socket.SOCK_STREAM, socket.IPPROTO_TCP, c or "", (a[0], a[1])))  # lwIP leaves 0s
    return out


def new(af, type, proto):
    if proto == _IPPROTO_SEC:
        proto = socket.IPPROTO_TCP
    s = socket.socket(af, type, proto)
    s.setblocking(False)
    return s


# ---- setsockopt ----------------------------------------------------------------------------------------
def setsockopt(s, level, opt, value):
    # ports/esp32/modsocket.c socket_setsockopt reads the value with mp_obj_get_int: the seed's buffer form
    # (a native int in 4 bytes) is turned into that int here.  ESP32 chips are little-endian.
    if not isinstance(value, int):
        value = int.from_bytes(bytes(value), "little")
    s.setsockopt(level, opt, value)


# IPPROTO_SEC: connect, then wrap with MicroPython's `tls` module -- the core's defaults secure() and
# usocket_port.tls_setup() (usocket_port/_mptls.py, loaded on first use) are exactly this firmware's path.


def __getattr__(name):
    # The network bring-up (connect_network) lives in usocket_target_more, loaded on first use: its names
    # (network, WLAN, STA_IF...) cost no RAM at `import usocket_port`.
    if name == "connect_network":
        import usocket_target_more
        return usocket_target_more.connect_network
    raise AttributeError(name)
