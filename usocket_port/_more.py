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
_SEC = const(8)
_NS = const(16)  # the native object is a MicroPython stream (readinto/write/read)
_SHIFT = const(5)
_RD = const(1)
_WR = const(4)
_CHUNK = const(4096)  # read() to EOF of a non-stream socket: its reused chunk buffer
_BACKLOG = const(2)
_STREAM_POLL = const(3)  # MicroPython stream ioctl requests (py/stream.h)
_STREAM_CLOSE = const(4)
_STREAM_FILENO = const(10)
_POLLNVAL = const(0x20)  # MP_STREAM_POLL_NVAL

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
    if code == 13:
        return OSError(_en("ENOTCONN"), "a listening socket has no data: accept() a connection")
    if code == 14:
        return TypeError("readinto needs a writable buffer (bytearray, memoryview of one), not a read-only one")
    if code == 15:
        return OSError(_t.EOPNOTSUPP, "recv flags: this target has only %s" % (v,))
    return ValueError("makefile() supports only the binary modes 'rb', 'wb', 'rwb'")


def _en(name):
    # A named errno of the target that the core does not keep: the glue's, its errno module's, or its
    # fallback table (cc3200's errno module lacks most names).
    n = getattr(_t, name, None)
    if n is None:
        import errno
        n = getattr(errno, name, None)
    return n if n is not None else _t.ERRNO[name]


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


def getaddrinfo(host, port, af, type, proto):
    # getaddrinfo() with filters, as the C library applies them: af other than 0/AF_INET gives [] (the
    # address format is IPv4-only); type 0 or SOCK_STREAM gives TCP entries, SOCK_DGRAM UDP ones, any
    # other type [].  flags is accepted and ignored.
    if af.__class__ is not int or type.__class__ is not int or proto.__class__ is not int:
        raise _bad(3, "af, type and proto")
    r = _c.getaddrinfo(host, port)
    if af and af != _c.AF_INET or type and type != _c.SOCK_STREAM and type != _c.SOCK_DGRAM:
        return []
    if not type:
        type = _c.SOCK_STREAM
    p = proto or (_c.IPPROTO_UDP if type == _c.SOCK_DGRAM else _c.IPPROTO_TCP)
    return [(_c.AF_INET, type, p, e[3], e[4]) for e in r]


def slice(buf, off, max_len):
    # write(buf, max_len) / write(buf, off, max_len) -> the part of buf to write (py/stream.c)
    if max_len is None:
        off, max_len = 0, off
    if off.__class__ is not int or max_len.__class__ is not int:
        raise _bad(3, "off and max_len")
    if off < 0 or max_len < 0:
        raise _bad(4, "off and max_len")
    if isinstance(buf, str):
        buf = buf.encode()
    return memoryview(buf)[off:off + max_len]


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
        buf = buf.encode()  # str has the buffer protocol on MicroPython: its UTF-8 bytes
    a = _c._addr(address, False)
    return self._io(_sendto, _WR, (buf, a))


def recvfrom(self, bufsize, flags=0):
    n = _nbytes(bufsize, "bufsize")
    if flags:
        data, na = _flagged(self, _recvfrom, n, flags)
    else:
        data, na = self._io(_recvfrom, _RD, n)
    return data, _unaddr(na)


def _peek(s, n):
    return s.recv(n, _c.MSG_PEEK)


def _peekfrom(s, n):
    return s.recvfrom(n, _c.MSG_PEEK)


def _flagged(self, f, n, flags):
    # recv/recvfrom with flags.  MSG_DONTWAIT: one try whatever the timeout (the core's own: the native
    # socket is always non-blocking), so it exists on every target.  MSG_PEEK: the native flag, where the
    # target's socket has one (not on TLS sockets); any other bit -> OSError(EOPNOTSUPP).
    if type(flags) is not int:
        raise _bad(3, "flags")
    pk = getattr(_c, "MSG_PEEK", 0)
    if flags & ~(pk | _c.MSG_DONTWAIT) or flags & pk and self._m & _SEC:
        raise _bad(15, "MSG_DONTWAIT" + (" and MSG_PEEK (not on IPPROTO_SEC)" if pk else ""))
    if flags & pk:
        f = _peek if f is _t.recv else _peekfrom
    if flags & _c.MSG_DONTWAIT:
        s = self._n()
        try:
            return f(s, n)
        except OSError as e:
            raise OSError(_t.errno_of(e)) from None
    return self._io(f, _RD, n)


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
    s = self._s
    return _fileno(s) if s is not None else -1  # closed: -1, as MicroPython's and CPython's own sockets


