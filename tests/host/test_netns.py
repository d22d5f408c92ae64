"""Network namespace pairs: real `ip netns`, real veth, real micropython in the board namespace."""

from __future__ import annotations

import errno
import ipaddress
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from host_harness import netns
from host_harness.netns import NetnsError, NetnsPair
from host_harness.peers import TcpEcho

SUPPORTED, WHY = netns.netns_support()
pytestmark = pytest.mark.skipif(not SUPPORTED, reason=f"network namespaces unavailable: {WHY}")

OFF_SUBNET = "198.51.100.1"  # TEST-NET-2; only dialled inside a board namespace that has no route to it
_created: set[str] = set()  # every namespace name this module made (directly or via children)


def _micropython() -> str:
    exe = os.environ.get("MICROPYTHON") or shutil.which("micropython", path=str(Path(sys.executable).parent))
    if not exe:
        pytest.skip("no micropython interpreter (set MICROPYTHON=/path/to/micropython)")
    return exe


def _ip(*args: str) -> str:
    return subprocess.run(["ip", *args], capture_output=True, text=True, timeout=10, check=True).stdout


def _root_snapshot() -> tuple[str, str]:
    return _ip("-o", "addr"), _ip("-o", "link")


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def _tx_packets(ns: str) -> int:
    # `ip -s -o link` prints "RX: bytes packets ... TX: bytes packets ..." on one line.
    out = _ip("-n", ns, "-s", "-o", "link", "show", netns.VETH).split("TX:")[1].split()
    # The header words come first, then the numbers: find the first two integers (bytes, packets).
    nums = [int(w) for w in out if w.isdigit()]
    return nums[1]


@pytest.fixture(scope="module", autouse=True)
def nothing_left() -> Iterator[None]:
    yield
    # Only what this module made: other tests in the same run may legitimately hold pairs.
    left = [n for n in _created if (netns.NETNS_DIR / n).exists()]
    for n in left:
        subprocess.run(["ip", "netns", "del", n], capture_output=True, timeout=10)
    assert not left, f"namespaces left behind: {left}"


@pytest.fixture
def pair() -> Iterator[NetnsPair]:
    p = netns.create_pair()
    _created.update(p.names)
    try:
        yield p
    finally:
        p.close()


def test_create_and_close_is_idempotent() -> None:
    p = netns.create_pair()
    _created.update(p.names)
    assert set(p.names) <= set(netns.ours())
    assert all(n.startswith(f"uhil-{os.getpid()}-") for n in p.names)
    p.close()
    assert not p.exists()
    assert not set(p.names) & set(netns.ours())
    p.close()  # second close: no error


def test_addresses_are_a_private_slash30(pair: NetnsPair) -> None:
    net = ipaddress.ip_network(pair.subnet)
    host, board = ipaddress.ip_address(pair.host_ip), ipaddress.ip_address(pair.board_ip)
    assert net.prefixlen == 30 and net.subnet_of(ipaddress.ip_network("10.213.0.0/16"))
    assert host in net and board in net and host != board and net.is_private
    assert f"inet {pair.host_ip}/30" in _ip("-n", pair.host_ns, "-o", "-4", "addr", "show", netns.VETH)
    assert f"inet {pair.board_ip}/30" in _ip("-n", pair.board_ns, "-o", "-4", "addr", "show", netns.VETH)
    for ns in pair.names:
        assert "UP" in _ip("-n", ns, "-o", "link", "show", "lo")
        # Exactly one IPv4 address besides loopback, and no IPv6 link-local on the veth.
        assert len(_ip("-n", ns, "-o", "-4", "addr", "show", netns.VETH).splitlines()) == 1
        assert _ip("-n", ns, "-o", "-6", "addr", "show", netns.VETH).strip() == ""


def test_no_default_route_in_either_namespace(pair: NetnsPair) -> None:
    for ns in pair.names:
        assert _ip("-n", ns, "route", "show", "default").strip() == ""
        assert _ip("-n", ns, "-6", "route", "show", "default").strip() == ""
        routes = _ip("-n", ns, "-4", "route", "show").strip().splitlines()
        assert routes == [r for r in routes if r.startswith(pair.subnet)], routes


