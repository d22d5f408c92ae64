# The seed-only programs: what a user writes from the usocket documentation alone.
#   http    : HTTP/1.0 server; GET /hello -> 200, body b"hello from usocket-hil\n"
#   dialer  : control peer; we send b"<ip> <port> <count> <size>\n", it connects to us count times, sends size
#             random bytes, expects them echoed, closes, and finally answers b"OK <count>\n" (or b"FAIL ...")
#   udp_echo: see udp.py
from compat import check, free_port_bind, random_bytes, recv_line, reuse

import usocket_port as usocket

CLAUSES = {
    "case_http_get": ("function.getaddrinfo.connect-idiom", "socket.makefile", "socket.readline",
                      "socket.read.to-eof", "socket.write", "program.http-client"),
    "case_accept_loop_echo_server": ("socket.bind", "socket.listen", "socket.accept", "socket.recv",
                                     "socket.sendall", "program.echo-server"),
    "case_udp_request_response": ("socket.sendto", "socket.recvfrom", "program.udp-client"),
}


def case_http_get(env):
    host, port = env["http"]
    ai = usocket.getaddrinfo(host, port)
    s = usocket.socket()
    s.settimeout(5)
    s.connect(ai[0][-1])
    s.write(b"GET /hello HTTP/1.0\r\nHost: %s\r\n\r\n" % host.encode())
    f = s.makefile("rwb", 0)
    status = f.readline()
    check(status.startswith(b"HTTP/1.") and b" 200 " in status, "status line %r" % (status,))
    headers = {}
    while True:
        ln = f.readline()
        if ln in (b"\r\n", b"\n", b""):
            break
        k, v = ln.split(b":", 1)
        headers[k.strip().lower()] = v.strip()
    body = f.read()
    f.close()
    check(body == b"hello from usocket-hil\n", "body %r" % (body,))
    if b"content-length" in headers:
        check(int(headers[b"content-length"]) == len(body), "content-length mismatch")
    return {"status": status.strip().decode(), "body": len(body)}


def case_accept_loop_echo_server(env):
    count, size = 3, 20000
    srv = usocket.socket()
    reuse(srv)
    port = free_port_bind(srv, env)
    srv.listen(2)
    srv.settimeout(10)
    ctl = usocket.socket()
    ctl.settimeout(10)
    ctl.connect(env["dialer"])
    ctl.write(b"%s %d %d %d\n" % (env["board_ip"].encode(), port, count, size))
    served = 0
    while served < count:
        conn, addr = srv.accept()
        check(type(addr) is tuple and type(addr[0]) is str and type(addr[1]) is int,
              "accept addr %r" % (addr,))
        conn.settimeout(10)
        echoed = 0
        while True:
            d = conn.recv(1500)
            if not d:
                break
            conn.sendall(d)
            echoed += len(d)
        conn.close()
        check(echoed == size, "connection %d echoed %d of %d bytes" % (served, echoed, size))
        served += 1
    verdict = recv_line(ctl).strip()
    ctl.close()
    srv.close()
    check(verdict == b"OK %d" % count, "dialer verdict %r" % (verdict,))
    return {"connections": served}


def case_udp_request_response(env):
    peer = usocket.getaddrinfo(env["udp_echo"][0], env["udp_echo"][1])[0][-1]
    u = usocket.socket(usocket.AF_INET, usocket.SOCK_DGRAM)
    u.settimeout(2)
    req = b"ping " + random_bytes(8)
    for _ in range(5):
        u.sendto(req, peer)
        try:
            data, addr = u.recvfrom(256)
        except OSError:
            continue
        if data == req:
            u.close()
            return {"from": addr[0]}
    u.close()
    raise AssertionError("no UDP response")
