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
#
# Import heap matters on boards (bytecode and names of a .mpy live in RAM), so this module holds only the
# common path: socket(), connect, send/sendall/write, recv/recv_into/readinto, settimeout, close, poll
# integration.  The rest (server side, datagrams, read/readline, makefile, setsockopt, error texts) is in
# usocket_port/_more.py, loaded by socket.__getattr__ on first use and then put on the class.
try:
    from micropython import const
except ImportError:  # CPython: const() is the identity on ints
    const = int

# (as e: a compiler with MICROPY_COMP_MODULE_CONST would fold `errno.X` to its own build's numbers, wrong
# on the virtual boards' port models; `e`, a name the firmware already has; deleted below, used only for the
# errno defaults)
import errno as e

# (no alias: the module's name is interned already, an alias would be one name more in RAM)
import usocket_target

# The errno numbers the core uses: all seven from the glue (cc3200's `errno` lacks most names), or, where the
# glue has no EAGAIN, all from the target's own `errno` module.  (Plain assignments, not a loop over names:
# a tuple or string of names would stay in RAM as a constant of this module.)
if not hasattr(usocket_target, "EAGAIN"):
    usocket_target.EAGAIN = e.EAGAIN
    usocket_target.ETIMEDOUT = e.ETIMEDOUT
    usocket_target.EINPROGRESS = e.EINPROGRESS
    usocket_target.EALREADY = e.EALREADY
    usocket_target.EBADF = e.EBADF
    usocket_target.EINVAL = e.EINVAL
    usocket_target.EOPNOTSUPP = e.EOPNOTSUPP
del e

# Constants the target really has, with its own values (AF_INET, SOCK_*, IPPROTO_*, SOL_SOCKET, SO_*...).
# The glue gives a list of (name, value) or a function returning one (then no list stays in its RAM).
globals().update(usocket_target.CONSTANTS() if callable(usocket_target.CONSTANTS) else usocket_target.CONSTANTS)
if "MSG_DONTWAIT" not in globals():
    MSG_DONTWAIT = 64  # the core does MSG_DONTWAIT itself (usocket_port/_args.py): Linux's value


def __getattr__(name):
    # Module functions rarely called (getaddrinfo, install, tls_setup) and the lazy submodules, looked up on
    # first use by _args's module __getattr__ (PEP 562 / MicroPython's module __getattr__): their names cost
    # no RAM here.  (__import__ with a from-list, which makes it return the submodule: `from usocket_port
    # import _args` would ask here again; the from-list names what is taken from it, a name firmwares have.)
    return __import__("usocket_port._args", None, None, ("getaddrinfo",)).__getattr__(name)

# Glue functions a glue may leave out (docs/usocket_port.md, "Glue interface"): where the glue lacks one, the
# core puts its default there, fit for every MicroPython port's socket (and CPython's).  Defined under `if`
# (no RAM when the glue has its own), under the glue's own names (no new qstrs).
if not hasattr(usocket_target, "connected"):
    def connected(s, a):
        # After a would-block connect and a POLLOUT wait, a second connect() tells (Linux, lwIP): EISCONN done,
        # EALREADY/EINPROGRESS/EAGAIN pending, anything else the connect's own failure (raised).  lwIP says
        # ENOTCONN there after a refusal (the RST freed the pcb; esp-lwip api_msg.c, err.c has no
        # ECONNREFUSED): raised as ECONNRESET, what its SO_ERROR says.  Needs the glue's EISCONN (missing
        # from some `errno` modules).
        try:
            s.connect(a)
        except OSError as e:
            n = usocket_target.errno_of(e)
            if n == usocket_target.EISCONN:
                return True
            if n == usocket_target.EALREADY or n == usocket_target.EINPROGRESS or n == usocket_target.EAGAIN:
                return False
            import errno
            if n == getattr(errno, "ENOTCONN", 0):
                raise OSError(errno.ECONNRESET) from None
            raise
        return True
    usocket_target.connected = connected
    del connected

if not hasattr(usocket_target, "TX_MAX"):
    usocket_target.TX_MAX = 0  # bytes per native write (0: no cap); WiPy's driver needs one (ports/wipy)

if not hasattr(usocket_target, "recv"):
    def recv(s, n):
        d = s.recv(n)
        if d is None:
            # A TLS object (IPPROTO_SEC) reports "would block" as None, not EAGAIN (extmod/modtls_mbedtls.c).
            raise OSError(usocket_target.EAGAIN)
        return d
    usocket_target.recv = recv
    del recv

