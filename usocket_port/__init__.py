# usocket_port: the seed usocket API with one behaviour on every target.
#
#   import usocket_port as usocket
#
# This core never asks which platform it runs on: everything target-specific (native module, errno numbers,
# address encoding, waiting, TLS) sits behind the glue module `usocket_target` (ports/<target>/), whose
# interface is documented in docs/usocket_port.md.  Rules kept here for every target:
#   * the native socket is always non-blocking; the core implements blocking and timeouts itself with the
#     glue's wait(), so a timeout is ETIMEDOUT and a would-block is EAGAIN whatever the firmware does;
#   * only plain OSError(errno) escapes (errno from the target's own errno module);
#   * no float literals (some firmwares have no float support): timeouts are integer milliseconds.
try:
    from micropython import const
except ImportError:
    def const(x):
        return x

import usocket_target as _t

# Constants the target really has, with its own values (AF_INET, SOCK_*, IPPROTO_*, SOL_SOCKET, SO_*...).
_g = globals()
for _k, _v in _t.CONSTANTS:
    _g[_k] = _v
del _g, _k, _v
_t.CONSTANTS = None  # copied: free the glue's list

_EAGAIN = _t.EAGAIN
_ETIMEDOUT = _t.ETIMEDOUT
_EINPROGRESS = _t.EINPROGRESS
_EBADF = _t.EBADF
_EINVAL = _t.EINVAL

# Flag bits kept in the low bits of socket._m; the timeout (ms + 1, so 0 means blocking) sits above them.
_STREAM = const(1)
_BOUND = const(2)
_LISTEN = const(4)
_SEC = const(8)
_FLAGS = const(15)
_SHIFT = const(4)
_MAX_MS = const(0x3FFFFFF)  # ~18.6 h: keeps _m a small int on 32-bit boards
_RD = const(1)  # poll event bits, as select.POLLIN / POLLOUT
_WR = const(4)
_CHUNK = const(512)  # read() to EOF grows by this much per native call
_STREAM_POLL = const(3)  # MicroPython stream ioctl requests (py/stream.h)
_STREAM_CLOSE = const(4)
_STREAM_FILENO = const(10)
_BACKLOG = const(2)
_SEND = const(1)  # _io() op codes for native methods
_SENDTO = const(2)
_ACCEPT = const(3)

_ADDR_HELP = "address must be (dotted-quad IPv4 str, port); resolve names with getaddrinfo()"


def _err(e):
    # Any native failure becomes a plain OSError carrying the target's errno number.
    return OSError(_t.errno_of(e))


def _ipv4(ip):
    if type(ip) is not str:
        return False
    parts = ip.split(".")
    if len(parts) != 4:
        return False
    for p in parts:
        if not p or len(p) > 3 or not p.isdigit() or str(int(p)) != p or int(p) > 255:
            return False
    return True


def _addr(address, bind):
    # The seed's one address format: (dotted-quad IPv4 str, int port 1-65535; 0 only for bind).
    if type(address) is not tuple or len(address) != 2:
        raise OSError(_EINVAL, _ADDR_HELP)
    ip, port = address
    if not _ipv4(ip):
        raise OSError(_EINVAL, _ADDR_HELP + " (got %r)" % (ip,))
    if type(port) is not int or port > 65535 or port < (0 if bind else 1):
        raise OSError(_EINVAL, "port must be an int in 1-65535 (0 allowed only for bind), got %r" % (port,))
    return _t.addr(ip, port)


def _nbytes(n, what):
    if type(n) is not int:
        raise TypeError(what + " must be an int")
    if n < 0:
        raise ValueError(what + " must be >= 0")
    return n


def _nostr(buf):
    # MicroPython's str has the buffer protocol, CPython's does not: refuse it on every target alike.
    if isinstance(buf, str):
        raise TypeError("a bytes-like object is required, not str")


def getaddrinfo(host, port):
    """[(family, type, proto, canonname, (ipv4_str, port)), ...]; failure -> OSError(negative number)."""
    if type(host) is not str:
        raise TypeError("host must be a str")
    if type(port) is not int or port < 0 or port > 65535:
        raise OSError(_EINVAL, "port must be an int in 0-65535, got %r" % (port,))
    try:
        return _t.getaddrinfo(host, port)
    except OSError as e:
        raise _err(e) from None


