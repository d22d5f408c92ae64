# Board side of the HIL sync channel (deployed next to the device cases; MicroPython, CircuitPython, CPython).
#
# Why a separate TCP connection and not stdout: run-multitests' shared text channel is corrupted by any print
# that looks like a control line.  Here every message is a length-prefixed JSON frame with an id, on a socket
# of its own, so test output can contain anything.
#
#   hilsync.publish("server_port", 8080)      # host: sync.wait("server_port", timeout=5)
#   value = hilsync.wait("go", 5000)          # host: sync.publish("go", {...})
#
# The plugin calls configure(host_ip, port, token) before a test that requests the `sync` fixture.
try:
    import socket
except ImportError:  # CircuitPython: sockets come from a pool on the radio
    socket = None
try:
    import json
except ImportError:
    import ujson as json
try:
    import errno
    _ETIMEDOUT = errno.ETIMEDOUT
    _ENOTCONN = errno.ENOTCONN
except (ImportError, AttributeError):
    _ETIMEDOUT = 110
    _ENOTCONN = 107

try:
    from micropython import const
except ImportError:
    def const(x):
        return x

_MAX_FRAME = const(65536)
# Extra time granted to the socket over a wait's own deadline, so the host's "timeout" reply wins the race.
_GRACE_MS = const(2000)

_cfg = None
_sock = None
_next_id = 1


def _new_socket():
    if socket is not None:
        return socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    import socketpool
    import wifi
    pool = socketpool.SocketPool(wifi.radio)
    return pool.socket(pool.AF_INET, pool.SOCK_STREAM)


def configure(host, port, token):
    """Point the channel at the host's sync server; called by the plugin, not by tests."""
    global _cfg
    close()
    _cfg = (host, port, token)


def close():
    global _sock
    if _sock is not None:
        try:
            _sock.close()
        except OSError:
            pass
        _sock = None


def _send_all(s, data):
    view = memoryview(data)
    while len(view):
        n = s.send(view)
        if n is None:  # some ports return None for a full write
            return
        view = view[n:]


def _recv_exact(s, n):
    buf = bytearray(n)
    got = 0
    while got < n:
        if hasattr(s, "recv_into"):
            k = s.recv_into(memoryview(buf)[got:], n - got)
            chunk_len = k
        else:
            chunk = s.recv(n - got)
            chunk_len = len(chunk)
            buf[got:got + chunk_len] = chunk
        if not chunk_len:
            raise OSError(_ENOTCONN)
        got += chunk_len
    return bytes(buf)


def _send_frame(s, obj):
    body = json.dumps(obj).encode()
    n = len(body)
    _send_all(s, bytes([(n >> 24) & 255, (n >> 16) & 255, (n >> 8) & 255, n & 255]) + body)


def _recv_frame(s):
    head = _recv_exact(s, 4)
    n = (head[0] << 24) | (head[1] << 16) | (head[2] << 8) | head[3]
    if n > _MAX_FRAME:
        raise ValueError("hilsync: frame too large")
    return json.loads(_recv_exact(s, n))


def _connect(timeout_ms):
    global _sock
    if _sock is not None:
        return _sock
    if _cfg is None:
        raise RuntimeError("hilsync is not configured: the host test must request the `sync` fixture")
    host, port, token = _cfg
    s = _new_socket()
    try:
        s.settimeout(timeout_ms / 1000)
        if socket is not None:
            s.connect(socket.getaddrinfo(host, port)[0][-1])
        else:
            s.connect((host, port))
        _sock = s
        _request({"op": "hello", "token": token}, timeout_ms)
    except Exception:
        close()
        raise
    return _sock


def _request(msg, timeout_ms):
    global _next_id
    s = _sock
    msg["id"] = _next_id
    _next_id += 1
    try:
        s.settimeout((timeout_ms + _GRACE_MS) / 1000)
        _send_frame(s, msg)
        while True:
            reply = _recv_frame(s)
            if reply.get("id") == msg["id"]:
                break  # replies to abandoned requests (none today) are skipped by id
    except Exception:
        close()  # the stream's state is unknown now; the next call reconnects
        raise
    if reply.get("ok"):
        return reply.get("value")
    if reply.get("error") == "timeout":
        raise OSError(_ETIMEDOUT)
    raise RuntimeError("hilsync: " + str(reply.get("error")))


def publish(name, value, timeout_ms=5000):
    """Send value (JSON-able) under name; returns once the host has stored it."""
    _connect(timeout_ms)
    _request({"op": "publish", "name": name, "value": value}, timeout_ms)


def wait(name, timeout_ms=10000):
    """Block until the host publishes name (oldest value first); OSError(ETIMEDOUT) after timeout_ms."""
    _connect(timeout_ms)
    return _request({"op": "wait", "name": name, "timeout_ms": timeout_ms}, timeout_ms)
