# Blocking, non-blocking and timeout cases.  Timeouts must fire within _SLACK_MS of their value (measured
# with ticks_ms on MicroPython, monotonic on CPython) and surface as plain OSError(ETIMEDOUT).
from compat import (
    BLOCK,
    check,
    connect,
    elapsed_ms,
    err,
    expect_oserror,
    free_port_bind,
    polled,
    reuse,
    secs,
    sleep_ms,
    ticks_ms,
)

import usocket_port as usocket

try:
    import select
except ImportError:
    import uselect as select

_SLACK_MS = 150

CLAUSES = {
    "case_recv_timeout": ("socket.settimeout", "socket.settimeout.timeout-oserror", "diff.settimeout.oserror",
                          "ext.errors.etimedout"),
    "case_stream_timeouts": ("socket.settimeout.timeout-oserror", "ext.errors.etimedout",
                             "socket.read", "socket.readline", "socket.readinto"),
    "case_accept_timeout": ("socket.accept", "ext.errors.etimedout"),
    "case_nonblocking": ("socket.settimeout.zero-nonblocking", "socket.setblocking", "ext.errors.eagain",
                         "socket.read.nonblocking-short", "socket.write.nonblocking-count"),
    "case_nonblocking_connect": ("ext.errors.einprogress", "ext.poll", "socket.setblocking"),
    "case_blocking_again": ("socket.settimeout.none-blocking", "socket.setblocking"),
    "case_connect_refused": ("socket.connect", "diff.socket-error"),
    "case_poll": ("ext.poll",),
}


def _timed(fn, names, what):
    t0 = ticks_ms()
    expect_oserror(fn, names, what)
    return elapsed_ms(t0)


def _within(ms, want, what):
    check(want - 5 <= ms <= want + _SLACK_MS, "%s fired after %d ms, wanted %d ms (+%d)" % (what, ms, want,
                                                                                             _SLACK_MS))


def case_recv_timeout(env):
    s = connect(env["sink"])  # the sink says nothing until it has its header: a silent peer
    out = {}
    for t_ms in (100, 300):
        s.settimeout(secs(t_ms))
        ms = _timed(lambda: s.recv(10), ("ETIMEDOUT",), "recv timeout")
        _within(ms, t_ms, "recv settimeout(%d ms)" % t_ms)
        out["recv_%d" % t_ms] = ms
    s.settimeout(1)  # integer seconds work too
    ms = _timed(lambda: s.recv(10), ("ETIMEDOUT",), "recv timeout 1 s")
    _within(ms, 1000, "recv settimeout(1)")
    out["recv_1000"] = ms
    s.close()
    return out


def case_stream_timeouts(env):
    s = connect(env["sink"])
    s.settimeout(secs(200))
    buf = bytearray(8)
    out = {}
    for name, fn in (("read", lambda: s.read(8)), ("readinto", lambda: s.readinto(buf)),
                     ("readline", lambda: s.readline()), ("recv_into", lambda: s.recv_into(buf))):
        ms = _timed(fn, ("ETIMEDOUT",), name + " timeout")
        _within(ms, 200, name)
        out[name] = ms
    s.close()
    return out


def case_accept_timeout(env):
    s = usocket.socket()
    reuse(s)
    free_port_bind(s, env)
    s.listen(1)
    s.settimeout(secs(250))
    ms = _timed(lambda: s.accept(), ("ETIMEDOUT",), "accept timeout")
    _within(ms, 250, "accept")
    s.close()
    return {"accept": ms}


def case_nonblocking(env):
    s = connect(env["echo"])
    s.setblocking(False)
    t0 = ticks_ms()
    expect_oserror(lambda: s.recv(10), ("EAGAIN",), "non-blocking recv with no data")
    check(s.read(10) is None, "non-blocking read with no data must return None")
    check(s.readline() is None, "non-blocking readline with no data must return None")
    check(s.readinto(bytearray(4)) is None, "non-blocking readinto with no data must return None")
    check(elapsed_ms(t0) < 100, "non-blocking calls must not wait")
    n = s.write(b"hello\n")
    check(n == 6, "small non-blocking write returned %r" % (n,))
    # wait (bounded) for the echo, then a non-blocking read returns what is there
    got = b""
    for _ in range(200):
        d = s.read(100)
        if d:
            got += d
            if got.endswith(b"\n"):
                break
        sleep_ms(5)
    check(got == b"hello\n", "non-blocking read got %r" % (got,))
    # Non-blocking write returns the count written (short once buffers fill), or None when nothing fits;
    # it never raises EAGAIN.  We never read the echo, so both directions' buffers fill up (bounded loop).
    chunk = bytes(BLOCK)
    short = None
    for i in range(40000):
        n = s.write(chunk)
        check(n is None or (type(n) is int and 0 < n <= len(chunk)), "non-blocking write count %r" % (n,))
        if n is None or n < len(chunk):
            short = (i, n)
            break
    check(short is not None, "40000 non-blocking writes of %d bytes never came back short" % BLOCK)
    s.settimeout(0)
    s.close()
    return {"short_write": short}


def case_nonblocking_connect(env):
    s = usocket.socket()
    s.setblocking(False)
    try:
        s.connect(env["echo"])
        immediate = True
    except OSError as e:
        check(type(e) is OSError, "%s leaked" % type(e).__name__)
        check(e.args[0] == err("EINPROGRESS"), "non-blocking connect errno %r" % (e.args[0],))
        immediate = False
    p = select.poll()
    p.register(s, select.POLLOUT)
    r = p.poll(2000)
    check(polled(r, s, select.POLLOUT), "poll(POLLOUT) after connect: %r" % (r,))
    p.unregister(s)
    s.setblocking(True)
    s.settimeout(5)
    s.write(b"nb\n")
    check(s.readline() == b"nb\n", "echo after non-blocking connect")
    s.close()
    return {"immediate": immediate}


def case_blocking_again(env):
    s = connect(env["echo"])
    s.settimeout(0)
    s.settimeout(None)  # back to blocking: a read waits for the echo
    s.write(b"b\n")
    check(s.readline() == b"b\n", "blocking after settimeout(None)")
    s.setblocking(False)
    s.setblocking(True)
    s.write(b"c\n")
    check(s.read(2) == b"c\n", "blocking after setblocking(True)")
    s.close()
    return {}


def case_connect_refused(env):
    s = usocket.socket()
    s.settimeout(5)
    expect_oserror(lambda: s.connect(env["refused"]), ("ECONNREFUSED", "ECONNRESET"),
                   "connect to closed port")
    s.close()
    return {}


def case_poll(env):
    s = connect(env["echo"])
    p = select.poll()
    p.register(s, select.POLLIN)
    check(p.poll(50) == [], "POLLIN before any data: %r" % (p.poll(0),))
    s.write(b"p\n")
    r = p.poll(2000)
    check(len(r) == 1 and polled(r, s, select.POLLIN), "POLLIN after echo: %r" % (r,))
    check(s.readline() == b"p\n", "data after poll")
    p.unregister(s)
    s.close()
    return {}
