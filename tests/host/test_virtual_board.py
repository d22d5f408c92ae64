"""The virtual board driven by the real mpremote CLI and by pyserial, byte for byte where it matters."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import serial

from host_harness.boards import load_board
from host_harness.virtual import VirtualBoard, manager

BIN = Path(sys.executable).parent
MPREMOTE = str(BIN / "mpremote")
BOARD = load_board("virtual-unix")


def mpr(port: str, *args: str, timeout: float = 30.0) -> subprocess.CompletedProcess:
    """One mpremote invocation with a deadline (a dead board must fail the test, not hang it)."""
    return subprocess.run([MPREMOTE, "connect", port, *args], capture_output=True, timeout=timeout)


def text(p: subprocess.CompletedProcess) -> str:
    assert p.returncode == 0, (p.returncode, p.stdout, p.stderr)
    return p.stdout.decode().replace("\r\n", "\n")


def wait_for(predicate, timeout: float = 10.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def alive(pid: int | None) -> bool:
    return manager.pid_alive(pid)


class Console:
    """A raw byte view of the port, as a terminal or a protocol host sees it."""

    def __init__(self, url: str) -> None:
        self.port = serial.serial_for_url(url, timeout=0.05)
        self.seen = b""

    def send(self, data: bytes) -> None:
        self.port.write(data)

    def expect(self, want: bytes, timeout: float = 10.0) -> bytes:
        deadline = time.monotonic() + timeout
        while want not in self.seen:
            if time.monotonic() > deadline:
                raise AssertionError(f"did not see {want!r}; got {self.seen[-400:]!r}")
            self.seen += self.port.read(4096)
        head, _, self.seen = self.seen.partition(want)
        return head + want

    def close(self) -> None:
        self.port.close()


@pytest.fixture
def console(virtual_board_offline):
    c = Console(virtual_board_offline.port_url)
    yield c
    c.send(b"\r\x03\r\x02")  # leave the board in the friendly REPL for the next user
    c.close()


# --- mpremote ------------------------------------------------------------------------------------


def test_exec_print(virtual_board_offline) -> None:
    p = mpr(virtual_board_offline.port_url, "exec", "print(1+1)")
    assert p.stdout == b"2\r\n"  # cooked to CRLF, as on hardware
    assert p.returncode == 0
    raw = mpr(virtual_board_offline.port_url, "exec", "import sys; sys.stdout.buffer.write(b'a\\nb')")
    assert raw.stdout == b"a\nb"  # binary output is not cooked


def test_traceback_looks_like_hardware(virtual_board_offline) -> None:
    p = mpr(virtual_board_offline.port_url, "exec", "def f():\n    return 1 // 0\n\nf()\n")
    assert p.returncode == 1
    err = p.stdout.decode()  # mpremote prints the board's traceback on its stdout
    assert 'File "<stdin>", line 4, in <module>' in err and 'File "<stdin>", line 2, in f' in err
    assert "ZeroDivisionError" in err and "vboard" not in err


def test_fs_cp_both_ways_binary_exact(virtual_board_offline, tmp_path: Path) -> None:
    data = os.urandom(20000) + bytes(range(256))  # includes 0x03/0x04: never a Ctrl-C on this path
    src = tmp_path / "blob.bin"
    src.write_bytes(data)
    back = tmp_path / "back.bin"
    url = virtual_board_offline.port_url
    text(mpr(url, "fs", "cp", str(src), ":blob.bin"))
    assert (Path(virtual_board_offline.flash_dir) / "blob.bin").read_bytes() == data  # the board's flash
    text(mpr(url, "fs", "cp", ":blob.bin", str(back)))
    assert back.read_bytes() == data


def test_run_file(virtual_board_offline, tmp_path: Path) -> None:
    script = tmp_path / "hello.py"
    script.write_text("import sys\nprint('ran', sys.implementation.name, 6 * 7)\n")
    assert text(mpr(virtual_board_offline.port_url, "run", str(script))) == "ran micropython 42\n"


def test_globals_persist_then_soft_reset_clears_them(virtual_board_offline) -> None:
    before = virtual_board_offline.state()
    out = text(mpr(virtual_board_offline.port_url, "exec", "x = 5", "exec", "print(x)", "soft-reset",
                   "exec", "print('x' in globals())"))
    assert out == "5\nFalse\n"
    after = virtual_board_offline.state()
    # Every soft reset is a fresh interpreter process (mpremote resets at start and on `soft-reset`).
    assert after["soft_resets"] >= before["soft_resets"] + 2
    assert after["board_pid"] != before["board_pid"]


def test_machine_soft_reset(virtual_board_offline) -> None:
    reset = "import machine; machine.soft_reset()"
    out = text(mpr(virtual_board_offline.port_url, "exec", "y = 1", "exec", reset,
                   "exec", "print('y' in globals())"))
    assert out == "False\n"


def test_mount_and_import(virtual_board_offline, tmp_path: Path) -> None:
    (tmp_path / "mounted_mod.py").write_text("VALUE = 'from the host'\n")
    blob = bytes(range(256)) * 8  # 0x03 bytes travel while the board has kbd_intr(-1): no SIGINT
    (tmp_path / "blob.bin").write_bytes(blob)
    code = ("import mounted_mod; print(mounted_mod.VALUE)\n"
            "import hashlib, binascii\n"
            "print(binascii.hexlify(hashlib.sha256(open('blob.bin', 'rb').read()).digest()).decode())\n")
    out = text(mpr(virtual_board_offline.port_url, "mount", str(tmp_path), "exec", code))
    import hashlib

    assert out.splitlines()[-2:] == ["from the host", hashlib.sha256(blob).hexdigest()]


def test_large_script_via_raw_paste(virtual_board_offline, tmp_path: Path) -> None:
    # ~100 KB of source: long comment lines and a 45 KB literal, cheap to compile in a 512 KB heap.
    payload = "ab3" * 15000
    lines = ["n = 0"] + ["# " + "c" * 96 for _ in range(550)] + ["n += 1"] * 100
    lines.append(f"s = '{payload}'")
    lines.append("print(n, len(s), s[-6:])")
    script = tmp_path / "big.py"
    script.write_text("\n".join(lines) + "\n")
    assert script.stat().st_size > 100_000
    assert text(mpr(virtual_board_offline.port_url, "run", str(script), timeout=60)) == "100 45000 ab3ab3\n"


def test_ctrl_c_interrupts_busy_board(virtual_board_offline) -> None:
    url = virtual_board_offline.port_url
    with pytest.raises(subprocess.TimeoutExpired):
        mpr(url, "exec", "while True:\n    pass\n", timeout=3)  # the board is left busy
    # The next connection's Ctrl-C must reach the busy interpreter (SIGINT relay), then exec works.
    assert text(mpr(url, "exec", "print('alive')", timeout=20)) == "alive\n"


def test_socket_url(virtual_board_offline) -> None:
    url = virtual_board_offline.socket_url
    assert url and url.startswith("socket://127.0.0.1:")
    assert text(mpr(url, "exec", "print(sum(range(10)))")) == "45\n"


def test_heapsize_of_a_modified_board_object() -> None:
    import dataclasses

    # (small, but room for the interpreter to compile vboard.py itself: ~132 KiB at least; the smallest board
    # file, virtual-wipy, has 208 KiB)
    small = dataclasses.replace(BOARD, heapsize="160k", description="Tiny test board")
    with VirtualBoard(small, network=False) as vb:
        out = text(mpr(vb.port_url, "exec", "import gc; gc.collect(); print(gc.mem_free() + gc.mem_alloc())"))
        assert 0.9 * 160 * 1024 <= int(out) <= 160 * 1024


def test_heap_from_board_file(virtual_board_offline) -> None:
    out = text(mpr(virtual_board_offline.port_url, "exec",
                   "import gc; gc.collect(); print(gc.mem_free() + gc.mem_alloc())"))
    size = 512 * 1024
    assert BOARD.heapsize == "512k"
    assert 0.9 * size <= int(out) <= size


# --- the byte protocol and the friendly REPL (pyserial) -------------------------------------------


def test_raw_repl_bytes(console: Console) -> None:
    console.send(b"\r\x03\r\x01")
    console.expect(b"raw REPL; CTRL-B to exit\r\n>")
    console.send(b"print(1)\x04")
    console.expect(b"OK1\r\n\x04\x04>")
    console.send(b"1/0\x04")
    err = console.expect(b"\x04>")
    assert err.startswith(b"OK\x04Traceback") and b"ZeroDivisionError: divide by zero\r\n\x04>" in err
    console.send(b"\x05A\x01")  # raw-paste: window 128, then one extra window
    console.expect(b"R\x01\x80\x00\x01")
    console.send(b"print(123)\x04")
    console.expect(b"\x04123\r\n\x04\x04>")
    console.send(b"\x04")  # empty buffer: soft reset, back in raw mode
    console.expect(b"OK\r\nMPY: soft reboot\r\nraw REPL; CTRL-B to exit\r\n>")
    # Bytes sent while the interpreter restarts are not lost: the next program is already queued.
    console.send(b"z = 1\x04\x04print('z' in globals())\x04")
    console.expect(b"OK\x04\x04>OK\r\nMPY: soft reboot\r\nraw REPL; CTRL-B to exit\r\n>OKFalse\r\n\x04\x04>")
    console.send(b"\x02")
    console.expect(b'Type "help()" for more information.\r\n>>> ')


def test_friendly_repl(console: Console) -> None:
    console.send(b"\r\x03\r\x02")
    banner = console.expect(b'Type "help()" for more information.\r\n>>> ')
    desc = re.escape(BOARD.description.encode())
    pattern = rb"MicroPython v1\.\d+\.\d+\S* on \d{4}-\d\d-\d\d; " + desc + rb" with \S+\r\n"
    assert re.search(pattern, banner), banner
    console.send(b"1+2\r")
    console.expect(b"1+2\r\n3\r\n>>> ")
    console.send(b"12\x7f3\r")  # backspace erases on screen
    console.expect(b"12\x08 \x083\r\n13\r\n>>> ")
    console.send(b"for i in range(2):\r")
    console.expect(b"... ")
    console.send(b"  print(i * 5)\r")
    console.expect(b"... ")
    console.send(b"\r")
    console.expect(b"0\r\n5\r\n>>> ")
    console.send(b"abc\x03")  # Ctrl-C drops the line
    console.expect(b"abc\r\n>>> ")
    console.send(b"\x05")
    console.expect(b"paste mode; Ctrl-C to cancel, Ctrl-D to finish\r\n=== ")
    console.send(b"a = 7\rprint(a * 6)\r\x04")
    console.expect(b"42\r\n>>> ")
    console.send(b"while True: pass\r\r")
    console.expect(b"while True: pass\r\n... \r\n")
    time.sleep(0.3)
    console.send(b"\x03")
    console.expect(b"KeyboardInterrupt: \r\n>>> ")
    console.send(b"\x04")  # Ctrl-D: soft reboot, friendly banner again
    console.expect(b"MPY: soft reboot\r\nMicroPython v")
    console.expect(b">>> ")
    console.send(b"print('a' in globals())\r")
    console.expect(b"False\r\n>>> ")


# --- boards of their own (state, resets, life cycle) ----------------------------------------------


def test_boot_py_always_main_py_only_in_friendly_mode(tmp_path: Path) -> None:
    flash = tmp_path / "flash"
    flash.mkdir()
    (flash / "boot.py").write_text("booted = 'yes'\nprint('BOOT-RAN')\n")
    (flash / "main.py").write_text("print('MAIN-RAN')\nfrom_main = 1\n")
    with VirtualBoard(BOARD, network=False, flash_dir=flash) as vb:
        # mpremote soft-resets in raw mode: boot.py runs, main.py does not.
        assert text(mpr(vb.port_url, "exec", "print(booted, 'from_main' in globals())")) == "yes False\n"
        c = Console(vb.port_url)
        try:
            c.send(b"\r\x03\r\x02")
            c.expect(b">>> ")
            c.send(b"\x04")
            c.expect(b"MPY: soft reboot\r\nBOOT-RAN\r\nMAIN-RAN\r\nMicroPython v")
            c.expect(b">>> ")
            c.send(b"print(from_main, booted)\r")
            c.expect(b"1 yes\r\n>>> ")
        finally:
            c.close()


def test_crash_restarts_and_is_reported(tmp_path: Path) -> None:
    with VirtualBoard(BOARD, network=False) as vb:
        assert text(mpr(vb.port_url, "exec", "print('before')")) == "before\n"
        first = vb.board_pid
        os.kill(first, signal.SIGKILL)
        wait_for(lambda: vb.crash_count() == 1 and vb.board_pid not in (None, first), what="restart")
        assert "CRASH #1" in vb.log_path.read_text()
        assert text(mpr(vb.port_url, "exec", "print('after')")) == "after\n"
        assert not alive(first)


def test_hard_reset_is_a_fresh_interpreter() -> None:
    with VirtualBoard(BOARD, network=False) as vb:
        first = vb.board_pid
        vb.hard_reset()
        assert vb.board_pid != first and vb.crash_count() == 0
        assert text(mpr(vb.port_url, "exec", "print('ok')")) == "ok\n"


def test_sigterm_leaves_nothing(tmp_path: Path) -> None:
    vb = VirtualBoard(BOARD, network=False, tcp=True).start()
    try:
        sup, board_pid = vb.pid, vb.board_pid
        link, state_file = Path(vb.port_url), manager.paths(vb.name)["state"]
        assert link.is_symlink() and state_file.exists() and alive(board_pid)
        os.kill(sup, signal.SIGTERM)
        vb._proc.wait(10)
        wait_for(lambda: not alive(board_pid), what="interpreter exit")
        assert not link.is_symlink() and not link.exists() and not state_file.exists()
    finally:
        vb.close()


def test_supervisor_killed_takes_the_interpreter_with_it() -> None:
    vb = VirtualBoard(BOARD, network=False).start()
    try:
        board_pid = vb.board_pid
        os.kill(vb.pid, signal.SIGKILL)
        vb._proc.wait(10)
        wait_for(lambda: not alive(board_pid), what="interpreter death (PDEATHSIG)")
    finally:
        vb.close()  # removes what the killed supervisor left
    assert not Path(vb.port_url).is_symlink() and not manager.paths(vb.name)["state"].exists()


def test_model_dir_shadows_native_modules(tmp_path: Path) -> None:
    (tmp_path / "socket.py").write_text("MODEL = 'port model'\n")
    with VirtualBoard(BOARD, network=False, model_dir=tmp_path) as vb:
        assert text(mpr(vb.port_url, "exec", "import socket; print(socket.MODEL)")) == "port model\n"


def test_missing_interpreter_is_a_clear_error(monkeypatch, tmp_path: Path) -> None:
    from host_harness.errors import HilError

    monkeypatch.setenv("MICROPYTHON", str(tmp_path / "no-such-micropython"))
    with pytest.raises(HilError, match="MICROPYTHON=.*not an executable"):
        VirtualBoard(BOARD, network=False).start()


# --- network namespace --------------------------------------------------------------------------


def test_board_socket_reaches_host_peer_by_address(virtual_board_networked) -> None:
    vb = virtual_board_networked
    srv = vb.netns.host_socket()
    srv.settimeout(20)
    got = {}
    try:
        srv.bind((vb.host_ip, 0))
        srv.listen(1)
        port = srv.getsockname()[1]

        def serve() -> None:
            conn, addr = srv.accept()
            with conn:
                got["peer"] = addr[0]
                got["data"] = conn.recv(64)
                conn.sendall(got["data"].upper())

        t = threading.Thread(target=serve, daemon=True)
        t.start()
        code = ("import socket\n"
                "s = socket.socket()\n"
                f"s.connect(socket.getaddrinfo('{vb.host_ip}', {port})[0][-1])\n"
                "s.send(b'ping from board')\n"
                "print(s.recv(64))\n"
                "s.close()\n")
        assert text(mpr(vb.port_url, "exec", code)) == "b'PING FROM BOARD'\n"
        t.join(10)
        assert got == {"peer": vb.board_ip, "data": b"ping from board"}
    finally:
        srv.close()


# --- CLI ------------------------------------------------------------------------------------------


def test_cli_up_list_down_round_trip(tmp_path: Path) -> None:
    from host_harness.netns import netns_support

    env = {**os.environ, "USOCKET_HIL_STATE": str(tmp_path)}
    cli = [str(BIN / "usocket-hil"), "virtual"]
    network = netns_support()[0]
    up = subprocess.run([*cli, "up", "--name", "clitest", "--tcp", "--json"]
                        + ([] if network else ["--no-network"]), env=env, capture_output=True, timeout=60)
    assert up.returncode == 0, up.stderr
    state = json.loads(up.stdout)
    try:
        assert state["name"] == "clitest" and Path(state["port_url"]).is_symlink()
        assert bool(state["board_ip"]) == network
        assert text(mpr(state["port_url"], "exec", "print('cli')")) == "cli\n"
        listed = json.loads(subprocess.run([*cli, "list", "--json"], env=env, capture_output=True,
                                           timeout=30).stdout)
        assert [(b["name"], b["alive"]) for b in listed] == [("clitest", True)]
        again = subprocess.run([*cli, "up", "--name", "clitest", "--no-network"], env=env,
                               capture_output=True, timeout=60)
        assert again.returncode != 0 and b"already running" in again.stderr
    finally:
        down = subprocess.run([*cli, "down", "clitest"], env=env, capture_output=True, timeout=60)
    assert down.returncode == 0, down.stderr
    assert not alive(state["pid"]) and not alive(state["board_pid"])
    assert not Path(state["port_url"]).is_symlink() and not (tmp_path / "clitest.json").exists()
    for ns in state["netns"] or []:
        assert not Path("/run/netns", ns).exists()
    empty = subprocess.run([*cli, "list"], env=env, capture_output=True, timeout=30)
    assert b"no virtual boards" in empty.stdout
    bad = subprocess.run([*cli, "down", "nosuch"], env=env, capture_output=True, timeout=30)
    assert bad.returncode != 0 and bad.stderr.count(b"\n") == 1 and b"no virtual board named" in bad.stderr


def test_socket_is_loopback_only(virtual_board_offline) -> None:
    host, port = virtual_board_offline.socket_url.removeprefix("socket://").rsplit(":", 1)
    assert host == "127.0.0.1"
    with socket.create_connection((host, int(port)), timeout=5):
        pass


def test_owner_killed_leaves_nothing(tmp_path: Path) -> None:
    # The process holding a VirtualBoard dies with SIGKILL (no atexit): the supervisor notices, stops the
    # interpreter and removes its files; the namespace reaper removes the pair.
    from host_harness.netns import netns_support

    network = netns_support()[0]
    code = ("import json, sys, time\n"
            "from host_harness.virtual import VirtualBoard\n"
            f"vb = VirtualBoard('virtual-unix', network={network}).start()\n"
            "print(json.dumps(vb.state()), flush=True)\n"
            "time.sleep(60)\n")
    env = {**os.environ, "USOCKET_HIL_STATE": str(tmp_path)}
    owner = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, env=env)
    try:
        state = json.loads(owner.stdout.readline())
    finally:
        owner.kill()
        owner.wait(10)
        owner.stdout.close()
    wait_for(lambda: not alive(state["pid"]) and not alive(state["board_pid"]), timeout=15,
             what="supervisor and interpreter exit")
    assert not Path(state["port_url"]).is_symlink() and not (tmp_path / f"{state['name']}.json").exists()
    # its log and default flash folder too: the owner that would have removed them is gone (trial 5 F17)
    wait_for(lambda: not list(tmp_path.glob(f"{state['name']}*")), timeout=15, what="the board's files removed")
    wait_for(lambda: not any(Path("/run/netns", ns).exists() for ns in state["netns"] or []), timeout=15,
             what="namespace reaper")


def test_board_file_model_is_loaded_from_models_dir(tmp_path: Path, monkeypatch) -> None:
    import dataclasses

    from host_harness.errors import HilError

    modeled = dataclasses.replace(BOARD, model="fake-port")
    monkeypatch.setattr(manager, "MODELS_DIR", tmp_path)
    with pytest.raises(HilError, match="port model 'fake-port'"):
        VirtualBoard(modeled, network=False).start()
    (tmp_path / "fake-port").mkdir()
    (tmp_path / "fake-port" / "socket.py").write_text("MODEL = 'fake'\n")
    with VirtualBoard(modeled, network=False) as vb:
        assert text(mpr(vb.port_url, "exec", "import socket; print(socket.MODEL)")) == "fake\n"
