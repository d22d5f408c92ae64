# MicroPython's own socket API beyond the seed (ports/esp32/modsocket.c, py/stream.c, extmod/modlwip.c),
# which third-party libraries call: the same meaning through usocket_port on every target.
#   echo : TcpEcho
from compat import (
    MICROPYTHON,
    check,
    connect,
    elapsed_ms,
    expect_exc,
    expect_oserror,
    free_port_bind,
    recv_line,
    reuse,
    ticks_ms,
)

import usocket_port as usocket

CLAUSES = {
    "case_write_max_len": ("ext.superset.write-max-len", "socket.write"),
    "case_str_and_buffers": ("ext.superset.buffers", "socket.send", "socket.sendall", "socket.sendto"),
    "case_getaddrinfo_forms": ("ext.superset.getaddrinfo", "function.getaddrinfo"),
    "case_recv_flags": ("ext.superset.recv-flags", "socket.recv"),
    "case_readinto_read_only": ("ext.superset.readinto-read-only", "ext.bad-input"),
    "case_poll_closed": ("ext.superset.poll-closed", "ext.poll"),
    "case_listening_recv": ("ext.superset.listening-recv",),
}


def _echo_back(s, n):
    got = b""
    while len(got) < n:
        d = s.recv(n - len(got))
        check(d, "EOF from echo after %r" % (got,))
        got += d
    return got


def case_write_max_len(env):
    # mp_stream_write_obj: write(buf), write(buf, max_len), write(buf, off, max_len)
    s = connect(env["echo"])
    n1 = s.write(b"abcdef", 3)
    check(n1 == 3, "write(b'abcdef', 3) returned %r, must be 3" % (n1,))
    n2 = s.write(b"0123456789", 4, 2)
    check(n2 == 2, "write(buf, 4, 2) returned %r" % (n2,))
    n3 = s.write(b"xyz", 10)
    check(n3 == 3, "write(b'xyz', 10) returned %r (max_len beyond the buffer)" % (n3,))
    n4 = s.write(b"q", 0)
    check(n4 == 0, "write(b'q', 0) returned %r" % (n4,))
    got = _echo_back(s, 8)
    check(got == b"abc45xyz", "the peer got %r, expected b'abc45xyz' (max_len ignored?)" % (got,))
    expect_exc(lambda: s.write(b"abc", -1), ValueError, "write(buf, -1)")
    s.write(b"ok\n")
    check(recv_line(s) == b"ok\n", "socket unusable after write(buf, -1)")
    s.close()
    return {}


def case_str_and_buffers(env):
    # Any object with the buffer protocol, str included (MicroPython's sockets take str: its UTF-8 bytes).
    s = connect(env["echo"])
    check(s.write("abc") == 3, "write(str)")
    check(s.send("d") == 1, "send(str)")
    s.sendall("e")
    s.sendall(bytearray(b"f"))
    s.sendall(memoryview(b"xgx")[1:2])
    check(s.write(memoryview(bytearray(b"h"))) == 1, "write(memoryview)")
    got = _echo_back(s, 8)
    check(got == b"abcdefgh", "echo %r" % (got,))
    s.close()
    u = usocket.socket(usocket.AF_INET, usocket.SOCK_DGRAM)
    check(u.sendto("udp", ("127.0.0.1", 9)) == 3, "sendto(str)")
    u.close()
    return {}


