# API surface cases: constants, getaddrinfo, argument checking, socket life cycle.  No peer traffic beyond
# a connect to env['echo'] where a connected socket is needed.
from compat import MICROPYTHON, any_sockopt, check, connect, err, expect_exc, expect_oserror, free_port_bind, reuse

import usocket_port as usocket

CLAUSES = {
    "case_constants": ("const.AF_INET", "const.AF_INET6", "const.SOCK_STREAM", "const.SOCK_DGRAM",
                       "const.IPPROTO_TCP", "const.IPPROTO_UDP", "const.SOL", "const.SO",
                       "const.IPPROTO_SEC"),
    "case_socket_defaults": ("function.socket", "function.socket.defaults", "diff.stream-interface"),
    "case_getaddrinfo": ("function.getaddrinfo", "function.getaddrinfo.connect-idiom"),
    "case_getaddrinfo_error": ("diff.getaddrinfo.negative-oserror", "diff.socket-error"),
    "case_bad_addresses": ("address.ipv4-only", "address.port-range", "address.no-domain-names",
                           "ext.bad-input", "ext.socket-usable-after-bad-input"),
    "case_bad_arguments": ("ext.bad-input", "socket.settimeout.nonnegative", "socket.makefile.binary-only",
                           "ext.socket-usable-after-bad-input"),
    "case_closed_socket": ("socket.close", "socket.close.then-fails", "ext.errors.ebadf",
                           "ext.close-twice"),
    "case_listen_accept_rules": ("socket.bind", "socket.listen", "socket.listen.default",
                                 "socket.listen.negative", "socket.accept.needs-listen", "socket.bind.once"),
    "case_setsockopt": ("socket.setsockopt", "socket.setsockopt.buffer"),
    "case_makefile": ("socket.makefile", "diff.makefile-supported", "diff.makefile.buffering-ignored",
                      "diff.makefile.close-closes-socket"),
    "case_context_manager": ("ext.context-manager",),
}


def case_constants(env):
    names = ("AF_INET", "SOCK_STREAM", "SOCK_DGRAM", "IPPROTO_TCP", "IPPROTO_UDP", "IPPROTO_SEC",
             "SOL_SOCKET")
    got = {}
    for n in names:
        v = getattr(usocket, n, None)
        check(type(v) is int, "constant %s missing or not int: %r" % (n, v))
        got[n] = v
    check(usocket.SOCK_STREAM != usocket.SOCK_DGRAM, "SOCK_STREAM == SOCK_DGRAM")
    check(usocket.IPPROTO_TCP != usocket.IPPROTO_UDP, "IPPROTO_TCP == IPPROTO_UDP")
    af6 = getattr(usocket, "AF_INET6", None)
    check(af6 is None or (type(af6) is int and af6 != usocket.AF_INET), "AF_INET6 bogus: %r" % (af6,))
    sos = [k for k in dir(usocket) if k.startswith("SO_")]
    check(sos, "no SO_* constant at all")
    got["AF_INET6"] = af6
    got["SO_count"] = len(sos)
    return got


def case_socket_defaults(env):
    s = usocket.socket()  # AF_INET, SOCK_STREAM, IPPROTO_TCP
    s.settimeout(5)
    s.connect(env["echo"])
    check(s.write(b"ab\n") == 3, "write on default socket")
    check(s.readline() == b"ab\n", "stream readline on the socket itself (no makefile needed)")
    s.close()
    s = usocket.socket(usocket.AF_INET, usocket.SOCK_STREAM, usocket.IPPROTO_TCP)
    s.close()
    u = usocket.socket(usocket.AF_INET, usocket.SOCK_DGRAM, usocket.IPPROTO_UDP)
    u.close()
    return {}


