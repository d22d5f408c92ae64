"""A real ser2net on loopback in front of boards: the REPL transport, flash and the suite through it."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import time

import pytest

from host_harness.errors import TransportError
from host_harness.farm.ser2net import Export, Ser2Net, rfc2217_device, serial_device
from host_harness.flash import testimage

pytestmark = pytest.mark.skipif(shutil.which("ser2net") is None,
                                reason="ser2net is not installed (`make` installs the Debian package)")
CLI = [sys.executable, "-m", "host_harness.cli"]


@pytest.fixture(scope="module")
def pty_export():
    """A virtual board's pty exported by ser2net (data only: a pty has no modem lines)."""
    from host_harness.virtual import VirtualBoard

    with VirtualBoard("virtual-esp32", network=False) as vb, Ser2Net([Export("pty", serial_device(vb.port_url))]) as s:
        yield s


def test_repl_transport_through_ser2net_pty_export(pty_export):
    from host_harness.transport import BoardSession

    # ser2net cannot set DTR/RTS on a pty, so it does not answer SET_CONTROL as pyserial waits for:
    # pyserial's ign_set_control option is for such servers.
    with BoardSession(pty_export.url("pty") + "?ign_set_control") as session:
        res = session.exec("import sys\nprint(sys.implementation.name, 6 * 7)", 10)
    assert res.ok and res.text().split() == ["micropython", "42"]


def test_without_ign_set_control_the_error_names_the_option(pty_export):
    # the same export without the option: pyserial waits for an answer ser2net on a pty never gives; the one
    # line says which URL option is the cure
    r = subprocess.run([*CLI, "exec", "--port", pty_export.url("pty"), "print(1)"], capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 2, r.stdout + r.stderr
    assert "needs ?ign_set_control in the URL" in r.stderr and r.stderr.count("\n") == 1, r.stderr


def test_ser2net_dying_mid_session_is_a_transport_error_within_the_deadline():
    from host_harness.transport import BoardSession
    from host_harness.virtual import VirtualBoard

    with VirtualBoard("virtual-unix", network=False) as vb, Ser2Net([Export("b", serial_device(vb.port_url))]) as s:
        session = BoardSession(s.url("b") + "?ign_set_control")
        try:
            assert session.exec("print(1)", 10).ok
            s.kill()
            started = time.monotonic()
            with pytest.raises(TransportError):
                res = session.exec("print(2)", 5)
                if res.outcome == "transport":  # reported as a result rather than raised
                    raise TransportError(res.error)
            assert time.monotonic() - started < 15
        finally:
            session.close()


def test_flash_and_suite_through_ser2net_to_the_virtual_esp32(tmp_path):
    """ser2net relays DTR/RTS to the virtual ESP32's bridge as it would to a USB-UART: esptool resets the
    chip into download mode through it, the hard reset boots the image, then deploy and the suite run."""
    from host_harness.virtual.esp32_serial.device import VirtualEsp32

    fw = tmp_path / "fw.bin"
    fw.write_bytes(testimage.build(version="v1.26.0"))
    with VirtualEsp32() as dev, Ser2Net([Export("esp32", rfc2217_device(dev.url))]) as s:
        r = subprocess.run([*CLI, "test", "--board", "virtual-esp32", "--port", s.url("esp32"), "--firmware",
                            str(fw), "--report-dir", str(tmp_path / "rep"), "-k", "stream or udp"],
                           capture_output=True, text=True, timeout=900)
        assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-2000:]
        assert re.search(r"virtual-esp32: [1-9]\d* clauses pass, 0 fail", r.stdout)
        logs = tmp_path / "rep" / "board-logs" / "virtual-esp32"
        assert "boot: booted MicroPython v1.26.0" in next((logs / "flash").glob("*.log")).read_text()
        assert re.search(r"booted: ok .*; identity micropython", r.stdout)
        assert "client connected" in dev.log_text()  # the chip was reached through ser2net, not directly