def test_root_namespace_is_untouched() -> None:
    before = _root_snapshot()
    p = netns.create_pair()
    _created.update(p.names)
    try:
        during = _root_snapshot()
    finally:
        p.close()
    after = _root_snapshot()
    assert during == before
    assert after == before


def test_micropython_echo_across_the_veth(pair: NetnsPair) -> None:
    mp = _micropython()
    code = textwrap.dedent(f"""
        import socket
        addr = socket.getaddrinfo({pair.host_ip!r}, PORT)[0][-1]
        s = socket.socket()
        s.connect(addr)
        s.write(b"ping across veth")
        got = b""
        while len(got) < 16:
            chunk = s.recv(64)
            if not chunk:
                break
            got += chunk
        s.close()
        print(got.decode())
    """)
    with TcpEcho(pair.host_ip, socket_factory=pair.host_socket) as echo:
        assert echo.address[0] == pair.host_ip
        argv = pair.board_argv([mp, "-c", code.replace("PORT", str(echo.port))])
        res = subprocess.run(argv, capture_output=True, text=True, timeout=30)
        assert res.returncode == 0, res.stderr
        assert res.stdout.strip() == "ping across veth"
        rec = echo.result(0)
        # The connection came from the board side of the veth, not from loopback.
        assert rec.client[0] == pair.board_ip and rec.bytes_in == 16 and rec.error is None


def test_host_argv_runs_inside_the_host_namespace(pair: NetnsPair) -> None:
    res = subprocess.run(
        pair.host_argv(["ip", "-o", "-4", "addr"]), capture_output=True, text=True, timeout=10
    )
    assert res.returncode == 0 and f"{pair.host_ip}/30" in res.stdout and pair.board_ip not in res.stdout


def test_loopback_is_per_namespace(pair: NetnsPair) -> None:
    with TcpEcho("127.0.0.1", socket_factory=pair.host_socket) as echo:
        s = pair.board_socket()
        s.settimeout(5)
        try:
            with pytest.raises(ConnectionRefusedError):
                s.connect(echo.address)
        finally:
            s.close()


def test_off_subnet_connect_is_unreachable_and_sends_nothing(pair: NetnsPair) -> None:
    tx_before = {ns: _tx_packets(ns) for ns in pair.names}
    s = pair.board_socket()
    s.settimeout(5)
    try:
        with pytest.raises(OSError) as info:
            s.connect((OFF_SUBNET, 9))
    finally:
        s.close()
    assert info.value.errno == errno.ENETUNREACH
    mp = _micropython()
    code = (
        "import socket\n"
        "s = socket.socket()\n"
        "try:\n"
        f"    s.connect(socket.getaddrinfo({OFF_SUBNET!r}, 9)[0][-1])\n"
        "except OSError as e:\n"
        "    print(e.errno)\n"
    )
    res = subprocess.run(pair.board_argv([mp, "-c", code]), capture_output=True, text=True, timeout=30)
    assert res.stdout.strip() == str(errno.ENETUNREACH), res.stderr
    assert {ns: _tx_packets(ns) for ns in pair.names} == tx_before


def test_socket_in_a_closed_pair_is_a_clear_error() -> None:
    p = netns.create_pair()
    _created.update(p.names)
    p.close()
    with pytest.raises(NetnsError, match="does not exist"):
        p.host_socket()


_CHILD = textwrap.dedent("""
    import json, os, sys, time
    from host_harness.netns import create_pair
    mode = sys.argv[1]
    p = create_pair(owner_pid=os.getpid() if mode == "owned" else None)
    print(json.dumps({"names": p.names, "subnet": p.subnet,
                      "reaper": p.reaper.pid if p.reaper else None}), flush=True)
    if mode == "owned":
        time.sleep(60)  # killed by the test
    else:
        sys.stdin.readline()
        p.close()
""")