def case_getaddrinfo_forms(env):
    ip, port = env["echo"]
    forms = (
        (ip, port),
        (ip, port, 0),
        (ip, port, 0, usocket.SOCK_STREAM),  # what MicroPython's asyncio.open_connection passes
        (ip, port, usocket.AF_INET, usocket.SOCK_STREAM, 0),
        (ip, port, usocket.AF_INET, 0, 0, 0),
    )
    for args in forms:
        r = usocket.getaddrinfo(*args)
        check(type(r) is list and r, "getaddrinfo%r -> %r" % (args, r))
        for e in r:
            check(type(e) is tuple and len(e) == 5, "getaddrinfo%r entry %r is not a 5-tuple" % (args, e))
            check(e[0] == usocket.AF_INET and e[1] == usocket.SOCK_STREAM and e[2] == usocket.IPPROTO_TCP,
                  "getaddrinfo%r entry %r" % (args, e))
            check(e[4] == (ip, port), "sockaddr %r" % (e[4],))
    d = usocket.getaddrinfo(ip, port, 0, usocket.SOCK_DGRAM)
    check(d and d[0][1] == usocket.SOCK_DGRAM and d[0][2] == usocket.IPPROTO_UDP, "SOCK_DGRAM filter: %r" % d)
    af6 = getattr(usocket, "AF_INET6", None)
    if af6 is not None:
        check(usocket.getaddrinfo(ip, port, af6) == [], "AF_INET6 filter must give no IPv4 entries")
    expect_exc(lambda: usocket.getaddrinfo(ip, port, "x"), TypeError, "getaddrinfo(af=str)")
    s = connect(usocket.getaddrinfo(ip, port, 0, usocket.SOCK_STREAM)[0][-1])
    s.close()
    return {"forms": len(forms)}


def case_recv_flags(env):
    s = connect(env["echo"])
    expect_oserror(lambda: s.recv(4, usocket.MSG_DONTWAIT), ("EAGAIN",), "recv(MSG_DONTWAIT), nothing there")
    s.write(b"peek")
    peek = getattr(usocket, "MSG_PEEK", None)
    out = {"peek": peek is not None}
    if peek is not None:
        t0 = ticks_ms()
        d = b""
        while len(d) < 4 and elapsed_ms(t0) < 3000:
            d = s.recv(4, peek)
        check(d == b"peek", "recv(MSG_PEEK) %r" % (d,))
    else:
        e = expect_oserror(lambda: s.recv(4, 1), ("EOPNOTSUPP",), "recv(unsupported flag)")
        out["reason"] = str(e)
    check(_echo_back(s, 4) == b"peek", "data after MSG_PEEK")
    expect_oserror(lambda: s.recv(4, 0x4000), ("EOPNOTSUPP",), "recv(an unknown flag)")
    s.close()
    return out


def case_readinto_read_only(env):
    s = connect(env["echo"], timeout=3)
    t0 = ticks_ms()
    expect_exc(lambda: s.readinto(b"abcd"), TypeError, "readinto(bytes)")
    expect_exc(lambda: s.readinto(memoryview(b"abcd")), TypeError, "readinto(memoryview of bytes)")
    expect_exc(lambda: s.recv_into(b"abcd"), TypeError, "recv_into(bytes)")
    ms = elapsed_ms(t0)
    check(ms < 1000, "read-only buffers refused after %d ms: must be at once, not at the timeout" % ms)
    s.write(b"ok\n")
    check(recv_line(s) == b"ok\n", "socket unusable after the refusals")
    s.close()
    return {"ms": ms}


def case_poll_closed(env):
    import select
    s = connect(env["echo"])
    s.close()
    if not MICROPYTHON:
        check(s.fileno() == -1, "a closed socket's fileno() is -1, as CPython's own")
        return {"fileno": -1}
    p = select.poll()
    p.register(s, select.POLLIN)
    r = p.poll(0)
    check(r and r[0][1] & 0x20, "poll of a closed socket: %r, expected POLLNVAL (0x20)" % (r,))
    return {"revents": r[0][1]}


def case_listening_recv(env):
    ls = usocket.socket()
    reuse(ls)
    free_port_bind(ls, env)
    ls.listen(1)
    ls.settimeout(1)
    buf = bytearray(4)
    for name, fn in (("recv", lambda: ls.recv(4)), ("recv_into", lambda: ls.recv_into(buf)),
                     ("readinto", lambda: ls.readinto(buf)), ("read", lambda: ls.read(4))):
        expect_oserror(fn, ("ENOTCONN",), name + " on a listening socket")
    ls.close()
    return {}
