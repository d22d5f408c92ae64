"""docs/fidelity.md, CircuitPython rows (C1...): each test pins one behaviour of the CircuitPython espressif port
model itself (host_harness/virtual/models/circuitpython) against real loopback peers; the row id is in the test
name."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest
from fidelity_run import model_rows, resolve_here_and_in_a_namespace, vboard_exec
from test_core_direct import needs_mp

from host_harness.peers import ResetAfter, TcpEcho, TcpSource, TlsWrongCa

PROG = r"""
import sys, errno, time, socketpool, wifi, ssl
echo, bad_tls, source, reset = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[4]), int(sys.argv[5])
silent = int(sys.argv[6])
r = {}
def err(fn):  # (with the exception's type: BrokenPipeError and gaierror are OSErrors too)
    try:
        return ("ok", fn())
    except OSError as e:
        return (type(e).__name__, e.args[0] if e.args else None)
E = errno
r["errno"] = (E.EAGAIN, E.ETIMEDOUT, E.ENOTCONN, E.ECONNRESET, E.EINPROGRESS)
r["time"] = sorted(n for n in ("ticks_ms", "sleep_ms", "monotonic", "monotonic_ns") if hasattr(time, n))
pool = socketpool.SocketPool(wifi.radio)
r["consts"] = (pool.AF_INET, pool.SOCK_STREAM, pool.SOCK_DGRAM, pool.SOL_SOCKET, pool.SO_REUSEADDR,
               pool.IPPROTO_TCP, pool.TCP_NODELAY)
s = pool.socket()
r["methods"] = sorted(m for m in ("recv", "recvfrom", "recv_into", "recvfrom_into", "sendall", "fileno",
                                  "makefile", "read", "write") if hasattr(s, m))
try:
    s.listen()
except TypeError:
    r["listen_backlog"] = "TypeError"
