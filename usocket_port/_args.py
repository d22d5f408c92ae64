# usocket_port._args: argument handling of common calls, loaded on first use (small, so that a board compiling
# its modules itself, WiPy, compiles it when a library first calls these): getaddrinfo() with MicroPython's
# 2-6 arguments, write(buf, max_len) / write(buf, off, max_len), recv flags, (buf, nbytes) of the readinto
# family.
try:
    from micropython import const
except ImportError:  # CPython: const() is the identity on ints
    const = int

import usocket_target as _t

import usocket_port as _c

_SEC = const(8)  # same value as in usocket_port/__init__.py
_RD = const(1)


def _bad(code, v):
    from usocket_port import _err
    return _err._bad(code, v)


def getaddrinfo(host, port, af=0, type=0, proto=0, flags=0):
    # usocket_port.getaddrinfo(): [(AF_INET, SOCK_STREAM, IPPROTO_TCP, canonname, (ipv4_str, port)), ...];
    # failure -> OSError(negative number).  MicroPython's 2-6 argument form (ports/esp32/modsocket.c) with
    # filters, as the C library applies them: af other than 0/AF_INET gives [] (the address format is
    # IPv4-only); type 0 or SOCK_STREAM gives TCP entries, SOCK_DGRAM UDP ones, any other type [].  flags is
    # accepted and ignored.  (`type` is the argument's name, as in CPython: no type() here.)
    if host.__class__ is not str or port.__class__ is not int or port < 0 or port > 65535:
        raise _bad(12, (host, port))
    if af.__class__ is not int or type.__class__ is not int or proto.__class__ is not int:
        raise _bad(3, "af, type and proto")
    try:
        r = _t.getaddrinfo(host, port)  # the glue's entries: (AF_INET, SOCK_STREAM, IPPROTO_TCP, ...)
    except OSError as e:
        raise OSError(_t.errno_of(e)) from None
    if not (af or type or proto):
        return r
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
    if flags & ~(pk | _c.MSG_DONTWAIT) or flags & pk and self._ms & _SEC:
        raise _bad(15, "MSG_DONTWAIT" + (" and MSG_PEEK (not on IPPROTO_SEC)" if pk else ""))
    if flags & pk:
        f = _peek if f is _t.recv else _peekfrom
    if flags & _c.MSG_DONTWAIT:
        s = self._n()
        try:
            return f(s, n)
        except OSError as e:
            raise OSError(_t.errno_of(e)) from None
    return self._run(f, _RD, n)


del const


def __getattr__(name):
    # usocket_port's module __getattr__ (usocket_port/__init__.py) hands its misses here (in this small module,
    # not _more: a board compiling its modules itself, WiPy, then compiles _more only for the socket methods):
    #   getaddrinfo()  (_args.getaddrinfo), kept on the package once loaded;
    #   install()   `import socket` / `usocket` / `ssl`... give usocket_port from now on (_install.install;
    #               docs/usocket_port.md, "install()");
    #   tls_setup() the glue's, else MicroPython's `tls` module's (_mptls.tls_setup);
    #   a submodule not imported yet: MicroPython's `from usocket_port import _more` asks there first and
    #   would not fall back to importing it if that raised.
    if name == "getaddrinfo":
        # getaddrinfo(host, port, af=0, type=0, proto=0, flags=0), kept on the package once loaded
        f = _c.getaddrinfo = getaddrinfo
        return f
    if name == "install":
        from usocket_port import _install
        return _install.install
    if name == "tls_setup":
        # THE call that turns certificate checking on for IPPROTO_SEC sockets on every target (docs/ports.md):
        # tls_setup(ca_path=None, hostname=None).  The glue's own (looked up now: a glue may load it lazily
        # too), else the MicroPython `tls` module's.
        f = getattr(_t, "tls_setup", None)
        if f is None:
            from usocket_port import _mptls
            f = _mptls.tls_setup
        return f
    if name in ("_more", "_args", "_read", "_err", "_install", "_mptls", "_ssl"):
        return __import__("usocket_port." + name, None, None, (name,))
    raise AttributeError(name)
