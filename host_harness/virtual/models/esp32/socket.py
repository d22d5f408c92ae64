# Port model (esp32): MicroPython's esp32 `socket` module (ports/esp32/modsocket.c over ESP-IDF lwIP),
# reproduced on the unix port over the real unix socket.  What it reproduces, each from that file unless
# noted:
#   * newlib errno numbers (ETIMEDOUT 116, EINPROGRESS 119, ENOTCONN 128...; see errno.py here);
#   * every wait is a loop of `retries + 1` tries of SOCKET_POLL_US = 100 ms; retries = timeout_ms / 100,
#     so settimeout(1) gives up after ~1.1 s and a timeout under 0.1 s gives EAGAIN instead of ETIMEDOUT;
#   * tuple addresses; bind()/connect() run getaddrinfo on the host, so hostnames work there;
#     sendto() takes a numeric IP only;
#   * SOCKET_STATE_NEW/CONNECTED/PEER_CLOSED: recv on a fresh stream socket is ENOTCONN, and b'' is latched
#     once the peer closed (lwIP reports 0 only once);
#   * the lwIP socket limit: CONFIG_LWIP_MAX_SOCKETS, ESP-IDF's default 10 (ports/esp32/boards/sdkconfig.base
#     does not change it); socket() retries once after gc.collect() on ENFILE (23), accept() does not;
#   * setsockopt switches on the option only (level ignored): SO_REUSEADDR/SO_BROADCAST/TCP_NODELAY take an
#     int (a bytes value is a TypeError), unknown options print a warning and do nothing;
#   * a refused connect (esp-lwip src/api/api_msg.c err_tcp(): the RST frees the pcb, pending_err ERR_RST):
#     blocking, connect() raises what SO_ERROR says, err_to_errno(ERR_RST) = ECONNRESET (104; lwIP's table in
#     src/api/err.c has no ECONNREFUSED); non-blocking, connect() says EINPROGRESS (lwIP learns of the RST
#     later) and every later connect() ENOTCONN (128: lwip_netconn_do_connect() on a NULL pcb is ERR_CLSD);
#   * sendall() = send loop, ETIMEDOUT if short; sendto() that cannot send ends in ETIMEDOUT even when
#     non-blocking; getaddrinfo failures are OSError(-202) (lwIP EAI_FAIL, the usual DNS failure).
# Not reproduced: the finaliser (this unix build runs no __del__ on Python classes), so a socket that is
# dropped without close() keeps its lwIP slot here, where the board would free it at the gc retry.
import gc
import io
import select
import uerrno as _lx  # the unix port's own (Linux) numbers
import usocket as _u  # the built-in unix socket (this file shadows `socket`)

import errno as _e  # this model's newlib numbers

from micropython import const
import mp_stream as _stream  # models/_common
from host_resolver import checked as _checked  # models/_common: the network rule for names
from unix_sockaddr import poll_one as _poll, unaddr as _unaddr  # models/_common

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
SOL_SOCKET = const(0xFFF)
SO_REUSEADDR = const(4)
SO_BROADCAST = const(0x20)
SO_BINDTODEVICE = const(0x100B)
TCP_NODELAY = const(1)
IP_ADD_MEMBERSHIP = const(3)
MSG_PEEK = const(1)
MSG_DONTWAIT = const(8)

_POLL_MS = const(100)  # SOCKET_POLL_US
_MAX_SOCKETS = const(10)  # CONFIG_LWIP_MAX_SOCKETS (ESP-IDF default)
_ENFILE = const(23)  # newlib; lwIP's alloc_socket() failure
_EISCONN = const(127)  # newlib (not in the esp32 errno module)
_EAI_FAIL = const(-202)
_FOREVER = const(-1)
_NEW = const(0)
_CONNECTED = const(1)
_PEER_CLOSED = const(2)

# Linux errno -> newlib errno (only the ones that differ or that a socket can produce).
_LX = {
    98: 112, 103: 113, 107: 128, 110: 116, 113: 118, 114: 120, 115: 119, 106: 127, 101: 114, 99: 125,
    97: 106, 90: 122, 92: 109, 93: 123, 89: 121, 100: 115, 88: 108, 108: 110, 112: 117, 102: 126, 24: 23,
}
_open = [0]  # lwIP sockets in use


def _num(e):
    n = e.args[0] if e.args else _lx.EIO
    if type(n) is not int:
        return _e.EIO
    return _LX.get(n, n)


def _os(e):
    return OSError(_num(e))


