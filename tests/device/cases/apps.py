# The application tier: unmodified third-party libraries from PyPI (host_harness/applibs.py pins them:
# micropython-umqtt.simple 1.3.4, micropython-urequests 0.9.1), deployed next to usocket_port, against
# real servers started by the harness:
#   mqtt, mqtt_tls : Debian's mosquitto (host_harness/peers/mosquitto.py), plain and TLS listeners
#   app_http       : host_harness/peers/app_http.py: /big (100 KB, SHA-256 app_http_big_sha256), /hello,
#                    POST /json (echo), /redirect (302 to /hello), anything else 404
# Each scenario runs through usocket_port.install() (case_x) and natively, without it (case_x_native),
# where the target's own socket module can run the library; the native runs are n/a with the native
# error where it cannot (no such module, a signature the library's call does not fit), so the table shows
# what usocket_port adds; any other native error is a FAIL.
import sys

from compat import BLOCK, MICROPYTHON, SMALL, Skip, check, err, holds, randint, random_bytes, sha256_hex, sha_stream

import usocket_port

CLAUSES = {
    "case_mqtt": ("app.mqtt", "app.install"),
    "case_mqtt_native": ("app.native.mqtt",),
    "case_mqtt_tls": ("app.mqtt-tls", "app.install"),
    "case_http": ("app.http", "app.install"),
    "case_http_native": ("app.native.http",),
}

_NAMES = ("socket", "usocket", "ssl", "ussl", "tls", "umqtt", "umqtt.simple", "urequests", "ustruct",
          "ubinascii", "ujson", "uerrno", "uselect", "uhashlib", "utime", "uio", "uos", "urandom", "ure",
          "ucollections", "uzlib", "uasyncio")
_LIBS = ("umqtt", "umqtt.simple", "urequests")


class _Modules:
    # install() (or not) for one scenario, with the libraries imported fresh; sys.modules restored after.
    def __init__(self, install):
        self.install = install

    def __enter__(self):
        self.saved = {}
        for n in _NAMES:
            if n in sys.modules:
                self.saved[n] = sys.modules[n]
        for n in _LIBS:
            sys.modules.pop(n, None)
        if self.install:
            if SMALL:
                # A program on a small board loads the code it will run before its buffers (else compiling
                # it later fragments what the buffers need): the layer's parts these libraries use.
                from usocket_port import _args, _more, _read  # noqa: F401
            usocket_port.install()
            check(sys.modules["socket"] is usocket_port, "install(): socket is not usocket_port")
            import usocket
            check(usocket is usocket_port, "install(): `import usocket` gave %r (the built-in alias won)" % usocket)
        else:
            for n in ("socket", "usocket", "ssl", "ussl", "tls"):
                if sys.modules.get(n) is not None and sys.modules[n].__name__.startswith("usocket_port"):
                    sys.modules.pop(n)
        return self

    def __exit__(self, *exc):
        for n in _NAMES:
            sys.modules.pop(n, None)
        sys.modules.update(self.saved)


def _native(fn, env):
    # The library on the target's own socket module; n/a (with the native error) where that cannot run it.
    import usocket_target
    if usocket_target.NAME == "circuitpython":
        raise Skip("CircuitPython has no socket/usocket module (socketpool only), which the library imports")
    try:
        with _Modules(False):
            return fn(env, False)
    except Skip:
        raise
    except ImportError as e:
        raise Skip("native: %s: %r" % (type(e).__name__, e))
    except TypeError as e:
        # a native signature the library's call does not fit (WiPy: getaddrinfo(host, port) only); any other
        # error (an OSError mid-run) is a FAIL: n/a is only for what the target cannot do
        if "positional argument" not in str(e):
            raise
        raise Skip("native socket cannot run it: %s %r" % (type(e).__name__, e))