def _spawn_child(mode: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", _CHILD, mode],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def _read_json(proc: subprocess.Popen) -> dict:
    line = proc.stdout.readline() if proc.stdout else ""
    assert line, f"child exited early with {proc.wait(10)}"
    info = json.loads(line)
    _created.update(info["names"])
    return info


def test_concurrent_creators_get_distinct_pairs() -> None:
    procs = [_spawn_child("plain") for _ in range(3)]
    try:
        infos = [_read_json(p) for p in procs]
        names = [n for i in infos for n in i["names"]]
        assert len(set(names)) == 6
        assert len({i["subnet"] for i in infos}) == 3
        assert all((netns.NETNS_DIR / n).exists() for n in names)
    finally:
        for p in procs:
            if p.stdin:
                p.stdin.close()  # EOF: the child closes its pair and exits
        for p in procs:
            p.wait(20)
    assert [p.returncode for p in procs] == [0, 0, 0]
    assert not [n for n in names if (netns.NETNS_DIR / n).exists()]


def test_kill_9_of_the_owner_lets_the_reaper_delete_the_pair() -> None:
    proc = _spawn_child("owned")
    info = _read_json(proc)
    try:
        assert all((netns.NETNS_DIR / n).exists() for n in info["names"])
        assert info["reaper"] is not None
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    deadline = time.monotonic() + 5.0  # generous; typically well under a second
    while time.monotonic() < deadline and any((netns.NETNS_DIR / n).exists() for n in info["names"]):
        time.sleep(0.05)
    assert not [n for n in info["names"] if (netns.NETNS_DIR / n).exists()]
    # The reaper exits after its work (it is not our child: poll /proc; a zombie counts as exited).
    while time.monotonic() < deadline and _running(info["reaper"]):
        time.sleep(0.05)
    assert not _running(info["reaper"])


def test_reap_stale_removes_pairs_of_dead_owners_only() -> None:
    sleeper = subprocess.Popen(["sleep", "30"])
    try:
        stale = netns.create_pair(owner_pid=sleeper.pid, reaper=False)
        _created.update(stale.names)
        live = netns.create_pair()
        _created.update(live.names)
    finally:
        sleeper.kill()
        sleeper.wait(10)
    try:
        assert stale.reaper is None and stale.exists()
        removed = netns.reap_stale()
        assert set(stale.names) <= set(removed)
        assert not stale.exists()
        assert live.exists() and not set(live.names) & set(removed)
    finally:
        stale.close()
        live.close()


def test_attach_rebuilds_a_handle_from_a_name(pair: NetnsPair) -> None:
    other = NetnsPair.attach(pair.board_ns)
    assert (other.host_ns, other.board_ns, other.host_ip, other.board_ip) == (
        pair.host_ns,
        pair.board_ns,
        pair.host_ip,
        pair.board_ip,
    )
    with pytest.raises(NetnsError, match="not a usocket-hil namespace name"):
        NetnsPair.attach("somebody-else")


def test_create_with_a_dead_owner_is_a_clear_error() -> None:
    p = subprocess.Popen(["true"])
    p.wait(10)
    with pytest.raises(NetnsError, match="does not exist"):
        netns.create_pair(owner_pid=p.pid)


# -- the unprivileged variant (unshare -rn + nsenter) ----------------------------------------------


def _pid_running(pid: int) -> bool:
    return _running(pid)


def test_user_namespace_pair_forced_as_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(netns.MODE_ENV, "user")
    if netns.netns_mode()[0] != "user":
        pytest.skip(f"unprivileged user namespaces unavailable: {netns.netns_mode()[1]}")
    before = _root_snapshot()
    p = netns.create_pair()
    assert isinstance(p, netns.UserNetnsPair)
    holder, keeper = p.holder.pid, p.keeper_pid
    try:
        assert p.names == ()  # anonymous namespaces: nothing named to leak
        for argv in (p.board_argv, p.host_argv):
            routes = subprocess.run(argv(["ip", "-4", "route"]), capture_output=True, text=True, timeout=10)
            assert routes.returncode == 0 and "default" not in routes.stdout and p.subnet in routes.stdout
        assert (
            f"{p.board_ip}/30"
            in subprocess.run(
                p.board_argv(["ip", "-o", "-4", "addr"]), capture_output=True, text=True, timeout=10
            ).stdout
        )
        with TcpEcho(p.host_ip, socket_factory=p.host_socket) as echo:
            c = p.board_socket()
            c.settimeout(5)
            try:
                c.connect(echo.address)
                c.sendall(b"userns")
                assert c.recv(16) == b"userns"
            finally:
                c.close()
            assert echo.result(0).client[0] == p.board_ip
        assert _root_snapshot() == before
    finally:
        p.close()
    assert not _pid_running(holder) and not _pid_running(keeper)
    p.close()  # idempotent
    with pytest.raises(NetnsError, match="closed"):
        p.host_socket()


def test_user_namespace_pair_dies_with_its_owner() -> None:
    env = {**os.environ, netns.MODE_ENV: "user"}
    code = textwrap.dedent("""
        import json, os, time
        from host_harness.netns import create_pair
        p = create_pair(owner_pid=os.getpid())
        print(json.dumps([p.holder.pid, p.keeper_pid]), flush=True)
        time.sleep(60)
    """)
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, env=env)
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        if not line:
            pytest.skip("unprivileged user namespaces unavailable here")
        holder, keeper = json.loads(line)
        assert _pid_running(holder) and _pid_running(keeper)
    finally:
        proc.kill()
        proc.wait(10)
    deadline = time.monotonic() + 5.0
    while time.monotonic() < deadline and (_pid_running(holder) or _pid_running(keeper)):
        time.sleep(0.05)
    assert not _pid_running(holder) and not _pid_running(keeper)