def _take():
    if _open[0] >= _MAX_SOCKETS:
        raise OSError(_ENFILE)
    _open[0] += 1


def _give():
    if _open[0] > 0:
        _open[0] -= 1


def _resolve(address):
    # _socket_getaddrinfo(): a 2-sequence (host, port); "" means 0.0.0.0; names are resolved.
    if type(address) not in (tuple, list) or len(address) != 2:
        raise TypeError("requested length 2")
    host, port = address
    if type(host) is not str:
        raise TypeError("can't convert to str implicitly")
    if not host:
        host = "0.0.0.0"
    try:
        r = _u.getaddrinfo(_checked(host), port, _u.AF_INET, _u.SOCK_STREAM)
    except OSError:
        raise OSError(_EAI_FAIL)
    if not r:
        raise OSError(-2)
    return r[0][-1]


def _numeric(address):
    # netutils_parse_inet_addr(): numeric IPv4 only.
    if type(address) not in (tuple, list) or len(address) != 2:
        raise TypeError("requested length 2")
    host, port = address
    parts = host.split(".") if type(host) is str else ()
    if len(parts) != 4:
        raise ValueError("invalid arguments")
    for p in parts:
        if not p.isdigit():
            raise ValueError("invalid arguments")
    return _u.getaddrinfo(host, port, _u.AF_INET, _u.SOCK_DGRAM)[0][-1]


def getaddrinfo(host, port, af=0, type=0, proto=0, flags=0):
    # esp_socket_getaddrinfo(): int port, "" -> 0.0.0.0, canonname = host, IPv4 tuples.
    if not host:
        host = "0.0.0.0"
    try:
        r = _u.getaddrinfo(_checked(host), port, _u.AF_INET, type or _u.SOCK_STREAM)
    except OSError:
        raise OSError(_EAI_FAIL)
    out = []
    for f, t, p, c, a in r:
        out.append((AF_INET, type or SOCK_STREAM, proto, host, _unaddr(a)))
    if not out:
        raise OSError(-2)
    return out


