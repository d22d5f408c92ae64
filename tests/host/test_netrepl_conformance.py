"""The conformance suite end to end over a network REPL: virtual-wipy over telnet (deploy over FTP),
virtual-esp32 over WebREPL -- as `usocket-hil test --board B --port URL --peer-host IP` runs it."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from netrepl_helpers import esp32_webrepl_board, telnet_url, webrepl_url, wipy_board

BIN = Path(sys.executable).parent


def run_suite(board: str, url: str, host_ip: str | None, reports: Path) -> subprocess.CompletedProcess[str]:
    peer_host = ["--peer-host", host_ip] if host_ip else []
    return subprocess.run([str(BIN / "usocket-hil"), "test", "--board", board, "--port", url, *peer_host,
                           "--report-dir", str(reports)], capture_output=True, text=True, timeout=600)


def test_the_suite_over_telnet_with_deploy_over_ftp(tmp_path: Path) -> None:
    with wipy_board() as vb:
        # No --peer-host: the board layer takes the host IP of the virtual board whose namespace the URL names.
        r = run_suite("virtual-wipy", telnet_url(vb), None, tmp_path)
        assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-2000:]
        assert re.search(r"virtual-wipy: \d+ clauses pass, 0 fail", r.stdout), r.stdout[-3000:]
        assert "| `ext.ipproto-sec.verify` | pass |" in r.stdout  # with the CA installed over FTP
        assert (vb.flash_dir / "lib" / "usocket_port" / "__init__.mpy").is_file()  # .mpy bytecode (boards/wipy1.toml)
        log = (tmp_path / "board-logs" / "virtual-wipy" / "session.log").read_text()
        assert f"on {telnet_url(vb)}" in log


def test_the_suite_over_webrepl(tmp_path: Path) -> None:
    with esp32_webrepl_board(tmp_path / "flash") as vb:
        r = run_suite("virtual-esp32", webrepl_url(vb), vb.host_ip, tmp_path / "reports")
        assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-2000:]
        assert re.search(r"virtual-esp32: \d+ clauses pass, 0 fail", r.stdout), r.stdout[-3000:]
