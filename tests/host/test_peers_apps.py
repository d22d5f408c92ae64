"""The application tier's peers on loopback with real CPython clients: mosquitto behind TcpRelay (plain and
TLS, a raw MQTT CONNECT answered by CONNACK), the HTTP application peer (stdlib http.client)."""

from __future__ import annotations

import hashlib
import http.client
import json
import socket
import ssl
from collections.abc import Iterator

import pytest

from host_harness import peers
from host_harness.peers import AppHttp, TcpRelay
from host_harness.peers.mosquitto import Mosquitto, mosquitto_path

# MQTT 3.1.1 CONNECT, client id "t", clean session, keepalive 10 s
_CONNECT = b"\x10\x0d\x00\x04MQTT\x04\x02\x00\x0a\x00\x01t"


@pytest.fixture(autouse=True)
def no_listener_survives() -> Iterator[None]:
    yield
    survivors = peers.registry.close_all()
    assert not survivors, f"peers left open: {survivors}"


def _connack(s: socket.socket) -> bytes:
    s.sendall(_CONNECT)
    got = b""
    while len(got) < 4:
        d = s.recv(4 - len(got))
        assert d, f"broker closed after {got!r}"
        got += d
    return got


@pytest.mark.skipif(mosquitto_path() is None, reason="mosquitto not installed (make installs it)")
def test_mosquitto_plain_and_tls_through_relays() -> None:
    with Mosquitto("127.0.0.1") as broker:
        with socket.create_connection(broker.address, timeout=5) as s:
            assert _connack(s) == b"\x20\x02\x00\x00"
        ctx = ssl.create_default_context(cadata=broker.ca_pem)
        ctx.check_hostname = False
        with socket.create_connection(broker.tls_address, timeout=5) as raw, \
                ctx.wrap_socket(raw, server_hostname="127.0.0.1") as s:
            assert _connack(s) == b"\x20\x02\x00\x00"
        proc = broker._proc
    assert proc is not None and proc.poll() is not None, "mosquitto still running after close()"


def test_relay_refuses_a_non_loopback_target() -> None:
    with pytest.raises(ValueError, match="loopback"):
        TcpRelay("127.0.0.1", target=("192.0.2.1", 1883))


def test_app_http_routes() -> None:
    with AppHttp("127.0.0.1") as web:
        host, port = web.address

        def get(method: str, path: str, body: bytes | None = None) -> tuple[int, dict[str, str], bytes]:
            c = http.client.HTTPConnection(host, port, timeout=5)
            try:
                c.request(method, path, body=body, headers={"Content-Type": "application/json"} if body else {})
                r = c.getresponse()
                return r.status, dict(r.getheaders()), r.read()
            finally:
                c.close()

        status, _, body = get("GET", "/big")
        assert status == 200 and len(body) == 100 * 1024
        assert hashlib.sha256(body).hexdigest() == web.big_sha256
        status, _, body = get("POST", "/json", json.dumps({"a": [1, 2]}).encode())
        assert status == 200 and json.loads(body)["got"] == {"a": [1, 2]}
        assert get("GET", "/missing")[0] == 404
        status, headers, _ = get("GET", "/redirect")
        assert status == 302 and headers["Location"] == f"http://{host}:{port}/hello"
        assert get("POST", "/json", b"{nope")[0] == 400
