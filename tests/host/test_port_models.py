"""Port models (host_harness/virtual/models/<target>) and the board glue over them (ports/<target>).

Each target runs on the real `micropython` unix interpreter with its model first on the path, against real
loopback peers: (1) every device case (tests/device/cases) through usocket_port + the target's glue, with
per-target expectations listed below with their reasons; (2) the quirks each model reproduces; (3) TLS
through IPPROTO_SEC with certificate checking (tls_setup) against host_harness.peers TLS servers; (4) the
ESP32 lwIP socket limit; (5) network bring-up through the glue's connect_network().
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from test_core_direct import MICROPYTHON, needs_mp
from test_core_direct import peers as peers  # noqa: F401  (module fixture: the shared loopback peers)

from host_harness.peers import TlsExpired, TlsServer, TlsWrongCa, TlsWrongHost

ROOT = Path(__file__).resolve().parents[2]
MODELS = ROOT / "host_harness" / "virtual" / "models"
TARGETS = ("esp32", "wipy", "circuitpython")
DEADLINE_S = 90

def mp_path(target: str, *extra: Path | str) -> str:
    # The model and models/_common first (as the virtual board mounts them), ".frozen" for asyncio, then glue,
    # core, extras.
    return os.pathsep.join([str(MODELS / target), str(MODELS / "_common"), ".frozen",
                            str(ROOT / "ports" / target), str(ROOT), *map(str, extra)])


def run_mp(target: str, code: str, tmp: Path, *args: str, timeout: float = 60,
           env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    assert MICROPYTHON is not None
    prog = tmp / f"prog_{target}.py"
    prog.write_text(code)
    return subprocess.run([MICROPYTHON, "-X", "heapsize=512k", str(prog), *args], capture_output=True, text=True,
                          timeout=timeout, cwd=tmp, env={**os.environ, "MICROPYPATH": mp_path(target),
                                                          **(env or {})})


# Every device case over each model runs in the conformance suite itself, on real virtual boards
# (`usocket-hil test --board virtual-esp32 ...`); this module checks the models' quirks and the glue paths
# the suite cannot reach (TLS refusals per target, socket limits, DNS error numbers, network bring-up).


# ---- TLS through IPPROTO_SEC with tls_setup() on every target ------------------------------------------------

TLS_PROG = r"""
import sys, os
import usocket_port as u
port, ca = int(sys.argv[1]), sys.argv[2]
if ca.startswith("/flash"):
    os.mount(os.VfsPosix(sys.argv[3]), "/flash")
u.tls_setup(ca)
s = u.socket(u.AF_INET, u.SOCK_STREAM, u.IPPROTO_SEC)
s.settimeout(10)
try:
    s.connect(("127.0.0.1", port))
    s.write(b"ping\n")
    print("@@ACCEPTED", s.readline())
except OSError as e:
    print("@@REFUSED", type(e).__name__, e.args[0])
s.close()
"""

# peer -> accepted?  WiPy's network processor checks no host name, so a real WiPy ACCEPTS TlsWrongHost; the
# model refuses it because the unix mbedTLS cannot verify without a name (docs/ports.md, "WiPy").
TLS_EXPECT = {
    "esp32": {"TlsServer": True, "TlsWrongCa": False, "TlsWrongHost": False, "TlsExpired": False},
    "circuitpython": {"TlsServer": True, "TlsWrongCa": False, "TlsWrongHost": False, "TlsExpired": False},
    "wipy": {"TlsServer": True, "TlsWrongCa": False, "TlsWrongHost": False, "TlsExpired": False},
}


@needs_mp
@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("peer_cls", [TlsServer, TlsWrongCa, TlsWrongHost, TlsExpired], ids=lambda c: c.__name__)
def test_ipproto_sec_certificate_checking(target: str, peer_cls: type, tmp_path: Path) -> None:
    with peer_cls("127.0.0.1") as peer:
        flash = tmp_path / "flash"
        (flash / "cert").mkdir(parents=True)
        # WiPy: the CA is where the FTP server puts it, the network processor's own file system (nwp_fs.py)
        store = tmp_path / "nwp" if target == "wipy" else flash
        (store / "cert").mkdir(parents=True, exist_ok=True)
        (store / "cert" / "ca.pem").write_text(peer.ca_pem)
        ca = "/flash/cert/ca.pem" if target == "wipy" else str(flash / "cert" / "ca.pem")
        r = run_mp(target, TLS_PROG, tmp_path, str(peer.address[1]), ca, str(flash),
                   env={"VBOARD_NWP_FS": str(tmp_path / "nwp")})
        line = next((ln for ln in r.stdout.splitlines() if ln.startswith("@@")), None)
        assert line, r.stdout + r.stderr
        accepted = line.startswith("@@ACCEPTED")
        assert accepted == TLS_EXPECT[target][peer_cls.__name__], line
        if accepted:
            assert "ping" in line
        else:
            assert line.split()[1] == "OSError", line  # a plain OSError, nothing else leaks


# ---- model quirks -------------------------------------------------------------------------------------------

ESP32_QUIRKS = r"""
import sys, time, socket, errno
ip, port = sys.argv[1], int(sys.argv[2])
def t(fn):
    t0 = time.ticks_ms()
    try:
        fn(); return ("ok", time.ticks_diff(time.ticks_ms(), t0))
    except OSError as e:
        return (e.args[0], time.ticks_diff(time.ticks_ms(), t0))
