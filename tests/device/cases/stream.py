# TCP data path cases: integrity in both directions with random data and random chunk sizes, through every
# read/write flavour; EOF and peer reset.
#
# Peers (host_harness.peers; see docs/usocket_port.md "Case environment"):
#   echo   : TcpEcho, echoes every byte until the client closes
#   sink   : TcpSink, silent; records bytes and SHA-256 of what it got.  HOST CHECK: a case that returns
#            {"sink_sha256": h, "sink_bytes": n} must be compared by the host with sink.result(k)
#   source : TcpSource, sends env["source_nbytes"] seeded bytes (SHA-256 env["source_sha256"]), then EOF
#   reset  : ResetAfter(n=env["reset_after"]), echoes n bytes then aborts with RST
from compat import BLOCK, TOTAL, Sha, Skip, check, connect, err, randint, random_bytes, sha256_hex

CLAUSES = {
    "case_echo_send_recv": ("socket.send", "socket.send.count", "socket.recv", "socket.connect",
                            "ext.integrity"),
    "case_echo_write_read": ("socket.write", "socket.write.no-short-writes", "socket.read",
                             "socket.read.no-short-reads", "ext.integrity"),
    "case_echo_readinto": ("socket.readinto", "socket.readinto.nbytes", "socket.readinto.no-short-reads",
                           "ext.recv_into", "socket.sendall", "ext.integrity"),
    "case_echo_readline": ("socket.readline", "socket.write", "ext.integrity"),
    "case_sink_upload": ("socket.sendall", "socket.write.no-short-writes", "ext.integrity",
                         "socket.close.eof-to-peer"),
    "case_source_download": ("socket.read", "socket.read.to-eof", "socket.read.no-short-reads",
                             "ext.integrity", "ext.eof"),
    "case_eof": ("ext.eof", "socket.read.to-eof", "socket.readinto"),
    "case_peer_reset": ("ext.peer-reset", "diff.socket-error"),
    "case_bulk_upload": ("socket.write", "socket.write.no-short-writes", "ext.integrity", "ext.bulk"),
    "case_bulk_download": ("socket.readinto", "socket.readinto.no-short-reads", "ext.integrity", "ext.bulk"),
}

_TOTAL = TOTAL  # held whole (sent and echoed); compat sizes it to the board's heap


def _chunks(total, lo=1, hi=BLOCK):
    out = []
    left = total
    while left:
        n = min(left, randint(lo, hi))
        out.append(n)
        left -= n
    return out


def case_echo_send_recv(env):
    s = connect(env["echo"])
    data = random_bytes(_TOTAL)
    tx = 0
    rx = Sha(_TOTAL)
    sent_hash = sha256_hex(data)
    sends = 0
    # interleave: send a random chunk (send() may be short), then drain what has come back
    while tx < len(data):
        n = s.send(data[tx:tx + randint(1, BLOCK)])
        check(type(n) is int and n > 0, "send returned %r" % (n,))
        tx += n
        sends += 1
        while rx.n < tx:
            d = s.recv(randint(1, 2 * BLOCK))
            check(d, "EOF from echo after %d bytes" % rx.n)
            rx.update(d)
    s.close()
    check(rx.n == len(data), "echoed %d of %d" % (rx.n, len(data)))
    check(rx.hex() == sent_hash, "echo data corrupted (sha256 mismatch)")
    return {"bytes": len(data), "sends": sends}


def case_echo_write_read(env):
    s = connect(env["echo"])
    data = random_bytes(_TOTAL)
    rx = Sha(_TOTAL)
    off = 0
    for n in _chunks(len(data)):
        w = s.write(data[off:off + n])
        check(w == n, "blocking write returned %r for %d bytes (short write)" % (w, n))
        r = s.read(n)
        check(len(r) == n, "blocking read(%d) returned %d bytes (short read)" % (n, len(r)))
        rx.update(r)
        off += n
    s.close()
    check(rx.hex() == sha256_hex(data), "write/read data corrupted")
    return {"bytes": len(data)}


def case_echo_readinto(env):
    s = connect(env["echo"])
    data = random_bytes(_TOTAL)
    buf = bytearray(BLOCK)
    rx = Sha(_TOTAL)
    off = 0
    for n in _chunks(len(data), 1, BLOCK):
        s.sendall(data[off:off + n])
        if n == len(buf) or randint(0, 1):
            got = s.readinto(memoryview(buf)[:n]) if n < len(buf) else s.readinto(buf)
        else:
            got = s.readinto(buf, n)
        check(got == n, "readinto returned %r, wanted %d (short read)" % (got, n))
        rx.update(bytes(buf[:n]))
        off += n
    # recv_into: at most nbytes, at least 1
    s.sendall(b"0123456789")
    got = 0
    while got < 10:
        k = s.recv_into(buf, 10 - got)
        check(0 < k <= 10 - got, "recv_into returned %r" % (k,))
        got += k
    s.close()
    check(rx.hex() == sha256_hex(data), "readinto data corrupted")
    return {"bytes": len(data)}


