# MicroPython's own socket API beyond the seed (ports/esp32/modsocket.c, py/stream.c, extmod/modlwip.c),
# which third-party libraries call: the same meaning through usocket_port on every target.
#   echo : TcpEcho; sink : TcpSink (the silent peer for the deadline case)
from compat import (
    MICROPYTHON,
    Skip,
    check,
    connect,
    elapsed_ms,
    err,
    expect_exc,
    expect_oserror,
    free_port_bind,
    holds,
    recv_line,
    reuse,
    sha256_hex,
    sha_stream,
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
    "case_tls_one_deadline": ("ext.one-deadline", "ext.errors.etimedout"),
    "case_read_100k_to_eof": ("ext.memory.read-100k", "socket.read.to-eof"),
    "case_read_100k_streamed": ("ext.memory.stream-100k", "socket.readinto"),
    "case_write_after_nonblocking_connect": ("ext.superset.write-while-connecting", "ext.errors.einprogress",
                                             "socket.write.nonblocking-count"),
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


def case_tls_one_deadline(env):
    # settimeout(t) bounds TCP connect + TLS handshake together: a peer that accepts and never answers
    # the ClientHello gives the target's ETIMEDOUT after about t, never a fixed handshake timeout.
    import usocket_target
    if usocket_target.NAME == "wipy":
        # (host_harness/virtual/models/wipy/socket.py _handshake: one blocking call with SimpleLink's
        # 10 s handshake timeout; on the board the NWP answers EALREADY meanwhile and the core's deadline
        # applies)
        raise Skip("the WiPy port model runs the NWP's TLS handshake inside one blocking sl_Connect call")
    s = usocket.socket(usocket.AF_INET, usocket.SOCK_STREAM, usocket.IPPROTO_SEC)
    s.settimeout(2)
    t0 = ticks_ms()
    expect_oserror(lambda: s.connect(env["sink"]), ("ETIMEDOUT",), "IPPROTO_SEC connect to a silent peer")
    ms = elapsed_ms(t0)
    s.close()
    check(1800 <= ms <= 3500, "IPPROTO_SEC connect with settimeout(2) gave up after %d ms" % ms)
    return {"ms": ms, "etimedout": err("ETIMEDOUT")}


def case_write_after_nonblocking_connect(env):
    # What asyncio libraries (mqtt_as) do: connect non-blocking, then write at once and retry while it
    # "would block".  Never EPIPE: the write returns a count or None until the connection is up.
    import select
    s = usocket.socket()
    s.setblocking(False)
    expect_oserror(lambda: s.connect(env["echo"]), ("EINPROGRESS",), "non-blocking connect")
    data = b"written while connecting\n"
    off = 0
    t0 = ticks_ms()
    while off < len(data):
        check(elapsed_ms(t0) < 10000, "write made no progress in 10 s")
        n = s.write(data[off:])
        check(n is None or type(n) is int, "non-blocking write returned %r" % (n,))
        if n:
            off += n
        else:
            p = select.poll()
            p.register(s, select.POLLOUT)
            p.poll(100)
    s.settimeout(5)
    check(recv_line(s) == data, "echo of what was written while connecting")
    s.close()
    return {"ms": elapsed_ms(t0)}


def case_read_100k_to_eof(env):
    # read() to EOF of a 100 KB stream in one piece, on a freshly reset board (the harness resets it first):
    # one buffer grown by the firmware or one bytearray, never a list of chunks plus copies.
    if not holds(env["big_source_nbytes"]):
        raise Skip("this board's heap cannot hold a 100 KB object while it grows (ESP32 without PSRAM ~112 KiB, "
                   "WiPy 1.0 48 KiB: docs/fidelity.md E19, W22); superset.read_100k_streamed reads it in chunks")
    s = connect(env["big_source"], timeout=10)
    d = s.read()
    s.close()
    check(len(d) == env["big_source_nbytes"], "read() to EOF gave %d bytes" % len(d))
    check(sha256_hex(d) == env["big_source_sha256"], "read() to EOF: SHA-256 mismatch")
    return {"bytes": len(d)}


def case_read_100k_streamed(env):
    # The same 100 KB stream in any heap: readinto one reused buffer, hashed as it arrives (compat.Sha sizes
    # WiPy's hashlib up front so nothing is buffered): compat.sha_stream.
    n = env["big_source_nbytes"]
    s = connect(env["big_source"], timeout=10)
    h = sha_stream(s, n)
    s.close()
    check(h.n == n, "streamed %d bytes of %d" % (h.n, n))
    check(h.hex() == env["big_source_sha256"], "streamed 100 KB: SHA-256 mismatch")
    return {"bytes": h.n}
