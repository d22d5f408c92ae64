"""Options checked up front (trial report items 5 and 12): a bad value is one line and exit 2 (the plugin: a
pytest usage error, one line) before any board is touched or any test runs.  Each test failed before its fix."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from host_harness.resources import device_tests_dir

CLI = str(Path(sys.executable).with_name("usocket-hil"))


def hil(*args: str, timeout: float = 120, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([CLI, *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **env})


def one_line(p: subprocess.CompletedProcess, code: int = 2) -> str:
    lines = [ln for ln in p.stderr.splitlines() if ln.strip()]
    assert p.returncode == code and len(lines) == 1, (p.returncode, p.stdout[-2000:], p.stderr[-2000:])
    assert "Traceback" not in p.stdout + p.stderr
    return lines[0]


@pytest.mark.parametrize(("value", "says"), [
    ("192.0.2.7", "no interface of this host has that address"),  # TEST-NET-1: no interface here has it
    ("999.1.1.1", "not a numeric IP address"),  # was looked up as a host name (gaierror -2)
    ("board.local", "not a numeric IP address"),
])
def test_test_refuses_a_bad_peer_host_before_any_board(tmp_path: Path, value: str, says: str) -> None:
    p = hil("test", "--board", "esp32-devkitc", "--port", "/dev/null", "--peer-host", value,
            "--report-dir", str(tmp_path))
    line = one_line(p)
    assert says in line and "--peer-host" in line, line
    assert p.stdout == ""  # nothing ran: no board heading, no table


def test_test_refuses_a_peer_host_it_would_ignore(tmp_path: Path) -> None:
    line = one_line(hil("test", "--board", "virtual-unix", "--peer-host", "127.0.0.1", "--report-dir",
                        str(tmp_path)))
    assert "--peer-host is not used with virtual-unix" in line, line


@pytest.mark.parametrize(("option", "value", "says"), [
    ("--peer-host", "999.1.1.1", "not a numeric IP address"),
    ("--peer-host", "192.0.2.7", "no interface of this host has that address"),
    ("--board-ip", "abc", "--board-ip 'abc' is not a numeric IP address"),
])
def test_plugin_refuses_bad_addresses_as_one_usage_line(tmp_path: Path, option: str, value: str,
                                                         says: str) -> None:
    extra = [] if option == "--peer-host" else ["--peer-host", "127.0.0.1"]
    p = subprocess.run([sys.executable, "-m", "pytest", str(device_tests_dir()), "-p", "no:cacheprovider",
                        "-qq", "--rootdir", str(device_tests_dir()), "--board", "esp32-devkitc", "--port",
                        "/dev/null", option, value, *extra, f"--board-log-dir={tmp_path}"],
                       capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert p.returncode == pytest.ExitCode.USAGE_ERROR, p.stdout[-2000:] + p.stderr[-2000:]
    assert says in p.stderr and "Traceback" not in p.stdout + p.stderr, p.stderr
    assert "PeerError" not in p.stdout + p.stderr and "gaierror" not in p.stdout + p.stderr


@pytest.mark.parametrize(("args", "says"), [
    (["--place-wait", "-5"], "argument --place-wait: must be a number of seconds >= 0, got -5"),
    (["--place-wait", "nan"], "argument --place-wait: must be a number of seconds >= 0, got nan"),
    (["--pool", "100000"], f"argument --pool: must be at most {4 * (os.cpu_count() or 1)} (4 boards per CPU"),
    # given twice, the first would be dropped (argparse: the last wins) and the run still green
    (["--place", "a", "--place", "b"], "--place is given once; several places: tag them and use --place-tag"),
    (["--port", "rfc2217://127.0.0.1:1", "--board", "virtual-unix", "--port", "rfc2217://127.0.0.1:2"],
     "--port is given once; several boards on ports"),
    # options that would do nothing, and one said before a place is acquired (trial 5 F21)
    (["--place-wait", "5"], "--place-wait is for labgrid places: add --place NAME or --place-tag"),
    (["--coordinator", "127.0.0.1:1"], "--coordinator is for labgrid places"),
    (["--place", "x", "--pool", "2"], "--place is one board: for --pool N boards use --place-tag"),
])
def test_test_refuses_bad_numbers_where_they_are_parsed(tmp_path: Path, args: list[str], says: str) -> None:
    p = hil("test", "--board", "virtual-unix", *args, "--report-dir", str(tmp_path), timeout=30)
    assert p.returncode == 2 and says in p.stderr and p.stdout == "", p.stderr


def test_exec_with_a_board_id_and_another_port_says_where_the_board_is(tmp_path: Path) -> None:
    env = {"USOCKET_HIL_STATE": str(tmp_path)}
    assert hil("virtual", "up", "--no-network", "--name", "vb1", **env).returncode == 0
    try:
        line = one_line(hil("exec", "--board", "vb1", "--port", "/dev/null", "print(1)", **env))
        assert f"--board vb1 is the running virtual board on {tmp_path / 'vb1.tty'}, not on /dev/null" in line
        same = hil("exec", "--board", "vb1", "--port", str(tmp_path / "vb1.tty"), "print(6 * 7)", **env)
        assert (same.returncode, same.stdout) == (0, "42\n"), same.stderr
    finally:
        hil("virtual", "down", "--all", **env)


@pytest.mark.parametrize(("url", "says"), [
    ("socket://127.0.0.1:9?x=1", "socket:// takes no option 'x'"),
    ("socket://127.0.0.1:9?logging=loud", "logging= must be one of debug, info, warning, error"),
    ("rfc2217://127.0.0.1:9?timeout=soon", "timeout= must be a positive number of seconds"),
])
def test_url_options_pyserial_would_refuse_are_our_one_line(url: str, says: str) -> None:
    line = one_line(hil("exec", "--port", url, "print(1)", timeout=30))
    assert says in line and "debug|info" not in line and "expected a string in the form" not in line, line


def test_flash_failure_names_its_log_and_help_says_where_logs_go(tmp_path: Path) -> None:
    from host_harness.flash.testimage import main as testimage

    assert testimage(["-o", str(tmp_path / "fw.bin")]) == 0
    p = subprocess.run([CLI, "flash", "--board", "esp32-devkitc", "--port", "socket://127.0.0.1:9",
                        "--connect-attempts", "1", str(tmp_path / "fw.bin")], capture_output=True, text=True,
                       timeout=60, cwd=tmp_path)
    assert p.returncode == 2
    log = next((tmp_path / "reports" / "flash").glob("*.log"))
    assert f"(log: {log.relative_to(tmp_path)})" in p.stderr.splitlines()[-1], p.stderr
    assert "default reports/flash" in hil("flash", "--help").stdout