if not hasattr(usocket_target, "recv_into"):
    def recv_into(s, buf):
        # Synthesised from recv (reached by datagram sockets only: MicroPython streams have readinto).
        d = usocket_target.recv(s, len(buf))
        n = len(d)
        buf[:n] = d
        return n
    usocket_target.recv_into = recv_into
    del recv_into

if not hasattr(usocket_target, "wait"):
    def wait(s, mode, timeout):
        # Block until s is ready for mode (POLLIN/POLLOUT bits), an error/hang-up, or timeout ms (-1: forever).
        # (select is imported here, not kept as a global: an already-loaded module costs a dict lookup.)
        import select
        p = select.poll()
        p.register(s, mode)
        p.poll(timeout)
    usocket_target.wait = wait
    del wait

# Flag bits kept in the low bits of socket._ms; the timeout (ms + 1, so 0 means blocking) sits above them.
# usocket_port/_more.py repeats the values it needs.
_STREAM = const(1)
_BOUND = const(2)
_LISTEN = const(4)
_SEC = const(8)
_NS = const(16)  # the native object has MicroPython stream readinto/write (None = would block)
_FLAGS = const(31)
_SHIFT = const(5)
_MAX_MS = const(0x1FFFFFE)  # ~9.3 h: (ms + 1) << _SHIFT stays a small int on 32-bit boards
_RD = const(1)  # poll event bits, as select.POLLIN / POLLOUT
_WR = const(4)
# _bad() codes (the texts live in _err)
_B_ADDR = const(0)
_B_PORT = const(1)
_B_INT = const(3)
_B_NEG = const(4)
_B_AF = const(6)
_B_LISTEN = const(13)
_B_RO = const(14)


def _bad(code, v=None):
    # The exception for bad input, built in _err (through _more: one lazy name in this module) so its
    # message texts cost no RAM until needed.
    from usocket_port import _more
    return _more._bad(code, v)


def _resolve(a, bind):
    # The seed's one address format, checked and turned into the glue's native address: (dotted-quad IPv4 str,
    # int port 1-65535; 0 only for bind).  Numeric only: no name lookup (getaddrinfo is the user's call).
    if type(a) is not tuple or len(a) != 2:
        raise _bad(_B_ADDR, a)
    ip, port = a
    if type(ip) is not str or ip.count(".") != 3:
        raise _bad(_B_ADDR, ip)
    for p in ip.split("."):
        # isdigit() refuses "", signs and spaces; str(int()) refuses leading zeros
        if not p.isdigit() or str(int(p)) != p or int(p) > 255:
            raise _bad(_B_ADDR, ip)
    if type(port) is not int or port > 65535 or port < (0 if bind else 1):
        raise _bad(_B_PORT, port)
    # The glue's encoding (unix: raw sockaddr_in); without addr() the native address is the tuple itself.
    return usocket_target.addr(ip, port) if hasattr(usocket_target, "addr") else a


