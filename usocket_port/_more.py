# usocket_port._more: the less common socket methods and the texts of bad-input errors.
#
# Loaded on first use by usocket_port.socket.__getattr__ (which then puts every name in __all__ on the
# class) or by usocket_port._bad(); keeping them out of the package's __init__ keeps `import usocket_port`
# small on boards.  The functions are methods of usocket_port.socket (first argument: the socket).
try:
    from micropython import const
except ImportError:  # CPython: const() is the identity on ints
    const = int

import usocket_target as _t

import usocket_port as _c

# Same values as in usocket_port/__init__.py.
_BOUND = const(2)
_LISTEN = const(4)
_SHIFT = const(5)
_RD = const(1)
_WR = const(4)
_CHUNK = const(512)  # read() to EOF grows by this much per native call
_BACKLOG = const(2)
_STREAM_POLL = const(3)  # MicroPython stream ioctl requests (py/stream.h)
_STREAM_CLOSE = const(4)
_STREAM_FILENO = const(10)

# The socket methods defined here (named __all__: a name the firmware already interns).
__all__ = ("bind", "listen", "accept", "sendto", "recvfrom", "recvfrom_into", "setsockopt", "setblocking",
           "makefile", "read", "readline", "fileno", "ioctl")


def _bad(code, v):
    # usocket_port._bad(): the exception for bad input (codes _B_* in __init__).
    if code == 0:
        return OSError(_t.EINVAL, "address must be (dotted-quad IPv4 str, port); resolve names with "
                                  "getaddrinfo() (got %r)" % (v,))
    if code == 1:
        return OSError(_t.EINVAL, "port must be an int in 1-65535 (0 allowed only for bind), got %r" % (v,))
    if code == 2:
        return TypeError("a bytes-like object is required, not str")
    if code == 3:
        return TypeError(v + " must be an int")
    if code == 4:
        return ValueError(v + " must be >= 0")
    if code == 5:
        return ValueError("nbytes is larger than the buffer")
    if code == 6:
        return OSError(_t.EOPNOTSUPP, "only AF_INET: the (ipv4_str, port) address format is IPv4-only")
    if code == 7:
        return OSError(_t.EINVAL, "already bound")
    if code == 8:
        return OSError(_t.EINVAL, "listen() needs bind() first")
    if code == 9:
        return OSError(_t.EINVAL, "accept() needs listen() first")
    if code == 10:
        return TypeError("value must be an int or a bytes-like object")
    if code == 12:  # getaddrinfo(host, port)
        if type(v[0]) is not str:
            return TypeError("host must be a str")
        return OSError(_t.EINVAL, "port must be an int in 0-65535, got %r" % (v[1],))
    return ValueError("makefile() supports only the binary modes 'rb', 'wb', 'rwb'")


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


def _nbytes(n, what):
    if type(n) is not int:
        raise _bad(3, what)
    if n < 0:
        raise _bad(4, what)
    return n


def _into(buf, nbytes):
    # (buf, nbytes) of readinto/recv_into/recvfrom_into -> the memoryview to fill
    mv = memoryview(buf)
    n = _nbytes(nbytes, "nbytes")
    if n > len(mv):
        raise _bad(5, None)
    return mv[:n] if n else mv


def _nb(self):
    return self._m >> _SHIFT == 1


def bind(self, address):
    a = _c._addr(address, True)
    s = self._n()
    if self._m & _BOUND:
        raise _bad(7, None)
    try:
        s.bind(a)
    except OSError as e:
        raise OSError(_t.errno_of(e)) from None
    self._m |= _BOUND


def listen(self, backlog=_BACKLOG):
    s = self._n()
    if type(backlog) is not int:
        raise _bad(3, "backlog")
    if not self._m & _BOUND:
        # Linux auto-binds an ephemeral port, lwIP does not: one rule for all, bind first.
        raise _bad(8, None)
    try:
        s.listen(backlog if backlog > 0 else 0)
    except OSError as e:
        raise OSError(_t.errno_of(e)) from None
    self._m |= _LISTEN


def _accept(s, a):
    return s.accept()


def accept(self):
    self._n()
    if not self._m & _LISTEN:
        raise _bad(9, None)
    ns, na = self._io(_accept, _RD, None)
    ns.setblocking(False)
    return _c.socket(_c.AF_INET, _c.SOCK_STREAM, _c.IPPROTO_TCP, ns), _unaddr(na)


def _sendto(s, a):
    return s.sendto(a[0], a[1])


def sendto(self, buf, address):
    if isinstance(buf, str):
        raise _bad(2, None)
    a = _c._addr(address, False)
    return self._io(_sendto, _WR, (buf, a))


def recvfrom(self, bufsize):
    n = _nbytes(bufsize, "bufsize")
    data, na = self._io(_recvfrom, _RD, n)
    return data, _unaddr(na)


def recvfrom_into(self, buf, nbytes=0):
    self._n()
    mv = _into(buf, 0 if nbytes is None else nbytes)
    n, na = self._io(_recvfrom_into, _RD, mv)
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
    return _fileno(self._n())


def read(self, size=-1):
    if size is None:
        size = -1
    if type(size) is not int:
        raise _bad(3, "size")
    self._n()
    if size == 0:
        return b""
    want = size if size > 0 else _CHUNK
    parts = []
    got = 0
    while True:
        try:
            d = self._io(_t.recv, _RD, want)
        except OSError as e:
            if e.args[0] == _t.EAGAIN and _nb(self):
                if not parts:
                    return None  # non-blocking, nothing there yet (MicroPython stream convention)
                break
            raise
        if not d:
            break  # EOF
        if size > 0 and not parts and len(d) == size:
            return d  # the common case: one native call, no copy
        parts.append(d)
        got += len(d)
        if size > 0:
            if got >= size:
                break
            want = size - got
    return b"".join(parts)


def readline(self):
    # Byte by byte (unbuffered: nothing read ahead is lost); the timeout applies per byte.
    self._n()
    line = bytearray()
    one = bytearray(1)
    while True:
        n = self.readinto(one)
        if n is None:  # non-blocking, nothing more there
            return bytes(line) if line else None
        if not n:
            break
        line.append(one[0])
        if one[0] == 10:
            break
    return bytes(line)


def ioctl(self, req, arg):
    # select.poll / asyncio on MicroPython: the stream ioctl of an io.IOBase subclass.
    s = self._s
    if req == _STREAM_CLOSE:
        self.close()
        return 0
    if s is None:
        return -_t.EBADF
    if req == _STREAM_FILENO:
        fd = _fileno(s)
        return fd if fd >= 0 else -_t.EINVAL
    if req == _STREAM_POLL:
        return _poll(s, arg)
    return -_t.EINVAL


del const