def read(self, size=-1):
    # read(n): one bytearray of n, filled in place once the first native read came short (the result is
    # bytes: one copy at the end).  Peak about twice the data, never more.
    if size is None:
        size = -1
    if type(size) is not int:
        raise _bad(3, "size")
    self._n()
    if self._m & _LISTEN:
        raise _bad(13, None)
    if size == 0:
        return b""
    if size > 0:
        try:
            d = self._io(_t.recv, _RD, size)
        except OSError as e:
            if e.args[0] == _t.EAGAIN and _nb(self):
                return None  # non-blocking, nothing there yet (MicroPython stream convention)
            raise
        k = len(d)
        if k == size or not k:
            return d  # the common case: one native call, no copy (or EOF)
        b = bytearray(size)
        b[:k] = d
        d = None
        n = self._rd(memoryview(b)[k:], None, False)
        k += n or 0
        return bytes(b) if k == size else bytes(memoryview(b)[:k])
    # To EOF.  MicroPython streams: each native read() returns everything that has arrived, grown in one
    # buffer and handed over as bytes without a copy (py/stream.c stream_readall); joined once at EOF, not
    # at all when one read brought everything.  Other sockets (CircuitPython, CPython): recv_into one
    # reused chunk buffer appended to one bytearray (grown in place, no per-chunk objects), one bytes copy
    # at the end.
    ns = self._m & _NS
    parts = []
    out = bytearray()
    c = None if ns else bytearray(_CHUNK)
    while True:
        try:
            if ns:
                d = self._io(_readall, _RD, None)
                n = len(d)
            else:
                n = self._rd(c, None, True)
        except OSError as e:
            if e.args[0] == _t.EAGAIN and _nb(self):
                if not parts and not out:
                    return None
                break
            raise
        if not n:
            break  # EOF
        if ns:
            parts.append(d)
        else:
            out += memoryview(c)[:n] if n < _CHUNK else c
    if not ns:
        return bytes(out)
    return parts[0] if len(parts) == 1 else b"".join(parts)


def _readall(s, n):
    # A MicroPython stream's own read(): all that is there now, grown in one buffer it then hands over as
    # bytes without a copy (py/stream.c stream_readall); None = would block.
    d = s.read()
    if d is None:
        raise OSError(_t.EAGAIN)
    return d


def readline(self):
    # Unbuffered (nothing read ahead is lost), one deadline for the whole line.  MicroPython streams: the
    # native readline() (C, byte by byte, returns what it has at "would block"; py/stream.c
    # stream_unbuffered_readline), waited for and continued here.  Others: byte by byte through readinto.
    s = self._n()
    if self._m & _LISTEN:
        raise _bad(13, None)
    if self._m & _NS:
        line = None
        dl = None
        while True:
            try:
                d = s.readline()
            except OSError as e:
                raise OSError(_t.errno_of(e)) from None
            if d is not None:
                line = line + d if line else d
                if not d or d[-1] == 10:
                    return line  # a whole line, or EOF (b"" / the last bytes without newline)
            if _nb(self):
                return line  # non-blocking: what is there (None if nothing)
            dl = self._wait(_RD, dl, _t.EAGAIN)
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


def _wrap(self, host):
    # ssl.wrap_socket() of install()'s `ssl` module (usocket_port/_ssl.py): TLS client handshake on this
    # connected plain stream socket now, within its timeout.  The glue's wrap(), else -- where the glue
    # has no secure() of its own -- MicroPython's `tls` module; a target whose TLS can only start inside
    # connect() (WiPy) says so.
    s = self._n()
    if self._m & _SEC:
        return
    f = getattr(_t, "wrap", None)
    if f is None:
        if hasattr(_t, "secure"):
            raise OSError(_t.EOPNOTSUPP, "TLS starts inside connect() on this target: "
                                         "use socket(AF_INET, SOCK_STREAM, IPPROTO_SEC)")
        from usocket_port import _mptls
        f = _mptls.secure
    to = (self._m >> _SHIFT) - 1
    if to == 0:
        # (asyncio.open_connection(ssl=...) wraps while its non-blocking connect is still under way)
        raise OSError(_t.EOPNOTSUPP, "ssl.wrap_socket() needs a connected blocking or timeout socket: the "
                                     "handshake here is not driven non-blocking")
    try:
        s = f(s, host, to if to > 0 else -1)
    except OSError as e:
        self._s = None
        raise OSError(_t.errno_of(e)) from None
    self._s = s
    self._m = self._m & ~_NS | _SEC | (_NS if hasattr(s, "readinto") else 0)


def install():
    # usocket_port.install() (docs/usocket_port.md, "install()").  `import` consults sys.modules before
    # built-ins and the filesystem (MicroPython: py/builtinimport.c looks the name up in the loaded-modules
    # dict first), so this beats MicroPython >= 1.21's built-in alias `usocket` -> `socket` (py/objmodule.c)
    # as well as CPython's own modules.  `ssl`, `ussl` and `tls` become usocket_port/_ssl.py: a library that
    # calls ssl.wrap_socket() on one of our sockets gets TLS through the glue.  Libraries written for
    # MicroPython also import `ustruct`, `ubinascii`, `ujson`...: where the firmware lacks such a u-name
    # (CPython, CircuitPython) it is given the plain module.
    import sys

    m = sys.modules
    from usocket_port import _ssl
    if _ssl._native is None:
        # The firmware's own TLS modules, taken before their names are ours: the shim hands `ssl` every
        # native socket (glues wrap those) and every name it does not define itself; _mptls uses `tls`.
        t = s = None
        try:
            t = __import__("tls")
        except ImportError:
            pass
        try:
            s = __import__("ssl")
        except ImportError:
            pass
        _ssl._native = s or t
        _ssl._tls = t or s
    m["socket"] = _c  # (after the TLS modules: CPython's ssl imports socket)
    m["usocket"] = _c
    m["ssl"] = _ssl
    m["ussl"] = _ssl
    m["tls"] = _ssl
    # (Only modules that never import socket: on CPython, `asyncio`/`select` users must keep the real one.)
    for n in ("struct", "binascii", "json", "errno", "hashlib", "time", "io", "os", "random", "re",
              "collections", "zlib"):
        u = "u" + n
        if u in m:
            continue
        try:
            __import__(u)
        except ImportError:
            try:
                m[u] = __import__(n)
            except ImportError:
                pass
