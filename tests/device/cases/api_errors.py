# The seed's error rules: bad addresses and arguments, closed sockets, listen/accept order (split from api.py: a
# small board compiles one small module at a time).
from compat import any_sockopt, check, connect, expect_exc, expect_oserror, free_port_bind, reuse

import usocket_port as usocket

CLAUSES = {
    "case_bad_addresses": ("address.ipv4-only", "address.port-range", "address.no-domain-names", "ext.bad-input",
                           "ext.socket-usable-after-bad-input"),
    "case_bad_arguments": ("ext.bad-input", "socket.settimeout.nonnegative", "socket.makefile.binary-only",
                           "ext.socket-usable-after-bad-input"),
    "case_closed_socket": ("socket.close", "socket.close.then-fails", "ext.errors.ebadf", "ext.close-twice"),
    "case_listen_accept_rules": ("socket.bind", "socket.listen", "socket.listen.default", "socket.listen.negative",
                                 "socket.accept.needs-listen", "socket.bind.once"),
}

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