_NOBODY_SCRIPT = textwrap.dedent("""
    import sys, subprocess
    from host_harness import netns
    from host_harness.peers import TcpEcho
    mode = netns.netns_mode()
    print("mode", mode[0] or mode[1])
    p = netns.create_pair()
    with TcpEcho(p.host_ip, socket_factory=p.host_socket) as e:
        code = ("import socket\\ns = socket.socket()\\n"
                f"s.connect(socket.getaddrinfo({p.host_ip!r}, {e.port})[0][-1])\\n"
                "s.write(b'nobody')\\nprint(s.read(6).decode())\\n")
        mp = [sys.executable, "-c",
              "import sys; from micropython_unix import main; sys.argv[0] = 'micropython'; sys.exit(main())",
              "-c", code]
        r = subprocess.run(p.board_argv(mp), capture_output=True, text=True, timeout=20)
        print(r.stdout.strip())
        print(r.stderr.strip())
    p.close()
""")


def test_unprivileged_user_gets_a_working_pair() -> None:
    """As uid 65534 (nobody): the `unshare -rn` route, with a real micropython in the board namespace."""
    # The venv's interpreter may live under root's home (unreadable for nobody): use a system python
    # of the same version with the venv's site-packages for micropython_unix.
    py = shutil.which(f"python{sys.version_info[0]}.{sys.version_info[1]}", path="/usr/bin:/usr/local/bin")
    if os.geteuid() != 0 or shutil.which("setpriv") is None or py is None:
        pytest.skip("needs root (to drop to nobody with setpriv) and a system python of this version")
    import micropython_unix  # noqa: F401 - its folder goes on PYTHONPATH

    site = str(Path(micropython_unix.__file__).resolve().parent)
    repo = str(Path(netns.__file__).resolve().parents[2])  # host_harness/netns/__init__.py
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": f"{repo}:{site}", "HOME": "/tmp"}
    res = subprocess.run(
        ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", py, "-c", _NOBODY_SCRIPT],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        cwd="/",
    )
    if "Permission denied" in res.stderr and "mode" not in res.stdout:
        pytest.skip(f"nobody cannot run {py} or read the checkout here: {res.stderr.strip()[-200:]}")
    assert res.returncode == 0, res.stdout + res.stderr
    assert res.stdout.split("\n")[:2] == ["mode user", "nobody"], res.stdout + res.stderr
