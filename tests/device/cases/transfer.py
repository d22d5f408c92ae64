# Stream transfers against one-way peers: uploads, downloads, EOF, peer reset, bulk (split from stream.py: a small
# board compiles one small module at a time).
#   sink   : TcpSink, counts/hashes what it receives; a case that uploads returns
#            {"sink_sha256": h, "sink_bytes": n} for the host to compare with the sink's record
#   source : TcpSource, sends env["source_nbytes"] seeded bytes (SHA-256 env["source_sha256"]), then EOF
#   bulk   : TcpSource of env["bulk_nbytes"] bytes;  reset : ResetAfter, answers a line with an RST
from compat import BLOCK, Sha, Skip, check, chunks, connect, err, randint, random_bytes, sha256_hex

CLAUSES = {
    "case_sink_upload": ("socket.sendall", "socket.write.no-short-writes", "ext.integrity", "socket.close.eof-to-peer"),
    "case_source_download": ("socket.read", "socket.read.to-eof", "socket.read.no-short-reads", "ext.integrity",
                             "ext.eof"),
    "case_eof": ("ext.eof", "socket.read.to-eof", "socket.readinto"),
    "case_peer_reset": ("ext.peer-reset", "diff.socket-error"),
    "case_bulk_upload": ("socket.write", "socket.write.no-short-writes", "ext.integrity", "ext.bulk"),
    "case_bulk_download": ("socket.readinto", "socket.readinto.no-short-reads", "ext.integrity", "ext.bulk"),
}


def case_sink_upload(env):
    # Upload with write()/sendall() in random chunks; the host compares our hash with the sink's record.
    # Generated and hashed chunk by chunk: a board's heap need not hold the whole upload.
    s = connect(env["sink"], timeout=10)
    total = 96 * 1024
    tx = Sha(total)
    for n in chunks(total, 1, BLOCK):
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
