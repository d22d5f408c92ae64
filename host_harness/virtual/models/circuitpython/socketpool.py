# Port model (circuitpython): `socketpool` on CircuitPython 9 espressif, reproduced on the unix port over the
# real unix socket.  API shape from shared-bindings/socketpool/SocketPool.c and Socket.c, behaviour from
# ports/espressif/common-hal/socketpool/Socket.c:
#   * SocketPool(wifi.radio) only; constants live on the pool instance; no module-level socket(); a
#     `gaierror` class (OSError subclass) with args (-2, "Name or service not known") for any failure;
#   * Socket has recv_into(buf[, nbytes]) / recvfrom_into(buf) only (no recv/recvfrom), listen(backlog)
#     with a required backlog whose failure is ignored, no fileno/makefile/read/write;
#   * every lwIP socket is O_NONBLOCK inside; blocking and timeouts are loops (RUN_BACKGROUND_TASKS);
#     newlib errno numbers (ETIMEDOUT 116, ENOTCONN 128);
#   * connect(): immediate success, else select() in SOCKET_CONNECT_POLL_INTERVAL_MS = 100 ms steps for
#     timeout_ms; with timeout 0 (non-blocking) the loop is skipped -> OSError(ETIMEDOUT) at once and the
#     socket is never marked connected (later send() -> BrokenPipeError);
#   * recv_into(): non-blocking at EOF -> OSError(ENOTCONN 128), no data -> EAGAIN (11); blocking: 0 at EOF,
#     ETIMEDOUT on timeout;
#   * send()/sendall() on a socket that is not connected -> BrokenPipeError; sendto()/recvfrom_into()
#     failures -> BrokenPipeError; bind()/connect()/sendto() resolve host names; bind("") is ANY;
#   * "Out of sockets" RuntimeError past CONFIG_LWIP_MAX_SOCKETS (8 in CircuitPython's espressif
#     sdkconfig; verify on hardware).
import io
import select
import utime as time  # the interpreter's own (time.py here is CircuitPython's)
import usocket as _u

import cp_builtins  # noqa: F401  (BrokenPipeError, ConnectionError)
import wifi

from micropython import const
from unix_sockaddr import poll_one as _poll, unaddr as _unaddr  # models/_common

_MAX_SOCKETS = const(8)
_POLL_MS = const(100)  # SOCKET_CONNECT_POLL_INTERVAL_MS
_SPIN_MS = const(5)  # the model's stand-in for one RUN_BACKGROUND_TASKS round
_FOREVER = const(-1)
_EAGAIN = const(11)
_EBADF = const(9)
_ETIMEDOUT = const(116)
_ENOTCONN = const(128)
_LX = {
    98: 112, 103: 113, 107: 128, 110: 116, 113: 118, 114: 120, 115: 119, 106: 127, 101: 114, 99: 125,
    97: 106, 92: 109, 24: 23,
}
_open = [0]


class gaierror(OSError):
    pass


def _os(e):
    n = e.args[0] if e.args else 5
    return OSError(_LX.get(n, n))


def _resolve(host, port, kind):
    # Names under the network rule (models/_common/host_resolver.py), imported at the first look-up: its names
    # interned at start-up would take the last free entries of the qstr pool the layer's names fill
    # (tests/host/test_import_heap.py), which on the board are C names in flash.
    import host_resolver

    if host == "<broadcast>":
        host = "255.255.255.255"
    try:
        return _u.getaddrinfo(host_resolver.checked(host or "0.0.0.0"), port, _u.AF_INET, kind)[0][-1]
    except OSError:
        raise gaierror(-2, "Name or service not known")


def _now():
    return time.ticks_ms()


class SocketPool:
    AF_INET = const(2)
    AF_INET6 = const(10)
    SOCK_STREAM = const(1)
    SOCK_DGRAM = const(2)
    SOCK_RAW = const(3)
    IPPROTO_IP = const(0)
    IPPROTO_ICMP = const(1)
    IPPROTO_TCP = const(6)
    IPPROTO_UDP = const(17)
    IPPROTO_IPV6 = const(41)
    IPPROTO_RAW = const(255)
    TCP_NODELAY = const(1)
    IP_MULTICAST_TTL = const(5)
    SOL_SOCKET = const(0xFFF)
    SO_REUSEADDR = const(4)
    EAI_NONAME = const(-2)
    gaierror = gaierror

    def __init__(self, radio):
        if radio is not wifi.radio:
            raise ValueError("SocketPool can only be used with wifi.radio")

    def socket(self, family=AF_INET, type=SOCK_STREAM, proto=IPPROTO_IP):
        if family != 2:
            raise NotImplementedError("Unsupported socket type")
        if _open[0] >= _MAX_SOCKETS:
            raise RuntimeError("Out of sockets")
        s = _u.socket(2, type, 0)
        s.setblocking(False)
        _open[0] += 1
        return Socket(s, type)

    def getaddrinfo(self, host, port, family=0, type=0, proto=0, flags=0):
        if not isinstance(port, int):
            raise TypeError("can't convert str to int")
        try:
            import host_resolver  # (at the first look-up: see _resolve)

            r = _u.getaddrinfo(host_resolver.checked(host), port, _u.AF_INET, _u.SOCK_STREAM)
        except OSError:
            raise gaierror(-2, "Name or service not known")
        return [(2, 1, 6, "", _unaddr(a[-1])) for a in r]