def case_getaddrinfo(env):
    ip, port = env["echo"]
    r = usocket.getaddrinfo(ip, port)
    check(type(r) is list and r, "getaddrinfo must return a non-empty list: %r" % (r,))
    for ent in r:
        check(type(ent) is tuple and len(ent) == 5, "entry must be a 5-tuple: %r" % (ent,))
        fam, typ, proto, canon, sa = ent
        check(fam == usocket.AF_INET, "family %r" % (fam,))
        check(type(canon) is str, "canonname must be str: %r" % (canon,))
        check(sa == (ip, port), "sockaddr %r != %r" % (sa, (ip, port)))
    r2 = usocket.getaddrinfo("localhost", 80)
    check(r2[0][-1] == ("127.0.0.1", 80), "localhost -> %r" % (r2[0][-1],))
    # The seed's idiom: connect(getaddrinfo(host, port)[0][-1])
    s = usocket.socket()
    s.settimeout(5)
    s.connect(usocket.getaddrinfo(ip, port)[0][-1])
    s.write(b"x\n")
    check(s.readline() == b"x\n", "echo through the getaddrinfo idiom")
    s.close()
    return {"entries": len(r)}


def case_getaddrinfo_error(env):
    # A 64-character label cannot be encoded in a DNS query, so the resolver fails locally (no traffic).
    host = "a" * 64 + ".invalid"
    try:
        usocket.getaddrinfo(host, 80)
    except OSError as e:
        check(type(e) is OSError, "%s leaked (must be plain OSError)" % type(e).__name__)
        n = e.args[0]
        check(type(n) is int and n < 0, "getaddrinfo errno must be a negative int, got %r" % (n,))
        return {"errno": n}
    raise AssertionError("getaddrinfo(%r) did not fail" % host)


_BAD_ADDRS = (("127.0.0.1", 0), ("127.0.0.1", 65536), ("127.0.0.1", -1), ("127.0.0.1", "80"),
              ("localhost", 80), ("1.2.3", 80), ("256.1.1.1", 80), (b"127.0.0.1", 80),
              ("127.0.0.1", 80, 0), "127.0.0.1:80", ("", 80), ("01.2.3.4", 80), ("127.0.0.1", True))


def case_bad_addresses(env):
    s = usocket.socket()
    s.settimeout(5)
    n = 0
    for a in _BAD_ADDRS:
        e = expect_oserror(lambda: s.connect(a), ("EINVAL",), "connect(%r)" % (a,))
        n += 1
        if a[0] == "localhost":
            check("getaddrinfo" in str(e), "domain-name error must point to getaddrinfo(): %r" % (e,))
    u = usocket.socket(usocket.AF_INET, usocket.SOCK_DGRAM)
    for a in _BAD_ADDRS:
        expect_oserror(lambda: u.sendto(b"x", a), ("EINVAL",), "sendto(%r)" % (a,))
    for a in (("127.0.0.1", 65536), ("localhost", 0), ("1.2.3", 0)):
        expect_oserror(lambda: u.bind(a), ("EINVAL",), "bind(%r)" % (a,))
    u.close()
    # The socket is still usable after all that.
    s.connect(env["echo"])
    s.write(b"ok\n")
    check(s.readline() == b"ok\n", "socket unusable after bad addresses")
    s.close()
    return {"checked": n}


def case_bad_arguments(env):
    s = connect(env["echo"])
    expect_exc(lambda: s.recv(-1), ValueError, "recv(-1)")
    expect_exc(lambda: s.recv("1"), TypeError, "recv('1')")
    expect_exc(lambda: s.send(123), TypeError, "send(int)")
    expect_exc(lambda: s.sendall(None), TypeError, "sendall(None)")
    expect_exc(lambda: s.write(123), TypeError, "write(int)")
    expect_exc(lambda: s.write(b"abc", "1"), TypeError, "write(buf, str max_len)")
    expect_exc(lambda: s.readinto(b"ro"), TypeError, "readinto(read-only buffer)")
    expect_exc(lambda: s.settimeout(-1), ValueError, "settimeout(-1)")
    for mode in ("r", "w", "rw", "b", "rt", "wt", ""):
        expect_exc(lambda: s.makefile(mode), ValueError, "makefile(%r)" % mode)
    buf = bytearray(4)
    expect_exc(lambda: s.readinto(buf, 5), ValueError, "readinto(buf, nbytes > len(buf))")
    expect_exc(lambda: s.recv_into(buf, -1), ValueError, "recv_into(buf, -1)")
    expect_exc(lambda: s.setsockopt(*any_sockopt(), "1"), TypeError,
               "setsockopt(str value)")
    # still usable, and still blocking-with-timeout (settimeout(-1) must not have changed the mode)
    s.write(b"still\n")
    check(s.readline() == b"still\n", "socket unusable after bad arguments")
    s.close()
    return {}