r["setsockopt"] = err(lambda: s.setsockopt(pool.SOL_SOCKET, 0x1234, 1))
s.settimeout(0.3)
s.connect(("localhost", echo))
buf = bytearray(8)
t0 = time.monotonic_ns()
r["timeout"] = (err(lambda: s.recv_into(buf)), (time.monotonic_ns() - t0) // 1000000)
s.setblocking(False)
r["nb_recv"] = err(lambda: s.recv_into(buf))
s.close()
e = pool.socket(); e.settimeout(2); e.connect(("127.0.0.1", echo)); e.send(b"q"); e.recv_into(buf)
e.close()
for blocking in (True, False):
    e = pool.socket(); e.settimeout(2); e.connect(("127.0.0.1", source))
    got = 0
    while got < 100:
        got += e.recv_into(buf, min(8, 100 - got))
    e.setblocking(blocking)
    time.sleep(0.2)
    r["eof_blocking" if blocking else "eof_nonblocking"] = err(lambda: e.recv_into(buf))
    e.close()
x = pool.socket(); x.settimeout(2); x.connect(("127.0.0.1", reset))
def cp_recv(k):
    b = bytearray(k)
    return bytes(b[:x.recv_into(b)])
r["peer_reset"] = after_reset(x, cp_recv)
x.setblocking(False)
r["peer_reset_nb"] = err(lambda: x.recv_into(bytearray(8)))
x.close()
n = pool.socket(); n.setblocking(False)
r["nb_connect"] = err(lambda: n.connect(("127.0.0.1", echo)))
try:
    n.send(b"x")
except BrokenPipeError:
    r["send_unconnected"] = "BrokenPipeError"
n.close()
r["gai"] = pool.getaddrinfo("127.0.0.1", 80)[0]
try:
    pool.getaddrinfo("a" * 64 + ".invalid", 80)
except pool.gaierror as x:
    r["gai_fail"] = (isinstance(x, OSError), x.args)
r["limit"] = limit(pool.socket, RuntimeError)
ctx = ssl.create_default_context()
try:
    ctx.load_verify_locations(cafile="ca.pem")
except NotImplementedError:
    r["cafile"] = "NotImplementedError"
with open(sys.argv[3]) as f:
    ctx.load_verify_locations(cadata=f.read())
t = ctx.wrap_socket(pool.socket(), server_hostname="127.0.0.1")
t.settimeout(5)
r["tls_bad_ca"] = err(lambda: t.connect(("127.0.0.1", bad_tls)))
t.close()
r["tls_methods"] = sorted(m for m in ("recv", "recv_into", "send", "sendall") if hasattr(t, m))
t = ssl.create_default_context()
t.load_verify_locations(cadata="")  # (checking off: the peer never gets as far as a certificate)
t = t.wrap_socket(pool.socket(), server_hostname="127.0.0.1")
t.settimeout(1)
r["tls_handshake_timeout"] = err(lambda: t.connect(("127.0.0.1", silent)))
t.close()
try:
    wifi.radio.connect("other-net", "x")
except ConnectionError as x:
    r["no_ap"] = str(x)
try:
    wifi.radio.connect("usocket-hil", "x")
except ConnectionError as x:
    r["bad_key"] = str(x)
wifi.radio.connect("usocket-hil", "usocket-hil-key")
wifi.radio.connect("usocket-hil", "wrong")
r["same_ssid_any_key"] = wifi.radio.connected
wifi.radio.stop_station()
r["stopped"] = (wifi.radio.connected, wifi.radio.ipv4_address)
print("@@" + repr(r))
"""


@pytest.fixture(scope="module")
def rows(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("cp")
    with TcpEcho("127.0.0.1") as echo, TlsWrongCa("127.0.0.1") as bad, TcpSource("127.0.0.1", nbytes=100) as src, \
            ResetAfter("127.0.0.1", n=8) as reset, socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)  # TCP completes in the backlog; nobody ever answers the ClientHello
        (tmp / "ca.pem").write_text(bad.ca_pem)  # (a file: the unix micropython takes "-----..." for an option)
        return model_rows("circuitpython", PROG, tmp, str(echo.address[1]), str(bad.address[1]), str(tmp / "ca.pem"),
                          str(src.address[1]), str(reset.address[1]), str(silent.getsockname()[1]))


pytestmark = needs_mp


def test_c01_errno_newlib(rows: dict[str, Any]) -> None:
    assert rows["errno"] == (11, 116, 128, 104, 119)


def test_c03_no_ticks(rows: dict[str, Any]) -> None:
    assert rows["time"] == ["monotonic", "monotonic_ns"]


def test_c02_pool_constants(rows: dict[str, Any]) -> None:
    assert rows["consts"] == (2, 1, 2, 0xFFF, 4, 6, 1)


def test_c04_method_set(rows: dict[str, Any]) -> None:
    assert rows["methods"] == ["recv_into", "recvfrom_into", "sendall"]
    assert rows["listen_backlog"] == "TypeError"  # listen(backlog) has no default


def test_c05_setsockopt(rows: dict[str, Any]) -> None:
    assert rows["setsockopt"] == ("OSError", 109)  # ENOPROTOOPT (newlib)


def test_c06_timeouts(rows: dict[str, Any]) -> None:
    assert rows["timeout"][0] == ("OSError", 116) and rows["timeout"][1] >= 290
    assert rows["nb_recv"] == ("OSError", 11)


def test_c07_nonblocking_connect(rows: dict[str, Any]) -> None:
    assert rows["nb_connect"] == ("OSError", 116)  # ETIMEDOUT at once, never connected
    assert rows["send_unconnected"] == "BrokenPipeError"


def test_c08_eof(rows: dict[str, Any]) -> None:
    assert rows["eof_blocking"] == ("ok", 0)
    assert rows["eof_nonblocking"] == ("OSError", 128)  # ENOTCONN, not 0


def test_c08_peer_reset(rows: dict[str, Any]) -> None:
    # lwip_recv: -1/ECONNRESET once (blocking: the loop goes round), then 0: a blocking read sees EOF,
    # a non-blocking one ENOTCONN -- an RST cannot be told from a FIN
    assert rows["peer_reset"] == ("data", b"")
    assert rows["peer_reset_nb"] == ("OSError", 128)


def test_c09_getaddrinfo(rows: dict[str, Any]) -> None:
    assert rows["gai"] == (2, 1, 6, "", ("127.0.0.1", 80))
    assert rows["gai_fail"] == (True, (-2, "Name or service not known"))


def test_c10_socket_limit(rows: dict[str, Any]) -> None:
    assert rows["limit"] == (8, "Out of sockets")


def test_c11_tls(rows: dict[str, Any]) -> None:
    assert rows["cafile"] == "NotImplementedError"
    assert rows["tls_bad_ca"] == ("OSError", -9984)  # MBEDTLS_ERR_X509_CERT_VERIFY_FAILED
    assert rows["tls_methods"] == ["recv_into", "send"]


def test_c16_tls_handshake_timeout_is_newlib_etimedout(rows: dict[str, Any]) -> None:
    assert rows["tls_handshake_timeout"] == ("OSError", 116)  # the socketpool socket's ETIMEDOUT, not Linux's 110


def test_c12_wifi(rows: dict[str, Any]) -> None:
    assert rows["no_ap"] == "No network with that ssid"
    assert rows["bad_key"] == "Authentication failure"
    assert rows["same_ssid_any_key"] is True  # Radio.c: already on that SSID, the key is not looked at
    assert rows["stopped"] == (False, None)


def test_c02_modules(tmp_path: Path) -> None:
    for name in ("socket", "usocket", "uerrno", "asyncio", "uos", "usys"):
        out, exc = vboard_exec("circuitpython", f"import {name}\n", tmp_path)
        assert exc.endswith(f"ImportError: no module named '{name}'\n"), exc
    out, exc = vboard_exec("circuitpython", "import errno, time\nprint(errno.ETIMEDOUT, hasattr(time, 'ticks_ms'))\n",
                           tmp_path)
    assert exc == "" and out == "116 False\n"  # the literal is not folded to this build's 110


def test_c13_heap(tmp_path: Path) -> None:
    import tomllib

    from test_port_models import ROOT
    board = tomllib.loads((ROOT / "boards" / "virtual-circuitpython.toml").read_text())
    assert board["virtual"]["heapsize"] == "576k"  # below the Feather ESP32-S3's 2 MB of PSRAM
    out, exc = vboard_exec("circuitpython", "import gc\nprint(gc.mem_free() + gc.mem_alloc())\n", tmp_path)
    assert exc == "" and int(out) > 500 * 1024


def test_c15_interpreter(tmp_path: Path) -> None:
    out, exc = vboard_exec("circuitpython", "async def f():\n    return 1\nprint(1.5 * 2)\n", tmp_path)
    assert exc == "" and out == "3.0\n"


def test_i6_platform_and_uname(tmp_path: Path) -> None:
    # ports/espressif: sys.platform "Espressif"; shared-bindings/os: sysname = nodename = the MCU
    out, exc = vboard_exec("circuitpython", "import sys, os\nu = os.uname()\n"
                                            "print(sys.platform, u.sysname, u.nodename, u.machine)\n", tmp_path)
    assert exc == "" and out == "Espressif ESP32S3 ESP32S3 virtual board with ESP32S3\n", out


def test_c14_no_machine_microcontroller_instead(tmp_path: Path) -> None:
    # shared-bindings/ has no machine; microcontroller.cpu.uid is a 6-byte bytearray on ports/espressif
    for name in ("machine", "umachine"):
        out, exc = vboard_exec("circuitpython", f"import {name}\n", tmp_path)
        assert exc.endswith(f"ImportError: no module named '{name}'\n"), exc
    out, exc = vboard_exec("circuitpython", "import microcontroller as m\nu = m.cpu.uid\n"
                                            "print(type(u).__name__, len(u), u == m.cpu.uid, u is m.cpu.uid)\n",
                           tmp_path)
    assert exc == "" and out == "bytearray 6 True False\n"


def test_c04_ioctl_is_the_stream_protocol_stand_in(tmp_path: Path) -> None:
    # Socket.c's locals have no ioctl, its stream protocol has: the unix io.IOBase reaches it only by that name
    # (py/modio.c iobase_ioctl), so the model's Socket keeps it public, and select.poll works as on the board.
    out, exc = vboard_exec("circuitpython", "import select, socketpool, wifi\n"
                                            "s = socketpool.SocketPool(wifi.radio).socket()\np = select.poll()\n"
                                            "p.register(s, select.POLLOUT)\nprint(len(p.poll(0)))\ns.close()\n",
                           tmp_path)
    assert exc == "" and out == "1\n"


RESOLVE = r"""
import sys, socketpool, wifi
try:
    r = socketpool.SocketPool(wifi.radio).getaddrinfo(sys.argv[1], 80)[0][-1]
except Exception as e:
    r = (type(e).__name__, e.args)
print("@@" + repr(r))
"""


def test_c09_names_resolved_only_inside_a_namespace(tmp_path: Path) -> None:
    here, inside = resolve_here_and_in_a_namespace("circuitpython", RESOLVE, tmp_path)
    # the network rule outside a namespace: the firmware's gaierror, no look-up; inside, the resolver answers
    assert here == "('gaierror', (-2, 'Name or service not known'))"
    assert inside.startswith("('") and inside.endswith("', 80)") and inside.count(".") == 3, inside
    out, exc = vboard_exec("circuitpython", "import socketpool, wifi\n"
                                            "print(socketpool.SocketPool(wifi.radio).getaddrinfo('localhost', 80))\n",
                           tmp_path)
    assert exc == "" and out == "[(2, 1, 6, '', ('127.0.0.1', 80))]\n"