s = socket.socket()
r = {"new_recv": t(lambda: s.recv(1))}
s.connect(("localhost", port))            # hostnames resolved inside connect
s.settimeout(0.05); r["t50"] = t(lambda: s.recv(1))
s.settimeout(0.3); r["t300"] = t(lambda: s.recv(1))
s.settimeout(0); r["nb"] = t(lambda: s.recv(1))
r["warn_opt"] = s.setsockopt(socket.SOL_SOCKET, 0x1234, 1)
s.close()
u = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
u.setblocking(False)
r["nbconnect"] = t(lambda: u.connect((ip, port)))
u.close()
leak = []
try:
    for i in range(40):
        leak.append(socket.socket())
except OSError as e:
    r["leak"] = (len(leak), e.args[0])
print("@@" + repr(r))
print("@@E", repr((getattr(errno, "ETIMEDOUT"), getattr(errno, "EINPROGRESS"), getattr(errno, "ENOTCONN"))))
"""


@needs_mp
def test_esp32_model_quirks(peers: dict[str, Any], tmp_path: Path) -> None:
    ip, port = peers["env"]["sink"]
    r = run_mp("esp32", ESP32_QUIRKS, tmp_path, ip, str(port))
    rows = [ln[2:] for ln in r.stdout.splitlines() if ln.startswith("@@")]
    assert len(rows) == 2, r.stdout + r.stderr
    q = eval(rows[0])  # noqa: S307 - our own program's repr of ints/strings
    assert rows[1] == "E (116, 119, 128)"  # newlib numbers
    assert q["new_recv"][0] == 128  # ENOTCONN on a fresh stream socket
    assert q["t50"][0] == 11 and q["t50"][1] >= 90  # < 0.1 s: one 100 ms quantum, then EAGAIN
    assert q["t300"][0] == 116 and q["t300"][1] >= 390  # 3 retries + 1 -> ~400 ms, then ETIMEDOUT
    assert q["nb"][0] == 11
    assert q["nbconnect"][0] == 119  # EINPROGRESS, newlib
    assert "Warning: lwip.setsockopt() option not implemented" in r.stdout
    # the lwIP limit: 10 sockets; socket() retries after gc.collect() then fails with ENFILE (23)
    assert q["leak"] == (10, 23), q


@needs_mp
def test_esp32_glue_over_a_leak_gives_the_boards_error(tmp_path: Path) -> None:
    code = ("import usocket_port as u\nkeep = []\ntry:\n    for i in range(40):\n        keep.append(u.socket())\n"
            "except OSError as e:\n    print('@@', len(keep), e.args[0], type(e).__name__)\n")
    r = run_mp("esp32", code, tmp_path)
    assert "@@ 10 23 OSError" in r.stdout, r.stdout + r.stderr


WIPY_QUIRKS = r"""
import socket, errno, ssl
s = socket.socket()
r = {}
try:
    s.settimeout(0.5)
except TypeError:
    r["float_timeout"] = "TypeError"
r["errno"] = sorted(k for k in dir(errno) if k.startswith("E"))
r["consts"] = sorted(k for k in dir(socket) if k.isupper() and k[0] != "_")
try:
    ssl.wrap_socket(s, cert_reqs=ssl.CERT_REQUIRED)
except ValueError as e:
    r["no_ca"] = str(e)
socks = [s]
try:
    for i in range(20):
        socks.append(socket.socket())
except OSError as e:
    r["limit"] = (len(socks), e.args[0])
try:
    socket.getaddrinfo("a" * 64 + ".invalid", 80)
except OSError as e:
    r["dns"] = e.args[0]
