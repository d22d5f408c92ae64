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
from host_harness.peers.mosquitto import Mosquitto, mosquitto_path

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


@pytest.mark.skipif(mosquitto_path() is None, reason="mosquitto not installed (make installs it)")
def test_a_broker_on_a_loaded_machine_is_ready_only_once_it_has_loaded_its_certificate(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """mosquitto listens before it loads the TLS listener's certificate and key: a readiness that took two
    accepting ports for a started broker removed the files while a loaded broker had yet to read them, and it
    exited ("Unable to load server key file"; the board's MQTT connect was reset, apps.mqtt under parallel
    runs).  Here the broker is that slow: nice 19 on one CPU with a busy loop on it (~1/70 of the CPU)."""
    import contextlib
    import os
    import signal
    import sys

    from host_harness.peers import mosquitto

    cpu = str(min(os.sched_getaffinity(0)))
    pids = tmp_path / "busy.pids"
    slow = tmp_path / "slow-mosquitto"
    # The busy loop starts in the broker's own session (one scheduler autogroup, where nice counts), bounded
    # in time; its pid is kept to stop it.
    busy = "import time\nend = time.monotonic() + 60\nwhile time.monotonic() < end: pass"
    slow.write_text(f"#!/bin/sh\ntaskset -c {cpu} {sys.executable} -c '{busy}' &\n"
                    f"echo $! >> {pids}\nexec taskset -c {cpu} nice -n 19 {mosquitto_path()} \"$@\"\n")
    slow.chmod(0o755)
    monkeypatch.setattr(mosquitto, "mosquitto_path", lambda: str(slow))

    def stop_busy() -> None:
        for pid in pids.read_text().split() if pids.exists() else ():
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pid), signal.SIGKILL)
        pids.unlink(missing_ok=True)

    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    try:
        for _ in range(4):
            with Mosquitto("127.0.0.1") as broker:
                ctx.load_verify_locations(cadata=broker.ca_pem)
                with socket.create_connection(broker.address, timeout=10) as s:
                    assert _connack(s) == b"\x20\x02\x00\x00", broker.log_tail()
                with socket.create_connection(broker.tls_address, timeout=10) as raw, \
                        ctx.wrap_socket(raw, server_hostname="127.0.0.1") as s:
                    assert _connack(s) == b"\x20\x02\x00\x00", broker.log_tail()
            stop_busy()
    finally:
        stop_busy()


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



def accepts(port: int) -> bool:
    """Something accepts TCP connections on 127.0.0.1:`port`."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def serves_tls(port: int, ca_pem: str) -> bool:
    """A TLS server with a certificate of `ca_pem` answers on 127.0.0.1:`port`."""
    ctx = ssl.create_default_context(cadata=ca_pem)
    ctx.check_hostname = False  # (the certificate names the board-side address, not loopback)
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as raw, ctx.wrap_socket(raw):
            return True
    except (OSError, ssl.SSLError):
        return False


@pytest.mark.skipif(mosquitto_path() is None, reason="mosquitto not installed (make installs it)")
def test_a_started_broker_is_still_running_and_its_tls_port_is_served_by_it() -> None:
    # mosquitto listens on its TLS port before it reads the key: the start-up waits for a TLS handshake
    # before removing the key file (a plain accept there came first under load and the broker then died).
    for _ in range(5):
        with Mosquitto("127.0.0.1") as broker:
            assert broker._proc.poll() is None, broker.log_tail()
            assert serves_tls(broker.broker_ports[1], broker.ca_pem)
            assert not serves_tls(broker.broker_ports[0], broker.ca_pem)  # the plain port is no TLS server