def case_closed_socket(env):
    s = connect(env["echo"])
    s.close()
    s.close()  # double close is fine
    buf = bytearray(4)
    ops = (
        ("bind", lambda: s.bind(("127.0.0.1", 0))),
        ("listen", lambda: s.listen(1)),
        ("accept", lambda: s.accept()),
        ("connect", lambda: s.connect(env["echo"])),
        ("send", lambda: s.send(b"x")),
        ("sendall", lambda: s.sendall(b"x")),
        ("recv", lambda: s.recv(1)),
        ("sendto", lambda: s.sendto(b"x", env["echo"])),
        ("recvfrom", lambda: s.recvfrom(1)),
        ("recv_into", lambda: s.recv_into(buf)),
        ("recvfrom_into", lambda: s.recvfrom_into(buf)),
        ("setsockopt", lambda: s.setsockopt(*any_sockopt(), 1)),
        ("settimeout", lambda: s.settimeout(1)),
        ("setblocking", lambda: s.setblocking(True)),
        ("makefile", lambda: s.makefile("rb")),
        ("read", lambda: s.read(1)),
        ("readinto", lambda: s.readinto(buf)),
        ("readline", lambda: s.readline()),
        ("write", lambda: s.write(b"x")),
    )
    for name, fn in ops:
        expect_oserror(fn, ("EBADF",), name + " after close")
    return {"ops": len(ops)}


def case_listen_accept_rules(env):
    s = usocket.socket()
    reuse(s)
    expect_oserror(lambda: s.listen(), ("EINVAL",), "listen before bind")
    expect_oserror(lambda: s.accept(), ("EINVAL",), "accept on a non-listening socket")
    free_port_bind(s, env)
    expect_oserror(lambda: s.accept(), ("EINVAL",), "accept after bind, before listen")
    expect_oserror(lambda: s.bind(("127.0.0.1", 0)), ("EINVAL",), "second bind")
    s.listen()  # default backlog
    s.close()
    t = usocket.socket()
    reuse(t)
    free_port_bind(t, env)
    t.listen(-5)  # clamped to 0, no error
    t.settimeout(0)
    expect_oserror(lambda: t.accept(), ("EAGAIN",), "non-blocking accept with nobody connecting")
    t.close()
    return {}


def case_setsockopt(env):
    s = usocket.socket()
    level, opt = any_sockopt()
    s.setsockopt(level, opt, 1)
    # the buffer form: a 4-byte native int
    one = bytes((1, 0, 0, 0)) if _little() else bytes((0, 0, 0, 1))
    s.setsockopt(level, opt, one)
    s.close()
    return {}


def _little():
    import sys
    return sys.byteorder == "little"


def case_makefile(env):
    s = connect(env["echo"])
    f = s.makefile("rwb", 1024)  # buffering is ignored (unbuffered)
    f.write(b"via file\n")
    check(f.readline() == b"via file\n", "makefile read/write")
    for mode in ("rb", "wb"):
        s.makefile(mode)
    f.close()
    # closing the file object closed the socket
    expect_oserror(lambda: s.send(b"x"), ("EBADF",), "send after closing the makefile() object")
    return {"same_object": f is s}


def case_context_manager(env):
    with usocket.socket() as s:
        s.settimeout(5)
        s.connect(env["echo"])
        s.write(b"cm\n")
        check(s.readline() == b"cm\n", "echo inside with")
    expect_oserror(lambda: s.recv(1), ("EBADF",), "recv after with-block")
    return {"micropython": MICROPYTHON, "eagain": err("EAGAIN")}