class socket(io.IOBase):
    def __init__(self, af=AF_INET, type=SOCK_STREAM, proto=0):
        try:
            _take()
        except OSError:
            gc.collect()  # socket_make_new(): one retry after a collection
            _take()
        try:
            s = _u.socket(af, type, proto)
        except OSError as e:
            _give()
            raise _os(e)
        s.setblocking(False)  # the model waits itself, in 100 ms quanta
        self._s = s
        self._type = type
        self._state = _NEW if type == SOCK_STREAM else _CONNECTED
        self._ms = _FOREVER  # timeout in ms, -1 blocking, 0 non-blocking (O_NONBLOCK)
        self._fd = s.fileno()
        self._pcb_gone = False  # err_tcp() freed the pcb (refused connect): connect() is ERR_CLSD from now on

    def __repr__(self):
        return "<socket state=%d timeout=%d fd=%d type=%d>" % (self._state, self._ms, self._fd, self._type)

    # -- helpers --------------------------------------------------------------------------------------
    def _n(self):
        if self._s is None:
            raise OSError(_e.EBADF)
        return self._s

    def _retries(self):
        # _socket_settimeout(): retries = timeout_ms * 1000 / SOCKET_POLL_US (UINT_MAX when blocking).
        return _FOREVER if self._ms < 0 else self._ms // _POLL_MS

    def _more(self, i):
        # One more 100 ms try?  (the lwIP call blocks up to SO_RCVTIMEO = 100 ms unless O_NONBLOCK)
        r = self._retries()
        return self._ms != 0 and (r == _FOREVER or i <= r)

    def _gave_up(self):
        return OSError(_e.EAGAIN if self._retries() == 0 else _e.ETIMEDOUT)

    def _loop(self, op, ev, a, b):
        # The `for (i = 0; i <= retries; i++)` loops of modsocket.c: try, wait one quantum, try again.
        s = self._n()
        i = 0
        while True:
            try:
                return op(s, a, b)
            except OSError as e:
                if e.args[0] != _lx.EAGAIN:
                    raise _os(e)
            if not self._more(i):
                raise self._gave_up()
            _poll(s, ev, _POLL_MS)
            i += 1

    # -- socket API -----------------------------------------------------------------------------------
    def close(self):
        s = self._s
        if s is not None:
            self._s = None
            self._fd = -1
            _give()
            s.close()

    def bind(self, address):
        sa = _resolve(address)
        s = self._n()
        self._state = _CONNECTED
        try:
            s.bind(sa)
        except OSError as e:
            raise _os(e)

    def listen(self, backlog=2):
        s = self._n()
        self._state = _CONNECTED
        try:
            s.listen(backlog if backlog > 0 else 0)
        except OSError as e:
            raise _os(e)

    def accept(self):
        def op(s, a, b):
            return s.accept()

        ns, sa = self._loop(op, select.POLLIN, None, None)
        if _open[0] >= _MAX_SOCKETS:
            ns.close()
            raise OSError(_ENFILE)
        _open[0] += 1
        return _Accepted(ns, self._type), _unaddr(sa)

    def connect(self, address):
        sa = _resolve(address)
        s = self._n()
        if self._pcb_gone:
            raise OSError(_e.ENOTCONN)  # ERR_CLSD: the refused attempt freed the pcb
        first = self._state == _NEW
        self._state = _CONNECTED
        try:
            s.connect(sa)
            return
        except OSError as e:
            n = e.args[0]
            if self._ms == 0:
                if first and (n == _lx.EINPROGRESS or n == _lx.ECONNREFUSED):
                    # lwIP's tcp_connect() only sends the SYN: the refusal shows later, after POLLOUT
                    self._pcb_gone = n == _lx.ECONNREFUSED
                    raise OSError(_e.EINPROGRESS)
                if n != _lx.ECONNREFUSED:
                    raise _os(e)  # EALREADY (120), EISCONN (127)...
                self._pcb_gone = True
                raise OSError(_e.ENOTCONN)  # the second connect() after an RST: ERR_CLSD
            if n == _lx.ECONNREFUSED:
                raise OSError(_e.ECONNRESET)  # SO_ERROR = err_to_errno(ERR_RST)
            if n != _lx.EINPROGRESS:
                raise _os(e)
        # Blocking connect is emulated: select() in 100 ms quanta, then SO_ERROR (here: a second connect()).
        i = 0
        while self._more(i):
            if _poll(s, select.POLLOUT, _POLL_MS):
                try:
                    s.connect(sa)
                except OSError as e:
                    if e.args[0] == _lx.ECONNREFUSED:
                        self._pcb_gone = True
                        raise OSError(_e.ECONNRESET)  # SO_ERROR = err_to_errno(ERR_RST)
                    if e.args[0] != _lx.EISCONN:
                        raise _os(e)
                return
            i += 1
        raise OSError(_e.ETIMEDOUT)

    def _recv(self, n, flags, want_addr):
        s = self._n()
        if self._state == _NEW:
            raise OSError(_e.ENOTCONN)
        if self._state == _PEER_CLOSED:
            return (b"", None) if want_addr else b""
        lf = (2 if flags & MSG_PEEK else 0)

        def op(s, n, f):
            if want_addr:
                return s.recvfrom(n, f) if f else s.recvfrom(n)
            return s.recv(n, f) if f else s.recv(n)

        if flags & MSG_DONTWAIT:
            try:
                r = op(s, n, lf)
            except OSError as e:
                raise _os(e)
        else:
            r = self._loop(op, select.POLLIN, n, lf)
        d = r[0] if want_addr else r
        if not d and n and self._type == SOCK_STREAM:
            self._state = _PEER_CLOSED
        if want_addr:
            return d, _unaddr(r[1])
        return d

    def recv(self, n, flags=0):
        return self._recv(n, flags, False)

    def recvfrom(self, n, flags=0):
        return self._recv(n, flags, True)

    def _send(self, mv):
        # _socket_send(): loop until *something* is sent.
        s = self._n()
        total = len(mv)
        sent = 0
        i = 0
        while sent < total:
            try:
                sent += s.send(mv[sent:] if sent else mv)
            except OSError as e:
                if e.args[0] not in (_lx.EAGAIN, _lx.EINPROGRESS):
                    raise _os(e)
                if not self._more(i):
                    break
                _poll(s, select.POLLOUT, _POLL_MS)
            i += 1
            if not self._more(i) and self._ms != 0:
                break
        if sent == 0 and total:
            raise self._gave_up()
        return sent

    def send(self, buf):
        return self._send(memoryview(buf))

    def sendall(self, buf):
        mv = memoryview(buf)
        if self._send(mv) < len(mv):
            raise OSError(_e.ETIMEDOUT)

    def sendto(self, buf, address):
        sa = _numeric(address)
        s = self._n()
        i = 0
        while True:
            try:
                n = s.sendto(buf, sa)
                if n > 0:
                    return n
            except OSError as e:
                if e.args[0] != _lx.EAGAIN:
                    raise _os(e)
            if not self._more(i):
                raise OSError(_e.ETIMEDOUT)  # even when non-blocking (end of socket_sendto)
            _poll(s, select.POLLOUT, _POLL_MS)
            i += 1

    def setsockopt(self, level, opt, value):
        s = self._n()
        if opt == SO_REUSEADDR or opt == SO_BROADCAST:
            v = int(value) if type(value) is bool else value
            if type(v) is not int:
                raise TypeError("can't convert %s to int" % type(value).__name__)
            s.setsockopt(_u.SOL_SOCKET, _u.SO_REUSEADDR if opt == SO_REUSEADDR else _u.SO_BROADCAST, v)
        elif opt == TCP_NODELAY:
            if type(value) is not int:
                raise TypeError("can't convert %s to int" % type(value).__name__)
            s.setsockopt(6, 1, value)
        elif opt == SO_BINDTODEVICE:
            pass  # a netif name on the board; the model has one interface
        elif opt == IP_ADD_MEMBERSHIP:
            if len(value) != 8:
                raise ValueError()
        else:
            print("Warning: lwip.setsockopt() option not implemented")

    def settimeout(self, value):
        self._n()
        # (uint64_t)(float * 1000): a timeout under 1 ms is 0, i.e. non-blocking
        self._ms = _FOREVER if value is None else int(value * 1000)

    def setblocking(self, flag):
        self.settimeout(None if flag else 0)

    def makefile(self, *args):
        return self

    def fileno(self):
        return self._fd

    # -- stream protocol (py/stream.c over socket_stream_read/write) ------------------------------------
    def _readsome(self, n):
        try:
            return self.recv(n)
        except OSError as e:
            if e.args[0] == _e.EAGAIN:
                return None
            raise

    def read(self, size=-1):
        if size is None or size < 0:
            s = self._n()
            if self._ms == 0 and self._state == _CONNECTED:
                # stream_readall() over socket_stream_read: on a non-blocking socket the unix socket's own
                # read() is that same py/stream.c function over a non-blocking read (one growing buffer)
                try:
                    d = s.read()
                except OSError as e:
                    raise _os(e)
                if d == b"":
                    self._state = _PEER_CLOSED
                return d
            return _stream.readall(self._readsome)
        out = b""
        while len(out) < size:
            d = self._readsome(size - len(out))
            if d is None:
                return out if out else None
            if not d:
                break
            out += d
        return out

    def readinto(self, buf, nbytes=None):
        mv = _stream.view(buf, True, nbytes)  # a read-only buffer: TypeError at once, data or not
        if not len(mv):
            return 0  # (mbedTLS may ask for 0 bytes: no recv, so no false PEER_CLOSED latch)
        got = 0
        while got < len(mv):
            d = self._readsome(len(mv) - got)
            if d is None:
                return got if got else None
            if not d:
                break
            mv[got:got + len(d)] = d
            got += len(d)
        return got

    def readline(self):
        line = b""
        while True:
            d = self._readsome(1)
            if d is None:
                return line if line else None
            if not d:
                return line
            line += d
            if d == b"\n":
                return line

    def write(self, buf, a=None, b=None):
        mv = _stream.view(buf, False, a, b)  # write(buf), write(buf, max_len), write(buf, off, max_len)
        off = 0
        while off < len(mv):
            try:
                off += self._send(mv[off:])
            except OSError as e:
                if e.args[0] == _e.EAGAIN:
                    return off if off else None
                raise
        return off

    def ioctl(self, req, arg):
        # What select.poll sees (socket_stream_ioctl): the fd where this unix build can poll it directly.
        if req == 10:
            return self._fd
        if req == 4:
            self.close()
            return 0
        if req == 3:
            if self._s is None:
                return 0x20  # MP_STREAM_POLL_NVAL
            r = _poll(self._s, arg, 0)
            ev = r[0][1] if r else 0
            if self._state == _NEW:
                ev |= (arg & 4) | 16  # a new socket is writable with HUP set
            return ev
        return -_e.EINVAL


class _Accepted(socket):
    # accept()'s new socket object: connected, blocking (timeout "forever").
    def __init__(self, ns, type):
        ns.setblocking(False)
        self._s = ns
        self._type = type
        self._state = _CONNECTED
        self._ms = _FOREVER
        self._fd = ns.fileno()
        self._pcb_gone = False
