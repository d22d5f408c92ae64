"""Golden-output tests: what `boards`, `virtual list`, `flash` and the clause report print, byte for byte.

Expected files live in tests/host/golden/ (README there; regenerate with USOCKET_HIL_UPDATE_GOLDEN=1).
Everything runs for real: the CLI's own entry point, real virtual boards, esptool against the real
esp32-mock-bootloader.  What changes between runs is pinned first (attached ports, the virtual boards'
pty paths, TCP ports and IPs in their state files) or replaced afterwards by a placeholder.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from golden_files import check_golden
from serial.tools.list_ports_common import ListPortInfo

from host_harness.boards import load_board
from host_harness.cli import main as cli_main
from host_harness.flash import FlashResult
from host_harness.flash.identity import read_identity
from host_harness.flash.mockboot import MockBootloader
from host_harness.flash.summary import failure_line, progress_stage, summary_line
from host_harness.netns import netns_support
from host_harness.report import build_table, render_markdown
from host_harness.virtual import VirtualBoard, manager

# ---- attached ports: pyserial's own ListPortInfo, filled as comports() fills it on Linux ------------------


def _port(device: str, vid: int | None, pid: int | None, serial: str | None, description: str) -> ListPortInfo:
    info = ListPortInfo(device, skip_link_detection=True)
    info.vid, info.pid, info.serial_number, info.description = vid, pid, serial, description
    return info


ATTACHED = [
    _port("/dev/ttyACM0", 0x239A, 0x811C, "F412FA6F", "Feather ESP32-S3 - CircuitPython CDC control"),
    _port("/dev/ttyUSB0", 0x10C4, 0xEA60, "0001", "CP2102 USB to UART Bridge Controller"),
    _port("/dev/ttyUSB1", 0x1A86, 0x7523, None, "USB Serial"),
    _port("/dev/ttyACM1", 0x04D8, 0xEF98, "DQ00QPSC", "Expansion3"),
    _port("/dev/ttyUSB2", 0x0403, 0x6001, "A50285BI", "FT232R USB UART"),
    _port("/dev/ttyS0", None, None, None, "ttyS0"),
]

# ---- three real virtual boards: up, up in a namespace with TCP, and one whose supervisor was killed -------

FLEET = (("vb1", "virtual-unix", ["--no-network"]),
         ("vb2", "virtual-circuitpython", ["--tcp"]),
         ("vb10", "virtual-esp32", ["--no-network"]))
STALE = "vb10"


def _pin_state(state_dir: Path, name: str, index: int) -> None:
    """Replace what differs per run (pty path, TCP port, namespace IPs) with fixed values of the same kind."""
    path = state_dir / f"{name}.json"
    data = json.loads(path.read_text())
    data["port_url"] = f"/tmp/usocket-hil-0/{name}.tty"
    if data.get("socket_url"):
        data["socket_url"] = f"socket://127.0.0.1:{40000 + index}"
    if data.get("board_ip"):
        data["board_ip"], data["host_ip"] = f"10.213.0.{4 * index + 2}", f"10.213.0.{4 * index + 1}"
    manager_tmp = path.with_name(path.name + ".pin")
    manager_tmp.write_text(json.dumps(data, indent=2))
    os.replace(manager_tmp, path)


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    ok, why = netns_support()
    if not ok:
        pytest.skip(f"the networked virtual board needs network namespaces: {why}")
    state = tmp_path_factory.mktemp("state")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("USOCKET_HIL_STATE", str(state))
        try:
            for index, (name, board, extra) in enumerate(FLEET):
                assert cli_main(["virtual", "up", "--board", board, "--name", name, *extra]) == 0
                _pin_state(state, name, index)
            stale = manager.read_state(STALE)
            os.kill(stale["pid"], signal.SIGKILL)  # its interpreter dies with it (PDEATHSIG)
            deadline = time.monotonic() + 10  # not our child (`virtual up` detaches it): init reaps it
            while manager.pid_alive(stale["pid"]) and time.monotonic() < deadline:
                time.sleep(0.02)
            yield state
        finally:
            for name, _, _ in FLEET:
                if manager.read_state(name) is not None or manager.paths(name)["tty"].is_symlink():
                    manager.stop(name)


@pytest.fixture
def attached(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("serial.tools.list_ports.comports", lambda *a, **k: list(ATTACHED))


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    assert cli_main(list(argv)) == 0
    out, err = capsys.readouterr()
    assert err == ""
    return out


def test_boards_text(fleet: Path, attached: None, monkeypatch, capsys) -> None:
    monkeypatch.setenv("USOCKET_HIL_STATE", str(fleet))
    check_golden("boards.txt", _run(capsys, "boards"))


def test_boards_json(fleet: Path, attached: None, monkeypatch, capsys) -> None:
    monkeypatch.setenv("USOCKET_HIL_STATE", str(fleet))
    out = _run(capsys, "boards", "--json")
    head, sep, virtual = out.partition('"virtual": [')
    assert sep, out
    # Process ids only in the virtual part ("pid" is also a USB product id above it).
    virtual = re.sub(r'"pid": \d+', '"pid": "<pid>"', virtual).replace(str(fleet), "<STATE>")
    # Namespace names carry the owner's pid and start time (host_harness/netns/common.py).
    virtual = re.sub(r"uhil-\d+-\d+-\d+-([hb])", r"uhil-<owner>-\1", virtual)
    check_golden("boards.json", head + sep + virtual)


def test_virtual_list(fleet: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("USOCKET_HIL_STATE", str(fleet))
    check_golden("virtual-list.txt", _run(capsys, "virtual", "list"))


# ---- flash: the lines for every outcome, then the CLI against the mock bootloader --------------------------


def _result(outcome: str, *, error: str | None = None, identity: tuple[str, str] | None = None,
            attempts: tuple[str, ...] = ("compressed",), port: str = "/dev/ttyUSB0",
            boot: tuple[str, str] | None = None) -> FlashResult:
    r = FlashResult(board="esp32-devkitc", port=port, outcome=outcome, error=error, attempts=list(attempts),
                    bytes_written=1572864 if outcome == "written" else 0, duration=12.34,
                    log_path="reports/flash/esp32-devkitc-dev-ttyUSB0.log")
    if identity:
        r.identity = {"status": identity[0], "reason": identity[1], "identity": None}
    if boot:
        r.boot = {"status": boot[0], "reason": boot[1], "banner": None}
    return r


IDENT_OK = ("ok", "micropython on 'Generic ESP32 module with ESP32'")
IDENT_BAD = ("mismatch", "sys.implementation.name is 'circuitpython', expected 'micropython'")
IDENT_ERR = ("error", "could not read the board's identity on /dev/ttyUSB0: no raw REPL prompt within 15 s")
IDENT_SKIP = ("skipped", "socket:// port: no reset line to boot the new firmware")
BOOT_OK = ("booted", "booted MicroPython v1.24.1")
BOOT_LOOP = ("not-booting", "boot loop: invalid header: 0xffffffff (then RTCWDT_RTC_RESET)")
BOOT_OTHER = ("mismatch", "the board runs MicroPython v1.20.0, the image is micropython v1.24.1 (Nov 29 2024)")

FLASH_CASES = {
    "written, identity ok": _result("written", identity=IDENT_OK),
    "written after the ladder": _result("written", identity=IDENT_OK,
                                        attempts=("compressed", "uncompressed", "uncompressed at 115200 baud")),
    "written, identity mismatch": _result("written", identity=IDENT_BAD),
    "written, identity skipped": _result("written", identity=IDENT_SKIP, port="socket://127.0.0.1:4000"),
    "written, booted, identity ok": _result("written", identity=IDENT_OK, boot=BOOT_OK),
    "written, boot loop": _result("written", boot=BOOT_LOOP),
    "written, other firmware booted": _result("written", boot=BOOT_OTHER),
    "already in flash": _result("skipped", identity=IDENT_OK),
    "verify only": _result("verified", attempts=("verify",)),
    "identity only, ok": _result("checked", identity=IDENT_OK, attempts=("identity",)),
    "identity only, mismatch": _result("checked", identity=IDENT_BAD, attempts=("identity",)),
    "identity only, error": _result("checked", identity=IDENT_ERR, attempts=("identity",)),
    "failed": _result("failed", error="esp32-devkitc on /dev/ttyUSB0: no ROM bootloader answered after 7 "
                                      "connect attempts; hold BOOT (IO0) and tap EN/RST to enter download mode"),
}


def test_flash_lines_for_every_outcome() -> None:
    blocks = []
    for case, r in FLASH_CASES.items():
        lines = [f"## {case}", f"summary:  {summary_line(r)}", f"progress: {progress_stage(r)}"]
        if not r.ok:
            lines.append(f"failure:  {failure_line(r)}")
        blocks.append("\n".join(lines))
    text = "\n\n".join(blocks) + "\n"
    assert "identity checked" not in text  # the old contradiction: "identity checked; identity error"
    check_golden("flash-summary.txt", text)


@pytest.fixture(scope="module")
def firmware(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from test_flash import build_image

    d = tmp_path_factory.mktemp("golden-fw")
    return {"a": build_image(d / "a.bin", 64 * 1024, 1), "b": build_image(d / "b.bin", 64 * 1024, 2)}


def _flash_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200"}  # rich lays progress lines out for this width off a terminal
    env.pop("NO_COLOR", None)
    return subprocess.run([sys.executable, "-m", "host_harness.cli", "flash", *args], capture_output=True,
                          text=True, timeout=180, env=env, cwd=cwd)


def test_flash_cli_transcript(firmware: dict[str, Path], tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    with MockBootloader("esp32") as mock, MockBootloader("esp32s3") as mock_s3, \
            VirtualBoard(load_board("virtual-unix"), network=False) as vb:
        runs = [
            ("write", ["--board", "esp32-devkitc", "--port", mock.url, str(firmware["a"])]),
            ("identical re-flash", ["--board", "esp32-devkitc", "--port", mock.url, str(firmware["a"])]),
            ("verify a different image", ["--board", "esp32-devkitc", "--port", mock.url, "--verify-only",
                                          str(firmware["b"])]),
            ("wrong chip", ["--board", "esp32-devkitc", "--port", mock_s3.url, str(firmware["a"])]),
            ("identity only, other firmware", ["--board", "esp32-devkitc", "--port", vb.port_url,
                                               "--identity-only"]),
            ("identity only, ok", ["--board", "virtual-unix", "--port", vb.port_url, "--identity-only"]),
        ]
        machine = read_identity(vb.port_url, timeout=20).machine  # the interpreter build's, not ours to pin
        blocks = []
        for title, args in runs:
            p = _flash_cli(*args, "--log-dir", str(logs), cwd=tmp_path)
            blocks.append(f"## {title}: exit {p.returncode}\n-- stdout\n{p.stdout}-- stderr\n{p.stderr}")
        text = "\n".join(blocks)
        slug = re.sub(r"[^A-Za-z0-9]+", "-", vb.port_url).strip("-")
        for value, placeholder in ((str(logs), "<LOGS>"), (vb.port_url, "<VBOARD>"), (slug, "<VBOARD>"),
                                   (f":{mock.port}", ":<PORT>"), (f"-{mock.port}", "-<PORT>"),
                                   (f":{mock_s3.port}", ":<S3PORT>"), (f"-{mock_s3.port}", "-<S3PORT>"),
                                   (machine, "<machine>")):
            text = text.replace(value, placeholder)
    text = re.sub(r"\[\d+\.\d s,", "[<t> s,", text)
    text = re.sub(r"\b\d+:\d\d:\d\d\b", "H:MM:SS", text)  # rich's elapsed-time column
    check_golden("flash-cli.txt", text)


# ---- the clause × target table, from fixed per-test records ------------------------------------------------

CLAUSES = {
    "function.socket": "socket(af, type, proto) creates a socket",
    "socket.settimeout.zero-nonblocking": "settimeout(0) is non-blocking mode",
    "const.IPPROTO_SEC": "IPPROTO_SEC: protocol value for a TLS socket (WiPy)",
    "ext.bulk": "at least 16 MiB of TCP data per direction arrives intact",
    "program.udp-client": "a UDP request/response client written from the seed",
}


def _rec(test: str, outcome: str, clauses: list[str], reason: str = "") -> dict:
    return {"test": test, "outcome": outcome, "clauses": clauses, "reason": reason}


RUNS = {
    "virtual-esp32": [_rec("api.socket", "passed", ["function.socket"]),
                      _rec("timing.nonblocking", "passed", ["socket.settimeout.zero-nonblocking"]),
                      _rec("api.ipproto_sec", "passed", ["const.IPPROTO_SEC"]),
                      _rec("stream.bulk", "failed", ["ext.bulk"], "stream.bulk")],
    "virtual-wipy": [_rec("api.socket", "passed", ["function.socket"]),
                     _rec("timing.nonblocking", "skipped", ["socket.settimeout.zero-nonblocking"],
                          "no float support: sub-second timeouts cannot be expressed"),
                     _rec("api.ipproto_sec", "passed", ["const.IPPROTO_SEC"]),
                     _rec("stream.bulk", "passed", ["ext.bulk"])],
    "cpython": [_rec("api.socket", "passed", ["function.socket"]),
                _rec("timing.nonblocking", "passed", ["socket.settimeout.zero-nonblocking"]),
                _rec("api.ipproto_sec", "skipped", ["const.IPPROTO_SEC"], "no IPPROTO_SEC on this target"),
                _rec("stream.bulk", "passed", ["ext.bulk"])],
}


def test_clause_table() -> None:
    # What `usocket-hil test` prints and writes to reports/conformance.md: pass, FAIL, n/a and untested
    # cells, numbered notes with the skip reason or the failing test.
    check_golden("clause-table.md", render_markdown(build_table(CLAUSES, RUNS), list(RUNS)))