class Socket(io.IOBase):  # IOBase only so the unix select.poll takes it (CP: C stream protocol)
    def __init__(self, s, type, connected=False):
        self._s = s
        self._type = type
        self._ms = _FOREVER  # timeout_ms, (uint)-1 when blocking
        self._connected = connected

    @property
    def type(self):
        return self._type

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()

    def _n(self):
        if self._s is None:
            raise OSError(_EBADF)
        return self._s

    def _timed_out(self, t0):
        return self._ms > 0 and time.ticks_diff(_now(), t0) >= self._ms

    def close(self):
        if self._s is not None:
            self._s.close()
            self._s = None
            self._connected = False
            _open[0] -= 1

    def bind(self, address):
        host, port = address
        if port < 0:
            raise ValueError("port must be >= 0")
        s = self._n()
        try:
            s.bind(_resolve(host, port, _u.SOCK_STREAM))
        except gaierror:
            raise
        except OSError as e:
            raise _os(e)

    def listen(self, backlog):
        try:
            self._n().listen(backlog)
        except OSError:
            pass  # common_hal_socketpool_socket_listen()'s bool is ignored by the binding

    def accept(self):
        s = self._n()
        t0 = _now()
        while True:
            timed_out = self._timed_out(t0)
            try:
                ns, sa = s.accept()
                break
            except OSError as e:
                if self._ms == 0:
                    raise OSError(_EAGAIN)
                if e.args[0] != _EAGAIN and e.args[0] != 11:
                    raise _os(e)
            if timed_out:
                raise OSError(_ETIMEDOUT)
            _poll(s, select.POLLIN, _SPIN_MS)
        if _open[0] >= _MAX_SOCKETS:
            ns.close()
            raise OSError(_EBADF)
        _open[0] += 1
        ns.setblocking(False)
        c = Socket(ns, self._type, True)
        return c, _unaddr(sa)

    def connect(self, address):
        host, port = address
        if port < 0:
            raise ValueError("port must be >= 0")
        s = self._n()
        sa = _resolve(host, port, _u.SOCK_STREAM)
        try:
            s.connect(sa)
            self._connected = True
            return
        except OSError as e:
            if e.args[0] != 115:
                raise _os(e)
        left = self._ms if self._ms >= 0 else 0x7FFFFFFF
        while left > 0:
            if _poll(s, select.POLLOUT, _POLL_MS):
                try:
                    s.connect(sa)  # SO_ERROR: here, the second connect() tells
                except OSError as e:
                    if e.args[0] != 106:
                        raise _os(e)
                self._connected = True
                return
            left = left - _POLL_MS if left > _POLL_MS else 0
        raise OSError(_ETIMEDOUT)  # "The connection attempt is not stopped"

    def recv_into(self, buffer, bufsize=0):
        s = self._n()
        mv = memoryview(buffer)
        n = len(mv)
        if bufsize:
            if bufsize > n:
                raise ValueError("buffer too small for requested bytes")
            if 0 < bufsize < n:
                n = bufsize
        if n == 0:
            return 0
        t0 = _now()
        while True:
            timed_out = self._timed_out(t0)
            try:
                d = s.recv(n)
            except OSError as e:
                d = None
                err = e.args[0]
            if self._ms == 0 and not d:
                if d is not None or err == 107:  # EOF or ENOTCONN
                    self._connected = False
                    raise OSError(_ENOTCONN)
                raise OSError(_EAGAIN)
            if d is not None:
                mv[:len(d)] = d
                return len(d)
            if timed_out:
                raise OSError(_ETIMEDOUT)
            _poll(s, select.POLLIN, _SPIN_MS)

    def recvfrom_into(self, buffer):
        s = self._n()
        mv = memoryview(buffer)
        t0 = _now()
        while True:
            timed_out = self._timed_out(t0)
            try:
                d, sa = s.recvfrom(len(mv))
                mv[:len(d)] = d
                return len(d), _unaddr(sa)
            except OSError as e:
                if self._ms == 0:
                    raise OSError(_EAGAIN)
                if e.args[0] != 11:
                    raise BrokenPipeError()
            if timed_out:
                raise OSError(_ETIMEDOUT)
            _poll(s, select.POLLIN, _SPIN_MS)

    def send(self, bytes):
        s = self._n()
        if not self._connected:
            raise BrokenPipeError()
        try:
            return s.send(bytes)
        except OSError as e:
            if e.args[0] in (104, 107):
                self._connected = False
            raise _os(e)

    def sendall(self, bytes):
        mv = memoryview(bytes)
        while len(mv):
            n = self.send(mv)
            mv = mv[n:]

    def sendto(self, bytes, address):
        host, port = address
        if port < 0:
            raise ValueError("port must be >= 0")
        s = self._n()
        try:
            return s.sendto(bytes, _resolve(host, port, _u.SOCK_DGRAM))
        except gaierror:
            raise
        except OSError:
            raise BrokenPipeError()

    def setblocking(self, flag):
        self._ms = _FOREVER if flag else 0

    def settimeout(self, value):
        self._ms = _FOREVER if value is None else int(1000 * value)

    def setsockopt(self, level, optname, value):
        s = self._n()
        # lwip_setsockopt() with lwIP's numbers -> the unix kernel's
        if (level, optname) == (0xFFF, 4):
            lv, on = _u.SOL_SOCKET, _u.SO_REUSEADDR
        elif (level, optname) == (6, 1):
            lv, on = 6, 1
        elif (level, optname) == (0, 5):
            lv, on = 0, 33
        else:
            raise OSError(109)  # ENOPROTOOPT
        try:
            s.setsockopt(lv, on, value)
        except OSError as e:
            raise _os(e)

    # select.poll support (the C Socket has a stream protocol for poll only; this is its stand-in)
    def ioctl(self, req, arg):
        if req == 3:
            if self._s is None:
                return 0x20
            r = _poll(self._s, arg, 0)
            return r[0][1] if r else 0
        return -22
