"""The application tier's peers on loopback with real CPython clients: mosquitto behind TcpRelay (plain and
TLS, a raw MQTT CONNECT answered by CONNACK), the HTTP application peer (stdlib http.client)."""

from __future__ import annotations

import hashlib
import http.client
import json
import socket
import ssl
from pathlib import Path

import pytest
from peer_helpers import no_listener_survives  # noqa: F401  (autouse: every peer closed after each test)

from host_harness.peers import AppHttp, TcpRelay
from host_harness.peers.mosquitto import Mosquitto, accepts, mosquitto_path

# MQTT 3.1.1 CONNECT, client id "t", clean session, keepalive 10 s
_CONNECT = b"\x10\x0d\x00\x04MQTT\x04\x02\x00\x0a\x00\x01t"


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


_OWNER = """
import sys, time
from host_harness.peers.mosquitto import Mosquitto
b = Mosquitto("127.0.0.1")
print(b._proc.pid, *b.broker_ports, flush=True)
time.sleep(60)
"""


@pytest.mark.skipif(mosquitto_path() is None, reason="mosquitto not installed (make installs it)")
def test_a_broker_dies_with_its_owner_even_when_the_owner_is_sigkilled() -> None:
    """No close() runs in an owner killed -9: the broker (which as root would drop to user mosquitto, so
    losing a parent-death signal set before its setuid) must still go, with its listeners and its files."""
    import os
    import signal
    import subprocess
    import sys
    import tempfile
    import time

    before = set(Path(tempfile.gettempdir()).glob("usocket-hil-mqtt-*"))
    owner = subprocess.Popen([sys.executable, "-c", _OWNER], stdout=subprocess.PIPE, text=True,
                             cwd=Path(__file__).resolve().parents[2])
    try:
        line = owner.stdout.readline()
        pid, *ports = (int(x) for x in line.split())
        assert all(accepts(p) for p in ports), "the broker was not listening"
        owner.send_signal(signal.SIGKILL)
        owner.wait(10)
        deadline = time.monotonic() + 5
        while (_running(pid) or any(accepts(p) for p in ports)) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _running(pid), f"mosquitto {pid} outlived its SIGKILLed owner"
        assert not any(accepts(p) for p in ports), f"a broker listener on {ports} outlived its owner"
        left = set(Path(tempfile.gettempdir()).glob("usocket-hil-mqtt-*")) - before
        assert not left, f"the broker's files outlived its owner: {left}"
    finally:
        if owner.poll() is None:
            owner.kill()
            owner.wait(5)
        if "pid" in locals() and _running(pid):
            os.kill(pid, signal.SIGKILL)


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"



@pytest.mark.skipif(mosquitto_path() is None, reason="mosquitto not installed (make installs it)")
def test_a_started_broker_is_still_running_and_its_tls_port_is_served_by_it() -> None:
    # mosquitto listens on its TLS port before it reads the key: the start-up waits for a TLS handshake
    # before removing the key file (a plain accept there came first under load and the broker then died).
    from host_harness.peers.mosquitto import serves_tls

    for _ in range(5):
        with Mosquitto("127.0.0.1") as broker:
            assert broker._proc.poll() is None, broker.log_tail()
            assert serves_tls(broker.broker_ports[1], broker.ca_pem)
            assert not serves_tls(broker.broker_ports[0], broker.ca_pem)  # the plain port is no TLS server
