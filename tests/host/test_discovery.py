"""Board discovery: pyserial ListPortInfo objects matched to board files; virtual boards from state files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from serial.tools.list_ports_common import ListPortInfo

from host_harness.boards import all_boards, parse_board
from host_harness.discovery import (
    match_port,
    match_ports,
    ports_for_board,
    read_virtual_state,
    state_dir,
)
from host_harness.virtual import VirtualBoard

BOARDS = all_boards()


def port(device: str, vid: int | None = None, pid: int | None = None, serial: str | None = None,
         description: str = "") -> ListPortInfo:
    info = ListPortInfo(device, skip_link_detection=True)  # pyserial's real class, filled as comports() does
    info.vid, info.pid, info.serial_number = vid, pid, serial
    info.description = description or device
    return info


def pinned_board() -> object:
    """A board whose [[usb]] entry names a USB serial number (one particular DevKitC on a bench)."""
    return parse_board({
        "board": {"name": "bench-devkitc-3", "description": "the third DevKitC on the bench",
                  "kind": "serial", "target": "esp32", "repl": "usb-uart", "mpy_arch": "xtensawin"},
        "flash": {"chip": "esp32", "size": "4MB", "firmware_offset": 0x1000},
        "usb": [{"vid": 0x10C4, "pid": 0xEA60, "serial": "0001-bench3"}],
    }, "bench-devkitc-3.toml")


def test_unique_vid_pid_matches_one_board():
    m = match_port(port("/dev/ttyACM0", 0x239A, 0x811C, "F412FA6F"), BOARDS)
    assert m.boards == ("circuitpython-esp32s3",) and m.board == "circuitpython-esp32s3"
    assert m.usb_id == "239a:811c" and not m.exact


def test_generic_bridge_is_ambiguous():
    m = match_port(port("/dev/ttyUSB0", 0x10C4, 0xEA60, "0001"), BOARDS)
    assert set(m.boards) == {"esp32-devkitc", "esp32s3-devkitc"}
    assert m.board is None


def test_ch340_and_pycom_expansion_boards():
    assert match_port(port("/dev/ttyUSB1", 0x1A86, 0x7523), BOARDS).board == "esp32-devkitc"
    assert match_port(port("/dev/ttyACM1", 0x04D8, 0xEF98), BOARDS).board == "wipy3"


def test_serial_number_entry_beats_generic_entries():
    boards = [*BOARDS, pinned_board()]
    exact = match_port(port("/dev/ttyUSB2", 0x10C4, 0xEA60, "0001-bench3"), boards)
    assert exact.boards == ("bench-devkitc-3",) and exact.exact
    other = match_port(port("/dev/ttyUSB3", 0x10C4, 0xEA60, "0002"), boards)
    assert "bench-devkitc-3" not in other.boards and "esp32-devkitc" in other.boards


def test_ports_without_usb_ids_match_nothing():
    m = match_port(port("/dev/ttyS0"), BOARDS)
    assert m.boards == () and m.usb_id == "-"
    assert match_port(port("/dev/ttyUSB9", 0x1234, 0x5678), BOARDS).boards == ()


def test_ports_for_board_and_ordering():
    ports = [port("/dev/ttyUSB1", 0x10C4, 0xEA60), port("/dev/ttyACM0", 0x303A, 0x1001),
             port("/dev/ttyS0"), port("/dev/ttyUSB0", 0x1A86, 0x7523)]
    matches = match_ports(ports, BOARDS)
    assert [m.device for m in matches] == sorted(p.device for p in ports)
    devkitc = next(b for b in BOARDS if b.name == "esp32-devkitc")
    s3 = next(b for b in BOARDS if b.name == "esp32s3-devkitc")
    assert ports_for_board(devkitc, matches) == ["/dev/ttyUSB0", "/dev/ttyUSB1"]
    assert ports_for_board(s3, matches) == ["/dev/ttyACM0", "/dev/ttyUSB1"]
    assert json.loads(json.dumps(matches[0].to_json()))["device"] == "/dev/ttyACM0"


def write_states(d: Path) -> None:
    d.mkdir(parents=True, exist_ok=True)
    (d / "vb1.json").write_text(json.dumps({
        "name": "vb1", "board": "virtual-unix", "port_url": "/tmp/x/vb1.pty",
        "socket_url": "socket://127.0.0.1:40001", "board_ip": "10.213.0.2", "pid": os.getpid()}))
    (d / "old.json").write_text(json.dumps({"name": "old", "board": "virtual-unix", "pid": 2 ** 22 + 12345}))
    (d / "half-written.json").write_text('{"name": "x", "pid"')
    (d / "list.json").write_text("[1, 2]")
    (d / "notes.txt").write_text("not a state file")


def test_virtual_state_files_read_defensively(tmp_path):
    write_states(tmp_path)
    entries = {e.name: e for e in read_virtual_state(tmp_path)}
    assert set(entries) == {"vb1", "old"}
    vb1 = entries["vb1"]
    assert (vb1.board, vb1.port_url, vb1.socket_url, vb1.board_ip, vb1.alive) == (
        "virtual-unix", "/tmp/x/vb1.pty", "socket://127.0.0.1:40001", "10.213.0.2", True)
    assert entries["old"].alive is False
    assert read_virtual_state(tmp_path / "missing") == []


def test_state_dir_follows_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("USOCKET_HIL_STATE", str(tmp_path))
    assert state_dir() == tmp_path
    monkeypatch.delenv("USOCKET_HIL_STATE")
    assert state_dir() == Path(f"/tmp/usocket-hil-{os.getuid()}")


def run_boards(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "host_harness.cli", "boards", *args], capture_output=True,
                          text=True, timeout=60, env={**os.environ, **env})


def test_boards_cli_json_end_to_end(tmp_path):
    write_states(tmp_path)
    p = run_boards("--json", env={"USOCKET_HIL_STATE": str(tmp_path)})
    assert p.returncode == 0, p.stderr
    data = json.loads(p.stdout)
    defs = {b["name"]: b for b in data["boards"]}
    assert defs["esp32-devkitc"]["flash"] == {"chip": "esp32", "size": "4MB", "firmware_offset": 0x1000}
    assert defs["wipy1"]["flash"] is None
    assert {"vid": 0x10C4, "pid": 0xEA60, "serial": None} in defs["esp32-devkitc"]["usb"]
    # Whatever serial ports this machine has, each is reported with its candidates.
    from serial.tools import list_ports

    assert sorted(s["device"] for s in data["serial"]) == sorted(p.device for p in list_ports.comports())
    # The manager lists only state files its supervisors wrote (they carry `kind`): none of these.
    assert data["virtual"] == []


def test_boards_cli_text(tmp_path):
    write_states(tmp_path)
    p = run_boards(env={"USOCKET_HIL_STATE": str(tmp_path)})
    assert p.returncode == 0, p.stderr
    assert "Board definitions:" in p.stdout and "Serial ports:" in p.stdout and "Virtual boards:" in p.stdout
    assert "esp32-devkitc" in p.stdout


def test_running_virtual_board_is_listed(tmp_path, monkeypatch):
    from host_harness.boards import load_board

    monkeypatch.setenv("USOCKET_HIL_STATE", str(tmp_path))
    with VirtualBoard(load_board("virtual-unix"), network=False) as vb:
        p = run_boards("--json", env={"USOCKET_HIL_STATE": str(tmp_path)})
        assert p.returncode == 0, p.stderr
        listed = json.loads(p.stdout)["virtual"]
        assert any(v["port_url"] == vb.port_url for v in listed), listed