print("@@" + repr(r))
"""


@needs_mp
def test_wipy_model_quirks(tmp_path: Path) -> None:
    r = run_mp("wipy", WIPY_QUIRKS, tmp_path)
    row = next(ln[2:] for ln in r.stdout.splitlines() if ln.startswith("@@"))
    q = eval(row)  # noqa: S307
    assert q["float_timeout"] == "TypeError"
    assert q["errno"] == ["EINVAL", "EIO", "ENODEV", "EPERM", "ETIMEDOUT"]
    assert q["consts"] == ["AF_INET", "IPPROTO_SEC", "IPPROTO_TCP", "IPPROTO_UDP", "SOCK_DGRAM", "SOCK_STREAM"]
    assert q["no_ca"] == "invalid argument(s) value"
    assert q["limit"] == (6, 10)  # SL_MAX_SOCKETS 8 less the telnet and FTP listeners
    assert q["dns"] > 0  # positive SimpleLink DNS code; the glue negates it


@needs_mp
def test_wipy_glue_negates_dns_errors(tmp_path: Path) -> None:
    r = run_mp("wipy", "import usocket_port as u\ntry:\n    u.getaddrinfo('a' * 64 + '.invalid', 1)\n"
               "except OSError as e:\n    print('@@', e.args[0])\n", tmp_path)
    assert "@@ -163" in r.stdout, r.stdout + r.stderr


CP_QUIRKS = r"""
import sys, socketpool, wifi
ip, port = sys.argv[1], int(sys.argv[2])
pool = socketpool.SocketPool(wifi.radio)
r = {"has_recv": hasattr(pool.socket(), "recv"), "module_socket": hasattr(socketpool, "socket"),
     "consts": (pool.SOL_SOCKET, pool.SO_REUSEADDR)}
s = pool.socket()
s.setblocking(False)
try:
    s.connect((ip, port))
except OSError as e:
    r["nbconnect"] = e.args[0]
try:
    s.send(b"x")
except BrokenPipeError:
    r["send_after"] = "BrokenPipeError"
try:
    pool.getaddrinfo("a" * 64 + ".invalid", 1)
except pool.gaierror as e:
    r["gai"] = e.args[0]
try:
    socketpool.SocketPool(object())
except ValueError:
    r["radio"] = "ValueError"
print("@@" + repr(r))
"""


@needs_mp
def test_circuitpython_model_quirks(peers: dict[str, Any], tmp_path: Path) -> None:
    ip, port = peers["env"]["echo"]
    r = run_mp("circuitpython", CP_QUIRKS, tmp_path, ip, str(port))
    row = next((ln[2:] for ln in r.stdout.splitlines() if ln.startswith("@@")), None)
    assert row, r.stdout + r.stderr
    q = eval(row)  # noqa: S307
    assert q["has_recv"] is False and q["module_socket"] is False
    assert q["consts"] == (0xFFF, 4)
    assert q["nbconnect"] == 116  # ETIMEDOUT at once, not EINPROGRESS
    assert q["send_after"] == "BrokenPipeError"
    assert q["gai"] == -2
    assert q["radio"] == "ValueError"


# ---- network bring-up through the glue --------------------------------------------------------------------

NET_PROG = r"""
import usocket_target as t
try:
    t.connect_network("usocket-hil", "wrong-key", 300)
except OSError as e:
    print("@@BAD", e.args[0], e.args[1])
print("@@IP", t.connect_network("usocket-hil", "usocket-hil-key", 3000))
# already joined: the arguments still count (a wrong key, another network), then the right ones again
for ssid, key in (("usocket-hil", "wrong-key"), ("other-net", "usocket-hil-key")):
    try:
        t.connect_network(ssid, key, 300)
        print("@@JOINED", ssid, key)
    except OSError as e:
        print("@@REFUSED", ssid, key)
print("@@IP", t.connect_network("usocket-hil", "usocket-hil-key", 3000))
"""


@needs_mp
@pytest.mark.parametrize("target", TARGETS)
def test_connect_network(target: str, tmp_path: Path) -> None:
    r = run_mp(target, NET_PROG, tmp_path, env={"VBOARD_IP": "10.213.0.2", "VBOARD_HOST_IP": "10.213.0.1"})
    lines = [ln for ln in r.stdout.splitlines() if ln.startswith("@@")]
    assert len(lines) == 5, r.stdout + r.stderr
    assert lines[0].startswith("@@BAD ") and any(w in lines[0] for w in ("wrong", "within", "Authentication")), lines[0]
    assert lines[1] == "@@IP 10.213.0.2"
    assert lines[2:4] == ["@@REFUSED usocket-hil wrong-key", "@@REFUSED other-net usocket-hil-key"], lines
    assert lines[4] == "@@IP 10.213.0.2"
