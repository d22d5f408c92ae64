# API surface cases: constants, getaddrinfo, argument checking, socket life cycle.  No peer traffic beyond
# a connect to env['echo'] where a connected socket is needed.
from compat import MICROPYTHON, any_sockopt, check, connect, err, expect_oserror

import usocket_port as usocket

CLAUSES = {
    "case_constants": ("const.AF_INET", "const.AF_INET6", "const.SOCK_STREAM", "const.SOCK_DGRAM",
                       "const.IPPROTO_TCP", "const.IPPROTO_UDP", "const.SOL", "const.SO",
                       "const.IPPROTO_SEC"),
    "case_socket_defaults": ("function.socket", "function.socket.defaults", "diff.stream-interface"),
    "case_getaddrinfo": ("function.getaddrinfo", "function.getaddrinfo.connect-idiom"),
    "case_getaddrinfo_error": ("diff.getaddrinfo.negative-oserror", "diff.socket-error"),
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
