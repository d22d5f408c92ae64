"""Virtual boards that serve their firmware's network REPLs (telnet + FTP on virtual-wipy, WebREPL on
virtual-esp32), for the test_netrepl_*.py modules.  Clients connect from the board's host-side namespace
(`?netns=` in every URL), never from the root namespace."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import serial

from host_harness.transport.urls import register

register()  # wipy:// and webrepl:// for serial.serial_for_url

WEBREPL_PASSWORD = "secret"


def require_named_netns() -> None:
    from host_harness.netns import netns_mode

    mode, why = netns_mode()
    if mode != "named":
        pytest.skip(f"the virtual boards' network services need named namespaces (root): {why or mode}")


@contextmanager
def wipy_board(**kw: object) -> Iterator[object]:
    from host_harness.virtual import VirtualBoard

    require_named_netns()
    with VirtualBoard("virtual-wipy", network=True, **kw) as vb:
        yield vb


@contextmanager
def esp32_webrepl_board(flash_dir: Path, *, configured: bool = True) -> Iterator[object]:
    """virtual-esp32 whose boot.py starts WebREPL (password from webrepl_cfg.py when `configured`)."""
    from host_harness.virtual import VirtualBoard

    require_named_netns()
    flash_dir.mkdir(parents=True, exist_ok=True)
    if configured:
        (flash_dir / "webrepl_cfg.py").write_text(f"PASS = {WEBREPL_PASSWORD!r}\n")
        (flash_dir / "boot.py").write_text("import webrepl\nwebrepl.start()\n")
    with VirtualBoard("virtual-esp32", network=True, flash_dir=flash_dir) as vb:
        if configured:
            wait_listening(webrepl_url(vb))
        yield vb


def telnet_url(vb: object, **params: str) -> str:
    url = vb.state()["services"]["telnet"]  # type: ignore[attr-defined]
    return url + "".join(f"&{k}={v}" for k, v in params.items())


def webrepl_url(vb: object, password: str = WEBREPL_PASSWORD) -> str:
    return vb.state()["services"]["webrepl"].replace("PASSWORD", password)  # type: ignore[attr-defined]


def open_port(url: str, timeout: float = 5.0) -> serial.SerialBase:
    """Open `url`, retrying while the server is not (yet, or again) listening."""
    end = time.monotonic() + timeout
    while True:
        try:
            return serial.serial_for_url(url, timeout=1)
        except serial.SerialException as exc:
            if "refused" not in str(exc) or time.monotonic() > end:
                raise
            time.sleep(0.1)


def wait_listening(url: str, timeout: float = 10.0) -> None:
    open_port(url, timeout).close()


def read_until(port: serial.SerialBase, marker: bytes, timeout: float = 5.0) -> bytes:
    end = time.monotonic() + timeout
    got = b""
    while marker not in got and time.monotonic() < end:
        got += port.read(max(1, port.in_waiting))
    return got


def assert_repl_beside_uart(net: serial.SerialBase, uart: serial.SerialBase, name: str) -> None:
    """A network REPL session and the serial REPL at once: what either types runs, and both see its output."""
    uart.reset_input_buffer()
    for source, label in ((net, name), (uart, "uart")):
        marker = f"from {label}".encode()
        source.write(f"print('from', '{label}')\r\n".encode())
        assert marker in read_until(net, marker)
        assert marker in read_until(uart, marker)