def _mqtt(env, tls):
    from umqtt.simple import MQTTClient
    got = []
    host, port = env["mqtt_tls"] if tls else env["mqtt"]
    c = MQTTClient("usocket-hil-%d" % randint(1, 1000000), host, port, keepalive=30, ssl=tls)
    c.set_callback(lambda t, m: got.append((t, m)))
    c.connect()
    c.sock.settimeout(10)  # no scenario may hang: a broker that stops answering is ETIMEDOUT
    topic = "usocket-hil/t%d" % randint(1, 1000000)
    c.subscribe(topic.encode(), 1)
    n = BLOCK if SMALL else 10240  # (a small board holds both payloads and both deliveries: 4 x n)
    p0 = random_bytes(n)
    p1 = random_bytes(n)
    c.publish(topic.encode(), p0, qos=0)
    c.publish(topic.encode(), p1, qos=1)  # returns once PUBACK came (delivering our own messages meanwhile)
    for _ in range(10):
        if len(got) >= 2:
            break
        c.wait_msg()
    check(len(got) == 2, "received %d of 2 published messages" % len(got))
    check(got[0][1] == p0 and got[1][1] == p1, "MQTT payloads corrupted")
    c.ping()
    check(c.wait_msg() is None, "PINGRESP expected after ping()")
    c.disconnect()
    return {"messages": len(got), "payload": len(p0), "tls": tls}


def case_mqtt(env):
    env["mqtt"]
    with _Modules(True):
        try:
            return _mqtt(env, False)
        except MemoryError as e:
            if not SMALL:
                raise
            # WiPy 1.0 (48 KiB): the program alone fits (umqtt + usocket_port + install() take ~20 KB there),
            # but not with this suite's own compat and apps modules beside it (docs/fidelity.md W22)
            raise Skip("48 KiB heap: umqtt with usocket_port next to the suite's own modules: MemoryError %s"
                       % e.args[0])


def case_mqtt_native(env):
    env["mqtt"]
    return _native(_mqtt, env)


def case_mqtt_tls(env):
    env["mqtt_tls"]
    with _Modules(True):
        try:
            return _mqtt(env, True)
        except OSError as e:
            if e.args[0] == err("EOPNOTSUPP") and len(e.args) > 1:
                raise Skip(e.args[1])  # WiPy: TLS only inside connect() (IPPROTO_SEC), said by name
            raise


def _http(env, installed):
    if not MICROPYTHON:
        raise Skip("micropython-urequests 0.9.1 formats bytes with str (b'%s' % str): CPython refuses it")
    import urequests
    base = "http://%s:%d" % env["app_http"]
    out = {"installed": installed}
    big = 100 * 1024
    if holds(big):
        r = urequests.get(base + "/big")
        check(r.status_code == 200, "GET /big status %r" % (r.status_code,))
        body = r.content
        check(len(body) == big, "GET /big: %d bytes" % len(body))
        check(sha256_hex(body) == env["app_http_big_sha256"], "GET /big: SHA-256 mismatch")
        body = None
    else:
        # A heap that cannot hold the body (ESP32 without PSRAM, WiPy 1.0: docs/fidelity.md E19, W22) cannot
        # hold r.content: the library's stream=True, the body read from r.raw in chunks, hashed as it arrives.
        r = urequests.get(base + "/big", stream=True)
        check(r.status_code == 200, "GET /big status %r" % (r.status_code,))
        h = sha_stream(r.raw, big)
        r.close()
        check(h.n == big, "GET /big streamed: %d bytes" % h.n)
        check(h.hex() == env["app_http_big_sha256"], "GET /big streamed: SHA-256 mismatch")
        out["streamed"] = "r.content of 100 KB does not fit this heap"
    r = urequests.post(base + "/json", json={"a": 1, "s": "usocket-hil"})
    check(r.status_code == 200, "POST /json status %r" % (r.status_code,))
    j = r.json()
    check(j["got"] == {"a": 1, "s": "usocket-hil"}, "POST /json echoed %r" % (j,))
    r = urequests.get(base + "/missing")
    check(r.status_code == 404, "GET /missing status %r" % (r.status_code,))
    r.close()
    r = urequests.get(base + "/redirect")
    check(r.status_code == 200 and r.text == "hello from usocket-hil\n", "redirect: %r" % (r.status_code,))
    return out


def case_http(env):
    env["app_http"]
    env["app_http_big_sha256"]
    with _Modules(True):
        return _http(env, True)


def case_http_native(env):
    env["app_http"]
    env["app_http_big_sha256"]
    return _native(_http, env)
