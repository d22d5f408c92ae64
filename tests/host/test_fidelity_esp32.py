"""docs/fidelity.md, ESP32 rows (E1...): each test pins one behaviour of the esp32 port model itself
(host_harness/virtual/models/esp32) against real loopback peers; the row id is in the test name."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest
from fidelity_run import closed_port, model_rows, resolve_here_and_in_a_namespace, vboard_exec
from test_core_direct import needs_mp

from host_harness.peers import ResetAfter, TcpEcho, TcpSource

PROG = r"""
import sys, select, socket, errno, time, network
echo, refused, source, stuck, reset = [int(a) for a in sys.argv[1:6]]
r = {}
E = errno  # (a literal `errno.X` is folded by this unix compiler to its own numbers; the virtual board fixes that)
r["errno"] = (E.EAGAIN, E.ETIMEDOUT, E.EINPROGRESS, E.EALREADY, E.ENOTCONN, E.ECONNRESET, E.ECONNREFUSED, E.EBADF)
r["errno_missing"] = [n for n in ("EISCONN", "EPIPE", "EINTR") if hasattr(errno, n)]
r["consts"] = (socket.AF_INET, socket.AF_INET6, socket.SOCK_STREAM, socket.SOCK_DGRAM, socket.SOCK_RAW,
               socket.IPPROTO_TCP, socket.IPPROTO_UDP, socket.SOL_SOCKET, socket.SO_REUSEADDR,
               socket.SO_BROADCAST, socket.TCP_NODELAY, socket.IP_ADD_MEMBERSHIP)
s = socket.socket()
r["methods"] = sorted(m for m in ("recv_into", "recvfrom_into", "sendall", "makefile", "fileno", "read",
                                  "readinto", "readline", "write", "setblocking", "settimeout") if hasattr(s, m))
r["new_recv"] = err(lambda: s.recv(1))
p = select.poll(); p.register(s, select.POLLOUT)
r["new_poll"] = p.poll(0)[0][1]
s.connect(("localhost", echo))  # names resolved inside connect
s.settimeout(0.05)
t0 = time.ticks_ms(); r["t50"] = (err(lambda: s.recv(1)), time.ticks_diff(time.ticks_ms(), t0))
s.settimeout(0.3)
t0 = time.ticks_ms(); r["t300"] = (err(lambda: s.recv(1)), time.ticks_diff(time.ticks_ms(), t0))
s.settimeout(0)
r["nb_read"] = (s.read(1), s.readinto(bytearray(1)))
r["readinto_ro"] = read_only(s)
r["setsockopt_bytes"] = None
try:
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, b"\x01\x00\x00\x00")
except TypeError:
    r["setsockopt_bytes"] = "TypeError"
s.setsockopt(socket.SOL_SOCKET, 0x1234, 1)
s.settimeout(2)
s.write(b"x")
s.recv(1)
s.close()
e = socket.socket(); e.settimeout(2); e.connect(("127.0.0.1", echo)); e.write(b"q")
p = select.poll(); p.register(e, select.POLLIN)
r["poll_in"] = bool(p.poll(2000)) and p.poll(0)[0][1] & select.POLLIN
e.recv(1)
r["write_args"], r["write_echo"] = write_args(e)
e.settimeout(0)
r["readall"] = readall(e)  # all that arrived (stream_readall), then None
e.close()
# EOF latch: the peer closes once, every later recv is b''
e = socket.socket(); e.settimeout(2); e.connect(("127.0.0.1", source))
n = 0
while n < 100:
    n += len(e.recv(100 - n))
r["eof"] = (e.recv(10), e.recv(10), e.read(10))
e.close()
# sendall into a peer that never reads: ETIMEDOUT once a send falls short
e = socket.socket(); e.settimeout(0.3); e.connect(("127.0.0.1", stuck))
block = bytes(65536)
r["sendall_full"] = None
for i in range(2000):
    try:
        e.sendall(block)
    except OSError as x:
        r["sendall_full"] = x.args[0]
        break
e.close()
n = socket.socket(); n.setblocking(False)
r["nb_connect"] = err(lambda: n.connect(("127.0.0.1", refused)))
p = select.poll(); p.register(n, select.POLLOUT); p.poll(1000)
r["refused_again"] = (err(lambda: n.connect(("127.0.0.1", refused))), err(lambda: n.connect(("127.0.0.1", refused))))
n.close()
b = socket.socket()
r["refused_blocking"] = err(lambda: b.connect(("127.0.0.1", refused)))
b.close()
r["gai"] = socket.getaddrinfo("127.0.0.1", 80)[0]
r["gai_fail"] = err(lambda: socket.getaddrinfo("a" * 64 + ".invalid", 80))
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
r["sendto_name"] = None
try:
    u.sendto(b"x", ("localhost", 9))
except ValueError:
    r["sendto_name"] = "ValueError"