class socket(usocket_target.IOBase):
    # Two attributes only (heap per socket matters on boards): _s native socket (None once closed),
    # _ms = flags | (timeout_ms + 1) << _SHIFT.
    def __init__(self, af=AF_INET, type=SOCK_STREAM, proto=IPPROTO_TCP, fileno=None):
        f = _STREAM if type == SOCK_STREAM else 0
        # fileno: the native socket to wrap (accept() passes it; CPython's socket() has the 4th parameter
        # too, for an fd), a name the firmware already has.
        if fileno is None:
            if af != AF_INET:
                raise _bad(_B_AF)
            if proto == IPPROTO_SEC:
                f |= _SEC
            elif proto == IPPROTO_TCP and type == SOCK_DGRAM:
                # The seed's default proto is IPPROTO_TCP even for datagrams (cc3200 heritage), which
                # most stacks refuse: socket(AF_INET, SOCK_DGRAM) means UDP everywhere.
                proto = IPPROTO_UDP
            try:
                fileno = usocket_target.new(af, type, proto)
            except OSError as e:
                raise OSError(usocket_target.errno_of(e)) from None
        # Streams whose native object has readinto/write (MicroPython sockets and TLS objects) use them:
        # no per-call allocation, no exception for "would block".  Others go through the glue.
        if f and hasattr(fileno, "readinto"):
            f |= _NS
        self._s = fileno
        self._ms = f

    def __getattr__(self, name):
        # Rarely used methods live in _more: on first use all of them are put on the class, after which
        # lookups are ordinary.  Private and unknown names are plain AttributeErrors.
        if name[:1] != "_":
            from usocket_port import _more
            if name in _more.__all__:
                for k in _more.__all__:
                    setattr(socket, k, getattr(_more, k))
                return getattr(self, name)
        raise AttributeError(name)

    # ---- internals -------------------------------------------------------------------------------------
    def _n(self):
        s = self._s
        if s is None:
            raise OSError(usocket_target.EBADF)
        return s

    # (Argument names here and in the glue are names the firmware already interns: no new qstrs in RAM.)
    def _poll(self, mode, t, code):
        # The native op would block.  Non-blocking -> OSError(code); timed out -> ETIMEDOUT; else wait for
        # mode (poll event bits) and return the deadline t (ticks; None on the first wait) so the caller's
        # retry loop keeps one deadline for the whole op.
        to = (self._ms >> _SHIFT) - 1
        if to == 0:
            raise OSError(code)
        left = -1
        if to > 0:
            now = usocket_target.ticks_ms()
            if t is None:
                t = usocket_target.ticks_add(now, to)
            left = usocket_target.ticks_diff(t, now)
            if left <= 0:
                raise OSError(usocket_target.ETIMEDOUT)
        usocket_target.wait(self._s, mode, left)
        return t

    def _run(self, f, mode, arg):
        # Run one native op f(native, arg) until it does not report "would block", honouring blocking/timeout
        # mode.  f: the recv family or _more's helpers; mode: the poll event to wait for.
        s = self._n()
        dl = None
        while True:
            try:
                return f(s, arg)
            except OSError as e:
                n = usocket_target.errno_of(e)
                if n != usocket_target.EAGAIN:
                    raise OSError(n) from None
                dl = self._poll(mode, dl, usocket_target.EAGAIN)

    # ---- seed API --------------------------------------------------------------------------------------
    def close(self):
        s = self._s
        if s is not None:
            self._s = None
            try:
                s.close()
            except OSError:
                pass

    def connect(self, address):
        a = _resolve(address, False)
        s = self._n()
        # One deadline for TCP connect + TLS handshake (IPPROTO_SEC): set now, not at the first wait.
        to = (self._ms >> _SHIFT) - 1
        dl = usocket_target.ticks_add(usocket_target.ticks_ms(), to) if to > 0 else None
        try:
            try:
                s.connect(a)
            except OSError as e:
                n = usocket_target.errno_of(e)
                if n != usocket_target.EAGAIN and n != usocket_target.EINPROGRESS:
                    raise
                # Blocking/timeout: ask once before the first wait (a near peer has answered already: no
                # poll); non-blocking: EINPROGRESS, as the seed says, even if it is done already.
                while not (to and usocket_target.connected(s, a)):
                    dl = self._poll(_WR, dl, usocket_target.EINPROGRESS)
            if self._ms & _SEC:
                # The glue's secure(), else the MicroPython `tls` module's (usocket_port/_mptls.py, through
                # _more: the core names no other lazy module); it gets
                # what is left of the deadline in ms (-1: none).
                f = getattr(usocket_target, "secure", None)
                if f is None:
                    from usocket_port import _more
                    f = _more.secure
                s = f(s, address[0], usocket_target.ticks_diff(dl, usocket_target.ticks_ms()) if dl is not None else -1)
                self._s = s
                self._ms = self._ms & ~_NS | (_NS if hasattr(s, "readinto") else 0)
        except OSError as e:
            n = usocket_target.errno_of(e)
            if n == usocket_target.EINPROGRESS and to == 0:
                raise OSError(n) from None
            if dl is not None and usocket_target.ticks_diff(dl, usocket_target.ticks_ms()) <= 0:
                # The deadline ran out somewhere inside (a native timeout set to what was left, the TLS
                # layer, another platform's number): one error for it, the target's ETIMEDOUT.
                n = usocket_target.ETIMEDOUT
            raise OSError(n) from None

    def send(self, buf):
        return self._w(buf, 2)

    def sendall(self, buf):
        self._w(buf, 1)

    def write(self, buf, off=None, n=None):
        # The stream write of py/stream.c (mp_stream_write_obj, positional arguments only): write(buf),
        # write(buf, max_len) or write(buf, off, max_len) -- at most max_len bytes of buf from off (the slice:
        # _args.slice, through _more).  (n: a name the firmware has, for max_len.)
        if off is not None:
            from usocket_port import _more
            buf = _more.slice(buf, off, n)
        return self._w(buf, 0)

    def _w(self, buf, mode):
        # One loop for write (mode 0), sendall (1) and send (2): blocking, all of buf goes (one deadline for
        # all of it; send stops after the first native call that took something).  Non-blocking, when
        # nothing more fits: write returns the count (None if nothing), sendall and send raise EAGAIN.
        # Any object with the buffer protocol, str included (its UTF-8 bytes), as MicroPython's sockets.
        if isinstance(buf, str):
            buf = buf.encode()
        s = self._n()
        total = len(buf)
        mv = buf  # a memoryview only after a short write (most writes are whole)
        off = 0
        dl = None
        while off < total:
            w = mv
            if usocket_target.TX_MAX and total - off > usocket_target.TX_MAX:
                w = memoryview(buf)[off:off + usocket_target.TX_MAX]  # the glue's cap on one native write
            try:
                n = s.write(w) if self._ms & _NS else s.send(w)
            except OSError as e:
                n = usocket_target.errno_of(e)
                if n != usocket_target.EAGAIN:
                    raise OSError(n) from None
                n = None
            if n is None:
                if not mode and self._ms >> _SHIFT == 1:
                    return off if off else None
                dl = self._poll(_WR, dl, usocket_target.EAGAIN)
            else:
                off += n
                if mode == 2:
                    break
                if off < total:
                    mv = memoryview(buf)[off:]
        if mode != 1:
            return off

    def recv(self, n, flags=0):
        if type(n) is not int:
            raise _bad(_B_INT, "bufsize")
        if n < 0:
            raise _bad(_B_NEG, "bufsize")
        self._n()
        if self._ms & _LISTEN:
            raise _bad(_B_LISTEN)
        if flags:
            from usocket_port import _more
            return _more.recv(self, n, flags)
        if n == 0:
            return b""
        return self._run(usocket_target.recv, _RD, n)

    def recv_into(self, buf, nbytes=0):
        return self._rd(buf, nbytes if nbytes else None, True)

    def readinto(self, buf, nbytes=None):
        return self._rd(buf, nbytes, False)

    def _rd(self, buf, nbytes, mode):
        # readinto: no short reads unless EOF (blocking/timeout); non-blocking: what is there, None if
        # nothing.  recv_into (mode True): the first native read that got something; non-blocking: EAGAIN.
        s = self._n()
        if self._ms & _LISTEN:
            raise _bad(_B_LISTEN)
        if nbytes is None:
            mv = buf  # a memoryview only after a short read
        else:
            from usocket_port import _more
            mv = _more.readinto(buf, nbytes)
        if mv.__class__ is not bytearray and len(mv):
            # A read-only buffer (bytes, str, a view of them) is a TypeError at once, not when data arrives
            # or the timeout passes (MicroPython's views have no .readonly: try one harmless store).
            try:
                mv[0] = mv[0]
            except TypeError:
                raise _bad(_B_RO) from None
        want = len(mv)
        got = 0
        dl = None
        m = mv
        while got < want:
            try:
                # Streams whose native object has readinto (MicroPython sockets, TLS objects) use it: no
                # allocation, None for "would block".  Others go through the glue's recv_into.
                n = s.readinto(m) if self._ms & _NS else usocket_target.recv_into(s, m)
            except OSError as e:
                n = usocket_target.errno_of(e)
                if n != usocket_target.EAGAIN:
                    raise OSError(n) from None
                n = None
            if n is None:
                if not mode and self._ms >> _SHIFT == 1:
                    return got if got else None
                dl = self._poll(_RD, dl, usocket_target.EAGAIN)
            elif n:
                got += n
                if mode:
                    break
                if got < want:
                    m = memoryview(mv)[got:]  # a new view per short read, not per would-block retry
            else:
                break  # EOF
        return got

    def settimeout(self, value):
        self._n()
        if value is None:
            ms = -1
        else:
            if value < 0:
                raise _bad(_B_NEG, "timeout")
            ms = int(value * 1000)  # float seconds in, integer ms kept
            if ms == 0 and value > 0:
                ms = 1  # a tiny positive timeout must not turn into non-blocking mode
            if ms > _MAX_MS:
                ms = _MAX_MS
        self._ms = (self._ms & _FLAGS) | ((ms + 1) << _SHIFT)

    # ---- context manager (select.poll integration: ioctl() / fileno() in _more) ----------------------------
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


del const