class socket(_t.Base):
    # Two attributes only (heap per socket matters on boards): _s native socket (None once closed),
    # _m = flags | (timeout_ms + 1) << _SHIFT.
    def __init__(self, af=AF_INET, type=SOCK_STREAM, proto=IPPROTO_TCP, _native=None):
        f = _STREAM if type == SOCK_STREAM else 0
        if _native is None:
            if af != AF_INET:
                raise OSError(_t.EOPNOTSUPP, "only AF_INET: the (ipv4_str, port) address format is IPv4-only")
            if proto == IPPROTO_SEC:
                f |= _SEC
            elif proto == IPPROTO_TCP and type == SOCK_DGRAM:
                # The seed's default proto is IPPROTO_TCP even for datagrams (cc3200 heritage), which
                # most stacks refuse: socket(AF_INET, SOCK_DGRAM) means UDP everywhere.
                proto = IPPROTO_UDP
            try:
                _native = _t.new(af, type, proto)
            except OSError as e:
                raise _err(e) from None
        self._s = _native
        self._m = f

    # ---- internals -------------------------------------------------------------------------------------
    def _n(self):
        s = self._s
        if s is None:
            raise OSError(_EBADF)
        return s

    def _wait(self, n, ev, dl, nb):
        # A native op reported errno n.  Unless it means "would block", re-raise it as plain OSError.
        # Otherwise: non-blocking -> OSError(nb); timed out -> ETIMEDOUT; else wait for ev and return the
        # deadline (ticks) so the caller's retry loop keeps one deadline for the whole operation.
        if n != _EAGAIN and n != nb:
            raise OSError(n)
        to = (self._m >> _SHIFT) - 1
        if to == 0:
            raise OSError(nb)
        left = -1
        if to > 0:
            if dl is None:
                dl = _t.ticks_add(_t.ticks_ms(), to)
            left = _t.ticks_diff(dl, _t.ticks_ms())
            if left <= 0:
                raise OSError(_ETIMEDOUT)
        _t.wait(self._s, ev, left)
        return dl

    def _io(self, op, ev, a, b):
        # Run one native op until it does not report "would block", honouring blocking/timeout mode.
        # op: _SEND/_SENDTO/_ACCEPT (native methods, alike on every target) or a glue recv-family function.
        s = self._n()
        dl = None
        while True:
            try:
                if op == _SEND:
                    return s.send(a)
                if op == _SENDTO:
                    return s.sendto(a, b)
                if op == _ACCEPT:
                    return s.accept()
                return op(s, a)
            except OSError as e:
                dl = self._wait(_t.errno_of(e), ev, dl, _EAGAIN)

    def _nb(self):
        return self._m >> _SHIFT == 1

    # ---- seed API --------------------------------------------------------------------------------------
    def close(self):
        s = self._s
        if s is not None:
            self._s = None
            try:
                s.close()
            except OSError:
                pass

    def bind(self, address):
        a = _addr(address, True)
        s = self._n()
        if self._m & _BOUND:
            raise OSError(_EINVAL, "already bound")
        try:
            s.bind(a)
        except OSError as e:
            raise _err(e) from None
        self._m |= _BOUND

    def listen(self, backlog=_BACKLOG):
        s = self._n()
        if type(backlog) is not int:
            raise TypeError("backlog must be an int")
        if not self._m & _BOUND:
            # Linux auto-binds an ephemeral port, lwIP does not: one rule for all, bind first.
            raise OSError(_EINVAL, "listen() needs bind() first")
        try:
            s.listen(backlog if backlog > 0 else 0)
        except OSError as e:
            raise _err(e) from None
        self._m |= _LISTEN

    def accept(self):
        self._n()
        if not self._m & _LISTEN:
            raise OSError(_EINVAL, "accept() needs listen() first")
        ns, na = self._io(_ACCEPT, _RD, None, None)
        ns.setblocking(False)
        return socket(AF_INET, SOCK_STREAM, IPPROTO_TCP, ns), _t.unaddr(na)

    def connect(self, address):
        a = _addr(address, False)
        s = self._n()
        try:
            s.connect(a)
        except OSError as e:
            n = _t.errno_of(e)
            dl = self._wait(n, _WR, None, _EINPROGRESS)
            while True:
                try:
                    if _t.connected(s, a):
                        break
                except OSError as e2:
                    raise _err(e2) from None
                dl = self._wait(_EAGAIN, _WR, dl, _EINPROGRESS)
        if self._m & _SEC:
            try:
                self._s = _t.secure(s, address[0])
            except OSError as e:
                raise _err(e) from None

    def send(self, buf):
        _nostr(buf)
        return self._io(_SEND, _WR, buf, None)

    def _sendall(self, buf, nb_partial):
        # Shared by sendall() and write(): loop until everything is sent, with one deadline for all of it.
        _nostr(buf)
        s = self._n()
        mv = memoryview(buf)
        total = len(mv)
        off = 0
        dl = None
        while off < total:
            try:
                off += s.send(mv[off:] if off else mv)
            except OSError as e:
                n = _t.errno_of(e)
                if nb_partial and n == _EAGAIN and self._nb():
                    return off if off else None
                dl = self._wait(n, _WR, dl, _EAGAIN)
        return off

    def sendall(self, buf):
        self._sendall(buf, False)

    def write(self, buf):
        return self._sendall(buf, True)

    def recv(self, bufsize):
        n = _nbytes(bufsize, "bufsize")
        self._n()
        if n == 0:
            return b""
        return self._io(_t.recv, _RD, n, None)

    def recv_into(self, buf, nbytes=0):
        mv = self._into(buf, nbytes)
        if not len(mv):
            return 0
        return self._io(_t.recv_into, _RD, mv, None)

    def _into(self, buf, nbytes):
        self._n()
        mv = memoryview(buf)
        if nbytes is None:
            nbytes = 0
        n = _nbytes(nbytes, "nbytes")
        if n > len(mv):
            raise ValueError("nbytes is larger than the buffer")
        return mv[:n] if n else mv

    def sendto(self, buf, address):
        _nostr(buf)
        a = _addr(address, False)
        return self._io(_SENDTO, _WR, buf, a)

    def recvfrom(self, bufsize):
        n = _nbytes(bufsize, "bufsize")
        data, na = self._io(_t.recvfrom, _RD, n, None)
        return data, _t.unaddr(na)

    def recvfrom_into(self, buf, nbytes=0):
        mv = self._into(buf, nbytes)
        n, na = self._io(_t.recvfrom_into, _RD, mv, None)
        return n, _t.unaddr(na)

    def setsockopt(self, level, optname, value):
        s = self._n()
        if isinstance(value, str):
            raise TypeError("value must be an int or a bytes-like object")
        try:
            s.setsockopt(level, optname, value)
        except OSError as e:
            raise _err(e) from None

    def settimeout(self, value):
        self._n()
        if value is None:
            ms = -1
        else:
            if value < 0:
                raise ValueError("timeout must be None or >= 0")
            ms = int(value * 1000)  # float seconds in, integer ms kept
            if ms == 0 and value > 0:
                ms = 1  # a tiny positive timeout must not turn into non-blocking mode
            if ms > _MAX_MS:
                ms = _MAX_MS
        self._m = (self._m & _FLAGS) | ((ms + 1) << _SHIFT)

    def setblocking(self, flag):
        self.settimeout(None if flag else 0)

    def makefile(self, mode="rb", buffering=0):
        # The socket is its own (unbuffered, binary) file: closing the "file" closes the socket.
        if mode not in ("rb", "wb", "rwb"):
            raise ValueError("makefile() supports only the binary modes 'rb', 'wb', 'rwb'")
        self._n()
        return self

    def read(self, size=-1):
        if size is None:
            size = -1
        if type(size) is not int:
            raise TypeError("size must be an int")
        self._n()
        if size == 0:
            return b""
        want = size if size > 0 else _CHUNK
        parts = []
        got = 0
        while True:
            try:
                d = self._io(_t.recv, _RD, want, None)
            except OSError as e:
                if e.args[0] == _EAGAIN and self._nb():
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

    def readinto(self, buf, nbytes=None):
        mv = self._into(buf, nbytes)
        want = len(mv)
        got = 0
        while got < want:
            try:
                n = self._io(_t.recv_into, _RD, mv[got:] if got else mv, None)
            except OSError as e:
                if e.args[0] == _EAGAIN and self._nb():
                    return got if got else None
                raise
            if not n:
                break
            got += n
        return got

    def readline(self):
        self._n()
        line = bytearray()
        one = bytearray(1)
        while True:
            try:
                n = self._io(_t.recv_into, _RD, memoryview(one), None)
            except OSError as e:
                if e.args[0] == _EAGAIN and self._nb():
                    return bytes(line) if line else None
                raise
            if not n:
                break
            line.append(one[0])
            if one[0] == 10:
                break
        return bytes(line)

    # ---- integration: select.poll (MicroPython stream ioctl / CPython fileno), context manager -----------
    def ioctl(self, req, arg):
        s = self._s
        if req == _STREAM_CLOSE:
            self.close()
            return 0
        if s is None:
            return -_EBADF
        if req == _STREAM_FILENO:
            fd = _t.fileno(s)
            return fd if fd >= 0 else -_EINVAL
        if req == _STREAM_POLL:
            return _t.poll(s, arg)
        return -_EINVAL

    def fileno(self):
        return _t.fileno(self._n())

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        return "<usocket_port.socket %s>" % ("closed" if self._s is None else "open")
