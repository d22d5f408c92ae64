# MicroPython's own socket API beyond the seed, the parts that take time or memory: one deadline for connect +
# TLS, a write while a non-blocking connect is under way, a 100 KB body (apart from superset.py so that each
# module compiles in a WiPy's heap).
#   sink : TcpSink (the silent peer for the deadline case); echo : TcpEcho; big_source : TcpSource, 100 KB
from compat import (
    Skip,
    check,
    connect,
    elapsed_ms,
    err,
    expect_oserror,
    holds,
    recv_line,
    sha256_hex,
    sha_stream,
    ticks_ms,
)

import usocket_port as usocket

CLAUSES = {
    "case_tls_one_deadline": ("ext.one-deadline", "ext.errors.etimedout"),
    "case_read_100k_to_eof": ("ext.memory.read-100k", "socket.read.to-eof"),
    "case_read_100k_streamed": ("ext.memory.stream-100k", "socket.readinto"),
    "case_write_after_nonblocking_connect": ("ext.superset.write-while-connecting", "ext.errors.einprogress",
                                             "socket.write.nonblocking-count"),
}


def case_tls_one_deadline(env):
    # settimeout(t) bounds TCP connect + TLS handshake together: a peer that accepts and never answers
    # the ClientHello gives the target's ETIMEDOUT after about t, never a fixed handshake timeout.
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
                   "WiPy 1.0 48 KiB: docs/fidelity.md E19, W22); superset_io.read_100k_streamed reads it in chunks")
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
