# TCP data path cases against an echo: integrity with random data and random chunk sizes, through every
# read/write flavour (one-way transfers, EOF and peer reset: transfer.py).
#
# Peers (host_harness.peers; see docs/usocket_port.md "Case environment"):
#   echo   : TcpEcho, echoes every byte until the client closes
from compat import BLOCK, TOTAL, Sha, check, chunks, connect, randint, random_bytes, sha256_hex

CLAUSES = {
    "case_echo_send_recv": ("socket.send", "socket.send.count", "socket.recv", "socket.connect",
                            "ext.integrity"),
    "case_echo_write_read": ("socket.write", "socket.write.no-short-writes", "socket.read",
                             "socket.read.no-short-reads", "ext.integrity"),
    "case_echo_readinto": ("socket.readinto", "socket.readinto.nbytes", "socket.readinto.no-short-reads",
                           "ext.recv_into", "socket.sendall", "ext.integrity"),
    "case_echo_readline": ("socket.readline", "socket.write", "ext.integrity"),
}

_TOTAL = TOTAL  # held whole (sent and echoed); compat sizes it to the board's heap


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
    for n in chunks(len(data)):
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
    for n in chunks(len(data), 1, BLOCK):
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
