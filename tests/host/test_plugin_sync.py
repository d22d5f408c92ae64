"""The sync channel on loopback: the host SyncServer against the board-side hilsync module, run both in
CPython (in-process) and in the real MicroPython unix interpreter (a subprocess)."""

from __future__ import annotations

import importlib.util
import os
import shutil
import socket
import subprocess
import threading
from pathlib import Path

import pytest

from host_harness.plugin import layout
from host_harness.plugin.sync import SyncServer, recv_frame, send_frame
from host_harness.transport.result import SyncTimeout

HILSYNC = layout.DEVICE_HELPERS / "hilsync.py"


@pytest.fixture
def server():
    srv = SyncServer("127.0.0.1")
    srv.begin("tok-1")
    yield srv
    srv.close()


@pytest.fixture
def hilsync():
    # A private copy of the module: its connection state is module-global, as on a board.
    spec = importlib.util.spec_from_file_location("hilsync_under_test", HILSYNC)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    yield mod
    mod.close()


def test_publish_and_wait_both_ways_in_any_order(server: SyncServer, hilsync) -> None:
    hilsync.configure(*server.address, "tok-1")
    hilsync.publish("a", 1)
    hilsync.publish("b", {"x": [1, "two"]})
    hilsync.publish("a", 2)
    # Names are independent queues: waiting for "b" first loses nothing published under "a".
    assert server.wait("b", 1) == {"x": [1, "two"]}
    assert server.wait("a", 1) == 1
    assert server.wait("a", 1) == 2
    server.publish("go", "now")
    assert hilsync.wait("go", 1000) == "now"


def test_board_wait_blocks_until_host_publishes(server: SyncServer, hilsync) -> None:
    hilsync.configure(*server.address, "tok-1")
    timer = threading.Timer(0.2, server.publish, args=("late", 5))
    timer.start()
    try:
        assert hilsync.wait("late", 5000) == 5
    finally:
        timer.cancel()


def test_timeouts_on_both_sides(server: SyncServer, hilsync) -> None:
    hilsync.configure(*server.address, "tok-1")
    with pytest.raises(OSError) as err:
        hilsync.wait("never", 100)
    assert err.value.args[0] == hilsync._ETIMEDOUT
    hilsync.publish("still-works", True)  # a timed-out wait leaves the connection usable
    assert server.wait("still-works", 1) is True
    with pytest.raises(SyncTimeout, match=r"did not publish 'nope' within 0.1 s \(pending from board: x\)"):
        server.publish("unrelated", 0)
        hilsync.publish("x", 1)
        server.wait("nope", 0.1)


def test_stale_token_is_refused_and_begin_clears_state(server: SyncServer, hilsync) -> None:
    hilsync.configure(*server.address, "tok-old")
    with pytest.raises(RuntimeError, match="stale token"):
        hilsync.publish("a", 1)
    hilsync.configure(*server.address, "tok-1")
    hilsync.publish("a", 1)
    server.begin("tok-2")  # next test: values and connections of the previous one are gone
    with pytest.raises(SyncTimeout):
        server.wait("a", 0.05)
    with pytest.raises(OSError):
        hilsync.publish("a", 2)  # its connection was dropped; the token no longer matches either


def test_unconfigured_board_gets_a_clear_error(hilsync) -> None:
    with pytest.raises(RuntimeError, match="request the `sync` fixture"):
        hilsync.publish("a", 1)


def test_garbage_frames_do_not_break_the_server(server: SyncServer, hilsync) -> None:
    with socket.create_connection(server.address, timeout=2) as raw:
        raw.sendall(b"\xff\xff\xff\xffjunk")  # absurd length: the server drops this connection
        try:
            assert raw.recv(10) == b""
        except ConnectionResetError:
            pass  # closed with our "junk" unread: the kernel answers with RST instead of FIN
    with socket.create_connection(server.address, timeout=2) as raw:
        send_frame(raw, {"id": 1, "op": "publish", "name": "a", "value": 1})  # no hello first
        assert recv_frame(raw) == {"id": 1, "ok": False, "error": "not greeted for the current test"}
    hilsync.configure(*server.address, "tok-1")
    hilsync.publish("a", 3)
    assert server.wait("a", 1) == 3


def test_host_publish_rejects_values_that_cannot_travel(server: SyncServer) -> None:
    with pytest.raises(TypeError):
        server.publish("x", object())


def _micropython() -> str | None:
    exe = os.environ.get("MICROPYTHON") or shutil.which("micropython")
    if exe is None:
        venv_bin = Path(os.sys.executable).parent / "micropython"
        exe = str(venv_bin) if venv_bin.exists() else None
    return exe


def test_real_micropython_client(server: SyncServer, tmp_path: Path) -> None:
    exe = _micropython()
    if exe is None:
        pytest.skip("no micropython binary (set MICROPYTHON=/path/to/micropython)")
    host, port = server.address
    script = (
        f"import sys\nsys.path.insert(0, {str(HILSYNC.parent)!r})\nimport hilsync\n"
        f"hilsync.configure({host!r}, {port}, 'tok-1')\n"
        "hilsync.publish('hello', [1, 'x', None])\n"
        "v = hilsync.wait('reply', 5000)\n"
        "hilsync.publish('echo', v)\n"
        "try:\n    hilsync.wait('never', 100)\n"
        "except OSError as e:\n    hilsync.publish('timeout', e.args[0])\n"
    )
    proc = subprocess.Popen([exe, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        assert server.wait("hello", 10) == [1, "x", None]
        server.publish("reply", {"n": 42})
        assert server.wait("echo", 10) == {"n": 42}
        assert server.wait("timeout", 10) == 110  # ETIMEDOUT
        out, _ = proc.communicate(timeout=10)
        assert proc.returncode == 0, out
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