u.close()
r["limit"] = limit(socket.socket)
x = socket.socket(); x.settimeout(2); x.connect(("127.0.0.1", reset))
r["peer_reset"] = after_reset(x, x.recv)
x.close()
w = network.WLAN(network.STA_IF)
r["wlan_inactive"] = err(lambda: w.connect("usocket-hil", "k"))
r["stat"] = (network.STAT_IDLE, network.STAT_CONNECTING, network.STAT_GOT_IP, network.STAT_NO_AP_FOUND,
             network.STAT_WRONG_PASSWORD)
print("@@" + repr(r))
"""


@pytest.fixture(scope="module")
def rows(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    with TcpEcho("127.0.0.1", max_connections=8) as echo, TcpSource("127.0.0.1", nbytes=100) as source, \
            socket.socket() as stuck, ResetAfter("127.0.0.1", n=8) as reset:
        stuck.bind(("127.0.0.1", 0))
        stuck.listen(1)  # never accepted, never read: the connection's buffers fill up
        return model_rows("esp32", PROG, tmp_path_factory.mktemp("esp32"), str(echo.address[1]), str(closed_port()),
                          str(source.address[1]), str(stuck.getsockname()[1]), str(reset.address[1]))


pytestmark = needs_mp


def test_e01_errno_newlib(rows: dict[str, Any]) -> None:
    assert rows["errno"] == (11, 116, 119, 120, 128, 104, 111, 9)


def test_e02_errno_name_list(rows: dict[str, Any]) -> None:
    assert rows["errno_missing"] == []  # py/moderrno.c's default list has no EISCONN, EPIPE, EINTR


def test_e03_constants(rows: dict[str, Any]) -> None:
    assert rows["consts"] == (2, 10, 1, 2, 3, 6, 17, 0xFFF, 4, 0x20, 1, 3)


def test_e04_method_set(rows: dict[str, Any]) -> None:
    assert rows["methods"] == ["fileno", "makefile", "read", "readinto", "readline", "sendall", "setblocking",
                               "settimeout", "write"]  # no recv_into / recvfrom_into


def test_e05_timeout_quanta(rows: dict[str, Any]) -> None:
    assert rows["t50"][0] == 11 and rows["t50"][1] >= 90  # < 0.1 s: one 100 ms quantum, then EAGAIN
    assert rows["t300"][0] == 116 and rows["t300"][1] >= 390  # retries + 1 quanta, then ETIMEDOUT


def test_e06_new_socket_state(rows: dict[str, Any]) -> None:
    assert rows["new_recv"] == 128  # ENOTCONN on a fresh stream socket
    assert rows["new_poll"] == 4 | 16  # writable, with HUP


def test_e07_read_would_block(rows: dict[str, Any]) -> None:
    assert rows["nb_read"] == (None, None)


def test_e20_readinto_read_only_at_once(rows: dict[str, Any]) -> None:
    # non-blocking with nothing there: the buffer check comes first, so the answer is TypeError, not None
    assert rows["readinto_ro"] == ["TypeError"] * 3


def test_e21_stream_write_and_readall(rows: dict[str, Any]) -> None:
    assert rows["write_args"] == (3, 2, 2)  # write(buf, max_len), write(buf, off, max_len); -1 is "no limit"
    assert rows["write_echo"] == b"abc45xy"
    assert rows["readall"] == (1000, None)


def test_e08_peer_reset(rows: dict[str, Any]) -> None:
    assert rows["peer_reset"] == 104  # ECONNRESET (lwIP ERR_RST)


def test_e09_refused_connect(rows: dict[str, Any]) -> None:
    assert rows["nb_connect"] == 119  # EINPROGRESS: lwIP learns of the RST later
    assert rows["refused_again"] == (128, 128)  # ERR_CLSD -> ENOTCONN, never ECONNREFUSED
    assert rows["refused_blocking"] == 104  # SO_ERROR = err_to_errno(ERR_RST)


def test_e08_eof_latched(rows: dict[str, Any]) -> None:
    assert rows["eof"] == (b"", b"", b"")


def test_e14_sendall_short_is_etimedout(rows: dict[str, Any]) -> None:
    assert rows["sendall_full"] == 116


def test_e15_poll(rows: dict[str, Any]) -> None:
    assert rows["poll_in"]


def test_e10_socket_limit(rows: dict[str, Any]) -> None:
    assert rows["limit"] == (10, 23)  # CONFIG_LWIP_MAX_SOCKETS, then ENFILE after the gc retry


def test_e11_setsockopt(tmp_path: Path, rows: dict[str, Any]) -> None:
    assert rows["setsockopt_bytes"] == "TypeError"  # mp_obj_get_int on the value


def test_e12_getaddrinfo(rows: dict[str, Any]) -> None:
    assert rows["gai"] == (2, 1, 0, "127.0.0.1", ("127.0.0.1", 80))
    assert rows["gai_fail"] == -202  # EAI_FAIL, negated


def test_e13_sendto_numeric_only(rows: dict[str, Any]) -> None:
    assert rows["sendto_name"] == "ValueError"


def test_e17_wlan(rows: dict[str, Any]) -> None:
    assert rows["wlan_inactive"] == -20485  # ESP_ERR_WIFI_NOT_STARTED
    assert rows["stat"] == (1000, 1001, 1010, 201, 202)


def test_e18_interpreter(tmp_path: Path) -> None:
    out, exc = vboard_exec("esp32", "import errno, usocket, socket, machine\n"
                                    "print(errno.ETIMEDOUT, usocket is socket, len(machine.unique_id()), 1.5)\n"
                                    "async def f():\n    pass\n", tmp_path)
    assert exc == "" and out.split() == ["116", "True", "6", "1.5"]


def test_e19_heap(tmp_path: Path) -> None:
    import tomllib

    from test_port_models import ROOT
    board = tomllib.loads((ROOT / "boards" / "virtual-esp32.toml").read_text())
    # user code gets 2 x ~112 KiB (64-bit), whatever the virtual board and the model modules take themselves
    out, exc = vboard_exec("esp32", "import gc\ngc.collect()\nprint(gc.mem_free())\n", tmp_path,
                           board["virtual"]["heapsize"])
    assert exc == "" and 220 * 1024 <= int(out) < 228 * 1024, out  # (less what this exec itself holds)


def test_i2_errno_not_folded_in_py_modules(tmp_path: Path) -> None:
    flash = tmp_path / "flash-esp32"
    flash.mkdir()
    (flash / "errmod.py").write_text("import errno\nT = errno.ETIMEDOUT\n\ndef f():\n    return errno.ENOTCONN\n")
    out, exc = vboard_exec("esp32", "import errmod\nfrom errmod import f\nprint(errmod.T, f(), errmod.__name__)\n"
                                    "import errmod as again\nprint(again is errmod)\n", tmp_path)
    assert exc == "" and out == "116 128 errmod\nTrue\n"  # newlib's numbers, not the unix build's 110/107


def test_i2_errno_not_folded_in_packages(tmp_path: Path) -> None:
    # every module a user can import, inside packages too: __init__.py, a.b, a.b.c, relative and from-imports
    flash = tmp_path / "flash-esp32"
    (flash / "pkg" / "inner").mkdir(parents=True)
    (flash / "pkg" / "__init__.py").write_text("import errno\nA = errno.ETIMEDOUT\nfrom . import sub\n"
                                               "from .plain import P\n")
    (flash / "pkg" / "sub.py").write_text("import errno\nB = errno.ENOTCONN\n\n"
                                          "def f():\n    return errno.EINPROGRESS\n")
    (flash / "pkg" / "plain.py").write_text("P = 7\n")  # nothing to unfold: the interpreter's own import
    (flash / "pkg" / "inner" / "__init__.py").write_text("")
    (flash / "pkg" / "inner" / "deep.py").write_text("from errno import EALREADY\nimport errno\n"
                                                     "C = (errno.EALREADY, EALREADY)\nfrom ..sub import f\n")
    (flash / "pkg" / "later.py").write_text("import errno\nD = errno.ECONNRESET\n")
    out, exc = vboard_exec("esp32", "import sys\nimport pkg.inner.deep as deep\nimport pkg\n"
                                    "print(pkg.A, pkg.sub.B, pkg.sub.f(), pkg.P, deep.C, deep.f is pkg.sub.f)\n"
                                    "from pkg import later\nprint(later.D, later is sys.modules['pkg.later'],"
                                    " pkg.later is later, pkg.inner.deep is deep, later.__name__)\n", tmp_path)
    # newlib's numbers (ETIMEDOUT 116, ENOTCONN 128, EINPROGRESS 119, EALREADY 120, ECONNRESET 104)
    assert exc == "" and out == "116 128 119 7 (120, 120) True\n104 True True True pkg.later\n", (out, exc)


def test_i6_platform_and_uname(tmp_path: Path) -> None:
    out, exc = vboard_exec("esp32", "import sys, os, usys, uos\nprint(sys.platform, usys is sys, uos is os)\n"
                                    "u = os.uname()\nprint(u.sysname, u.nodename, u[4], len(u))\n"
                                    "print(u.version.split(' on ')[0] == 'v' + u.release)\n"
                                    "print(sys.implementation._machine, sys.implementation.name)\n", tmp_path)
    assert exc == "" and out.splitlines() == ["esp32 True True", "esp32 esp32 virtual board with ESP32 5",
                                              "True", "virtual board with ESP32 micropython"], out


RESOLVE = r"""
import sys, socket
r = []
for f in (lambda: socket.getaddrinfo(sys.argv[1], 80)[0][-1], lambda: socket.socket().connect((sys.argv[1], 9))):
    try:
        r.append(f())
    except OSError as e:
        r.append(e.args[0])
print("@@" + repr(r))
"""


def test_e12_names_resolved_only_inside_a_namespace(tmp_path: Path) -> None:
    here, inside = resolve_here_and_in_a_namespace("esp32", RESOLVE, tmp_path)
    # outside a namespace (the network rule) the look-up fails as lwIP's DNS does (EAI_FAIL), for getaddrinfo
    # and connect alike; inside, the name resolves (and the connect to port 9 there is refused: ECONNRESET)
    assert here == "[-202, -202]"
    assert inside.startswith("[('") and "', 80), " in inside and not inside.endswith("-202]"), inside