def case_echo_readline(env):
    s = connect(env["echo"])
    lines = []
    for i in range(40):
        body = random_bytes(randint(0, 200)).replace(b"\n", b"")
        lines.append(body + b"\n")
    for k in range(0, len(lines), 8):  # several lines per segment, in pieces a small heap can join
        s.write(b"".join(lines[k:k + 8]))
    for i, ln in enumerate(lines):
        got = s.readline()
        check(got == ln, "line %d: %r != %r" % (i, got[:20], ln[:20]))
    s.close()
    return {"lines": len(lines)}


def case_sink_upload(env):
    # Upload with write()/sendall() in random chunks; the host compares our hash with the sink's record.
    # Generated and hashed chunk by chunk: a board's heap need not hold the whole upload.
    s = connect(env["sink"], timeout=10)
    total = 96 * 1024
    tx = Sha(total)
    for n in _chunks(total, 1, BLOCK):
        block = random_bytes(n)
        if randint(0, 1):
            check(s.sendall(block) is None, "sendall returns None")
        else:
            check(s.write(block) == n, "short blocking write")
        tx.update(block)
    s.close()
    return {"sink_bytes": total, "sink_sha256": tx.hex()}


def case_source_download(env):
    total = env["source_nbytes"]
    s = connect(env["source"], timeout=10)
    rx = Sha(total)
    while rx.n < total:
        d = s.read(min(total - rx.n, randint(1, BLOCK)))
        check(d, "EOF after %d of %d" % (rx.n, total))
        rx.update(d)
    check(s.read() == b"", "read() to EOF after all data must be b''")
    s.close()
    check(rx.hex() == env["source_sha256"], "source sha256 mismatch")
    # read() without size: everything up to EOF in one call
    s = connect(env["source"], timeout=10)
    d = s.read()
    s.close()
    check(len(d) == total and sha256_hex(d) == env["source_sha256"],
          "read() to EOF returned %d bytes" % len(d))
    return {"bytes": total}


def case_eof(env):
    s = connect(env["source"], timeout=10)
    total = env["source_nbytes"]
    buf = bytearray(1024)
    got = 0
    while got < total:
        n = s.readinto(buf, min(len(buf), total - got))
        check(n, "early EOF")
        got += n
    for name, fn in (("recv", lambda: s.recv(10)), ("read", lambda: s.read(10)), ("read()", lambda: s.read()),
                     ("readline", lambda: s.readline())):
        check(fn() == b"", name + " at EOF must return b''")
    check(s.readinto(buf) == 0, "readinto at EOF must return 0")
    check(s.recv_into(buf) == 0, "recv_into at EOF must return 0")
    s.close()
    return {}


def case_peer_reset(env):
    # The peer answers our line with an RST: the next recv must fail with ECONNRESET (plain OSError),
    # and the socket must then still close cleanly.
    import usocket_target
    why = getattr(usocket_target, "PEER_RESET_IS_EOF", None)  # the glue says why, citing upstream
    if why:
        raise Skip(why)
    s = connect(env["reset"])
    n = env.get("reset_after", 0)
    if n:
        s.write(b"r" * n)
        check(s.read(n) == b"r" * n, "echo before the reset")
    try:
        for _ in range(100):
            if s.recv(100) == b"":
                raise AssertionError("peer reset read as EOF, expected OSError(ECONNRESET)")
    except OSError as e:
        check(type(e) is OSError, "%s leaked" % type(e).__name__)
        check(e.args[0] == err("ECONNRESET"), "peer reset gave errno %r" % (e.args[0],))
        s.close()
        return {"errno": e.args[0]}
    raise AssertionError("no error after peer reset")


def case_bulk_upload(env):
    # env["bulk_nbytes"] (16 MiB in the suite) of random data in random chunk sizes, generated and hashed
    # block by block so a small heap copes; the host compares our hash with the sink's record.
    total = env["bulk_nbytes"]
    s = connect(env["sink"], timeout=20)
    tx = Sha(total)
    while tx.n < total:
        block = random_bytes(min(total - tx.n, randint(BLOCK // 4, BLOCK)))
        check(s.write(block) == len(block), "short blocking write")
        tx.update(block)
    s.close()
    return {"sink_bytes": total, "sink_sha256": tx.hex()}


def case_bulk_download(env):
    # env["bulk"]: a TcpSource of env["bulk_nbytes"] bytes; readinto a preallocated buffer (no allocation
    # per chunk), random sizes, until EOF; SHA-256 compared with the peer's.
    total = env["bulk_nbytes"]
    s = connect(env["bulk"], timeout=20)
    buf = bytearray(BLOCK)
    mv = memoryview(buf)
    rx = Sha(total)
    while True:
        n = s.readinto(buf, randint(1, len(buf)))
        if not n:
            break
        rx.update(mv[:n])
    s.close()
    check(rx.n == total, "received %d of %d bytes" % (rx.n, total))
    check(rx.hex() == env["bulk_sha256"], "bulk sha256 mismatch")
    return {"bytes": rx.n}
