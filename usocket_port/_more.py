# usocket_port._more: the less common socket methods.
#
# Loaded on first use by usocket_port.socket.__getattr__ (which then puts every name in __all__ on the
# class); read()/readline() are in _read, the texts of bad-input errors in _err (each compiled apart: WiPy
# compiles every module on the board, in its 48 KiB).  Keeping them out of the package's __init__ keeps
# `import usocket_port` small on boards.  The functions are methods of usocket_port.socket (first argument: the socket).
try:
    from micropython import const
except ImportError:  # CPython: const() is the identity on ints
    const = int

import usocket_target as _t

import usocket_port as _c
from usocket_port._args import _flagged, _into, _nbytes, slice  # noqa: F401 (slice: for the core)

# Same values as in usocket_port/__init__.py.
_BOUND = const(2)
_LISTEN = const(4)
_SEC = const(8)
_NS = const(16)  # the native object is a MicroPython stream (readinto/write/read)
_SHIFT = const(5)
_RD = const(1)
_WR = const(4)
_BACKLOG = const(2)
_STREAM_POLL = const(3)  # MicroPython stream ioctl requests (py/stream.h)
_STREAM_CLOSE = const(4)
_STREAM_FILENO = const(10)
_POLLNVAL = const(0x20)  # MP_STREAM_POLL_NVAL

# The core's rare paths, reached through this module under names the firmware already interns (so the core
# names no other lazy module and no private helper of theirs): slice (write's off/max_len, imported above),
def recv(self, n, flags):
    # recv(n, flags) with flags (MSG_PEEK / MSG_DONTWAIT; _args._flagged)
    return _flagged(self, _t.recv, n, flags)


readinto = _into  # the view of nbytes of buf that recv_into/readinto(buf, nbytes) fill (_args._into)


def secure(s, host, ms):
    # IPPROTO_SEC when the glue has no secure(): MicroPython's `tls` module (_mptls.secure)
    from usocket_port import _mptls
    return _mptls.secure(s, host, ms)


# The socket methods defined here (named __all__: a name the firmware already interns).
__all__ = ("bind", "listen", "accept", "sendto", "recvfrom", "recvfrom_into", "setsockopt", "setblocking",
           "makefile", "read", "readline", "fileno", "ioctl")


def _bad(code, v):
    from usocket_port import _err
    return _err._bad(code, v)


def _en(name):
    from usocket_port import _err
    return _err._en(name)


# Glue functions a glue may leave out (docs/usocket_port.md, "Glue interface"): these defaults fit every
# MicroPython port's socket (and CPython's); a glue defines its own where its native socket differs.
def _recvfrom(s, n):
    return s.recvfrom(n)


_recvfrom = getattr(_t, "recvfrom", _recvfrom)


def _recvfrom_into(s, mv):
    d, a = _recvfrom(s, len(mv))
    n = len(d)
    mv[:n] = d
    return n, a


_recvfrom_into = getattr(_t, "recvfrom_into", _recvfrom_into)


def _fileno(s):
    # -1: no fd (a TLS object, a firmware without fds): ioctl then answers poll through _poll().
    f = getattr(s, "fileno", None)
    return f() if f else -1


_fileno = getattr(_t, "fileno", _fileno)


def _poll(s, mode):
    # Readiness now, for a stream ioctl(MP_STREAM_POLL).
    import select
    p = select.poll()
    p.register(s, mode)
    r = p.poll(0)
    return r[0][1] if r else 0


_poll = getattr(_t, "poll", _poll)


def _unaddr(a):
    # Native address -> (ip, port); without unaddr() in the glue the native address is a tuple (IPv4 or more).
    return (a[0], a[1])


_unaddr = getattr(_t, "unaddr", _unaddr)


def _nb(self):
    return self._ms >> _SHIFT == 1


def bind(self, address):
    a = _c._resolve(address, True)
    s = self._n()
    if self._ms & _BOUND:
        raise _bad(7, None)
    try:
        s.bind(a)
    except OSError as e:
        raise OSError(_t.errno_of(e)) from None
    self._ms |= _BOUND


def listen(self, backlog=_BACKLOG):
    s = self._n()
    if type(backlog) is not int:
        raise _bad(3, "backlog")
    if not self._ms & _BOUND:
        # Linux auto-binds an ephemeral port, lwIP does not: one rule for all, bind first.
        raise _bad(8, None)
    try:
        s.listen(backlog if backlog > 0 else 0)
    except OSError as e:
        raise OSError(_t.errno_of(e)) from None
    self._ms |= _LISTEN


def _accept(s, a):
    return s.accept()


_accept = getattr(_t, "accept", _accept)  # a glue that wraps its native sockets wraps the accepted one


def accept(self):
    self._n()
    if not self._ms & _LISTEN:
        raise _bad(9, None)
    ns, na = self._run(_accept, _RD, None)
    ns.setblocking(False)
    return _c.socket(_c.AF_INET, _c.SOCK_STREAM, _c.IPPROTO_TCP, ns), _unaddr(na)


def _sendto(s, a):
    return s.sendto(a[0], a[1])


def sendto(self, buf, address):
    if isinstance(buf, str):
        buf = buf.encode()  # str has the buffer protocol on MicroPython: its UTF-8 bytes
    a = _c._resolve(address, False)
    return self._run(_sendto, _WR, (buf, a))


def recvfrom(self, bufsize, flags=0):
    n = _nbytes(bufsize, "bufsize")
    if flags:
        data, na = _flagged(self, _recvfrom, n, flags)
    else:
        data, na = self._run(_recvfrom, _RD, n)
    return data, _unaddr(na)


def recvfrom_into(self, buf, nbytes=0):
    self._n()
    mv = _into(buf, 0 if nbytes is None else nbytes)
    n, na = self._run(_recvfrom_into, _RD, mv)
    return n, _unaddr(na)


def setsockopt(self, level, optname, value):
    s = self._n()
    if isinstance(value, str):
        raise _bad(10, None)
    try:
        # A glue may adapt the value (ESP32's lwIP binding takes ints only); else the native call.
        getattr(_t, "setsockopt", _native_setsockopt)(s, level, optname, value)
    except OSError as e:
        raise OSError(_t.errno_of(e)) from None


def _native_setsockopt(s, level, optname, value):
    s.setsockopt(level, optname, value)


def setblocking(self, flag):
    self.settimeout(None if flag else 0)


def makefile(self, mode="rb", buffering=0):
    # The socket is its own (unbuffered, binary) file: closing the "file" closes the socket.
    if mode not in ("rb", "wb", "rwb"):
        raise _bad(11, None)
    self._n()
    return self


def fileno(self):
    s = self._s
    return _fileno(s) if s is not None else -1  # closed: -1, as MicroPython's and CPython's own sockets


def read(self, size=-1):
    from usocket_port import _read
    return _read.read(self, size)


def readline(self):
    from usocket_port import _read
    return _read.readline(self)


def ioctl(self, req, arg):
    # select.poll / asyncio on MicroPython: the stream ioctl of an io.IOBase subclass.
    s = self._s
    if req == _STREAM_CLOSE:
        self.close()
        return 0
    if s is None:
        # A closed socket: poll reports POLLNVAL, as MicroPython's own sockets do (ports/esp32/modsocket.c
        # socket_stream_ioctl, extmod/modlwip.c); it has no fd any more.
        return _POLLNVAL if req == _STREAM_POLL else -_t.EBADF
    if req == _STREAM_FILENO:
        fd = _fileno(s)
        return fd if fd >= 0 else -_t.EINVAL
    if req == _STREAM_POLL:
        return _poll(s, arg)
    return -_t.EINVAL


del const
