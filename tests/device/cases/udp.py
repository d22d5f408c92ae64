# UDP cases against env['udp_echo'] (returns each datagram to its sender unchanged).
from compat import check, expect_oserror, randint, random_bytes, secs

import usocket_port as usocket

CLAUSES = {
    "case_udp_echo": ("socket.sendto", "socket.recvfrom", "const.SOCK_DGRAM", "const.IPPROTO_UDP",
                      "ext.integrity"),
    "case_udp_recvfrom_into": ("ext.recvfrom_into", "socket.sendto"),
    "case_udp_timeout": ("socket.settimeout.timeout-oserror", "ext.errors.etimedout", "ext.errors.eagain"),
}


def _udp(timeout_s=2):
    u = usocket.socket(usocket.AF_INET, usocket.SOCK_DGRAM, usocket.IPPROTO_UDP)
    u.settimeout(timeout_s)
    return u


def _exchange(u, peer, payload, tries=5):
    # UDP may drop: bounded retries; answers to earlier tries are recognised by content.
    for _ in range(tries):
        n = u.sendto(payload, peer)
        check(n == len(payload), "sendto returned %r" % (n,))
        try:
            while True:
                d, a = u.recvfrom(2048)
                if d == payload:
                    return a
        except OSError:
            continue
    raise AssertionError("no UDP echo after %d tries" % tries)


def case_udp_echo(env):
    u = _udp()
    peer = env["udp_echo"]
    sizes = [1, 512, 1400] + [randint(1, 1400) for _ in range(10)]
    for n in sizes:
        a = _exchange(u, peer, random_bytes(n))
        check(a == peer, "recvfrom address %r != %r" % (a, peer))
        check(type(a[0]) is str and type(a[1]) is int, "address must be (str, int): %r" % (a,))
    u.close()
    return {"datagrams": len(sizes)}


def case_udp_recvfrom_into(env):
    u = _udp()
    peer = env["udp_echo"]
    payload = random_bytes(100)
    buf = bytearray(200)
    for _ in range(5):
        u.sendto(payload, peer)
        try:
            n, a = u.recvfrom_into(buf)
        except OSError:
            continue
        check(n == 100 and bytes(buf[:100]) == payload, "recvfrom_into got %r bytes" % (n,))
        check(a == peer, "recvfrom_into address %r" % (a,))
        u.close()
        return {}
    raise AssertionError("no UDP echo for recvfrom_into")


def case_udp_timeout(env):
    u = _udp(secs(150))
    expect_oserror(lambda: u.recvfrom(100), ("ETIMEDOUT",), "UDP recvfrom timeout")
    u.settimeout(0)
    expect_oserror(lambda: u.recvfrom(100), ("EAGAIN",), "non-blocking UDP recvfrom")
    u.close()
    return {}
