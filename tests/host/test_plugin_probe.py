"""Device-side probe used by the plugin's own tests (not a test module: it defines no tests).

test_plugin*.py deploy this text to the board as /lib/hilprobe.py (--board-lib).  It must run on
MicroPython and CPython alike: plain `socket`, `ssl`, `errno`; errors come back as errno names.
"""
import errno
import socket


def _errname(e):
    code = e.args[0] if e.args else None
    if isinstance(code, int):
        return errno.errorcode.get(code, str(code))
    if "timed out" in str(e):
        return "ETIMEDOUT"
    return type(e).__name__


def _connect(ip, port, timeout_s):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout_s)
    s.connect(socket.getaddrinfo(ip, port)[0][-1])
    return s


def echo(ip, port, payload):
    s = _connect(ip, port, 5)
    s.send(payload)
    got = b""
    while len(got) < len(payload):
        chunk = s.recv(len(payload) - len(got))
        if not chunk:
            break
        got += chunk
    s.close()
    return got


def udp_echo(ip, port, payload):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(5)
    s.sendto(payload, socket.getaddrinfo(ip, port)[0][-1])
    data = s.recv(1500)
    s.close()
    return data


def send_then_read(ip, port, payload, rounds):
    # Reset peer: echo of the first bytes, then the next operation fails.
    s = _connect(ip, port, 5)
    got = b""
    try:
        s.send(payload)
        got = s.recv(len(payload))
        for _ in range(rounds):
            s.send(b"more")
            if not s.recv(10):
                return [got, "EOF"]
        return [got, "no error"]
    except OSError as e:
        return [got, _errname(e)]
    finally:
        s.close()


def read_all(ip, port):
    s = _connect(ip, port, 5)
    data = b""
    while True:
        chunk = s.recv(512)
        if not chunk:
            break
        data += chunk
    s.send(b"after-eof")
    s.close()
    return data


def count_all(ip, port):
    # Counts instead of keeping the data: a board's heap is small.
    s = _connect(ip, port, 5)
    n = 0
    while True:
        chunk = s.recv(1024)
        if not chunk:
            break
        n += len(chunk)
    s.close()
    return n


def flood(ip, port, total, timeout_s):
    s = _connect(ip, port, timeout_s)
    buf = b"x" * 1024
    sent = 0
    try:
        while sent < total:
            sent += s.send(buf)
        return ["sent", sent]
    except OSError as e:
        return [_errname(e), sent]
    finally:
        s.close()


def connect_only(ip, port, timeout_s):
    try:
        s = _connect(ip, port, timeout_s)
        s.close()
        return "connected"
    except OSError as e:
        return _errname(e)


def tls_echo(ip, port, cadata, hostname, payload):
    import ssl
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.load_verify_locations(cadata=cadata)
    s = _connect(ip, port, 5)
    try:
        t = ctx.wrap_socket(s, server_hostname=hostname)
    except (OSError, ValueError) as e:
        s.close()
        return ["handshake failed", type(e).__name__]
    try:
        # TLS 1.3 reports a refused client certificate only at the first read.
        t.write(payload)
        data = t.read(len(payload))
    except (OSError, ValueError) as e:
        return ["refused after handshake", type(e).__name__]
    finally:
        t.close()
    return ["ok", data]


def echo_args(*args, **kwargs):
    return list(args) + [kwargs]


def check_double(x):
    doubled = x * 2
    assert doubled == 3, "doubled is " + str(doubled)


def _bind_free(srv):
    # MicroPython sockets have no getsockname(), so pick the port here instead of binding port 0.
    import random
    base = 20000 + random.getrandbits(14)
    for port in range(base, base + 50):
        try:
            srv.bind(socket.getaddrinfo("0.0.0.0", port)[0][-1])
            return port
        except OSError:
            pass
    raise OSError(errno.EADDRINUSE)


def serve_upper():
    import hilsync
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    port = _bind_free(srv)
    srv.listen(1)
    srv.settimeout(10)
    hilsync.publish("port", port)
    conn, _ = srv.accept()
    conn.settimeout(5)
    data = conn.recv(100)
    conn.send(data.upper())
    conn.close()
    srv.close()
    got = hilsync.wait("done", 5000)
    hilsync.publish("late", "first")
    hilsync.publish("late", "second")
    return {"got": got, "late": "second"}


def wait_timeout():
    import hilsync
    try:
        hilsync.wait("nobody-sends-this", 200)
    except OSError as e:
        return _errname(e)
    return "no timeout"
