"""Files, certificates and firmware over the virtual WiPy's FTP server (ports/cc3200/ftp/ftp.c, updater.c,
bootmgr/main.c) with ftplib (host_harness/netrepl/ftp.py, firmware.py)."""

from __future__ import annotations

import ftplib
import io
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from netrepl_helpers import telnet_url, wipy_board

from host_harness import cli
from host_harness.netrepl import firmware
from host_harness.netrepl.ftp import FtpError, WipyFtp
from host_harness.peers import TlsServer
from host_harness.transport import BoardSession


@pytest.fixture(scope="module")
def wipy() -> Iterator[object]:
    with wipy_board() as vb:
        yield vb


@pytest.fixture
def ftp(wipy) -> Iterator[WipyFtp]:
    with WipyFtp.from_url(telnet_url(wipy)) as f:
        yield f


def test_volumes_folders_and_round_trip(wipy, ftp: WipyFtp) -> None:
    assert ftp.listdir("/") == ["flash"]  # ftp_list_dir's root: the mounted volumes (no SD card here)
    assert {"cert", "lib", "sys"} <= set(ftp.listdir("/flash"))
    assert not {".nwp", "flash"} & set(ftp.listdir("/flash"))  # the network processor's store is not FatFS
    data = bytes(range(256)) * 40
    ftp.makedirs("/flash/lib/pkg")
    ftp.put("/flash/lib/pkg/blob.bin", data)
    assert ftp.get("/flash/lib/pkg/blob.bin") == data
    assert (wipy.flash_dir / "lib" / "pkg" / "blob.bin").read_bytes() == data  # the board's /lib/pkg/blob.bin
    assert "blob.bin.part" not in ftp.listdir("/flash/lib/pkg")


def test_what_the_firmware_does_not_have_is_502(ftp: WipyFtp) -> None:
    for cmd in ("NLST", "MLSD /flash", "REST 10", "PORT 10,0,0,1,4,1", "EPSV", "APPE x"):
        with pytest.raises(ftplib.error_perm, match="^502"):
            ftp.ftp.sendcmd(cmd)


def test_commands_before_login_are_332(wipy) -> None:
    from host_harness.netrepl.ftp import _NetnsFTP

    raw = _NetnsFTP(telnet_url(wipy).split("netns=")[1], 5)
    try:
        assert raw.connect(wipy.board_ip, 21).startswith("220 MicroPython FTP Server")
        assert raw.sendcmd("PWD").startswith("332")  # a 3xx: ftplib does not raise
        assert raw.sendcmd("FEAT").startswith("211 no-features")
    finally:
        raw.close()


def test_wrong_password_is_one_line(wipy) -> None:
    with pytest.raises(FtpError, match="login refused"):
        WipyFtp.from_url(telnet_url(wipy, password="nope"), timeout=5)


def test_the_server_takes_one_client_at_a_time(wipy, ftp: WipyFtp) -> None:
    with pytest.raises(FtpError, match="no greeting within 2 s.*one client at a time"):
        WipyFtp.from_url(telnet_url(wipy), timeout=2)


def test_a_truncated_upload_still_gets_226_from_the_server(ftp: WipyFtp) -> None:
    # ftp.c: the data connection closing ends the file, complete or not -- why put() checks SIZE.
    ftp.ftp.voidcmd("TYPE I")
    conn = ftp.ftp.transfercmd("STOR /flash/half.bin")
    conn.sendall(b"x" * 1000)
    conn.close()
    assert ftp.ftp.voidresp().startswith("226")
    assert ftp.size("/flash/half.bin") == 1000
    assert ftp.delete("/flash/half.bin")


def test_an_interrupted_upload_leaves_the_old_file(ftp: WipyFtp) -> None:
    ftp.put("/flash/keep.txt", b"old contents\n")
    sent = []

    def cut(block: bytes) -> None:
        sent.append(len(block))
        if len(sent) == 2:
            raise ConnectionResetError("link lost mid-file")

    with pytest.raises(FtpError, match="upload of /flash/keep.txt failed .*left unchanged"):
        ftp.put("/flash/keep.txt", b"n" * 20000, callback=cut)
    assert ftp.get("/flash/keep.txt") == b"old contents\n"
    assert "keep.txt.part" not in ftp.listdir("/flash")


def _nwp_ca(wipy) -> Path:
    """The CA file in the network processor's own store (host_harness/virtual/models/wipy/nwp_fs.py)."""
    return Path(f"{wipy.flash_dir}.nwp") / "cert" / "ca.pem"


def test_the_ca_goes_to_the_network_processor_and_tls_uses_it(wipy, ftp: WipyFtp) -> None:
    prog = ("import socket, ssl\ns = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_SEC)\n"
            "s = ssl.wrap_socket(s, cert_reqs=ssl.CERT_REQUIRED, ca_certs='/flash/cert/ca.pem',"
            " ssl_version=ssl.PROTOCOL_TLSv1_2)\n"
            "s.settimeout(10)\ntry:\n s.connect(socket.getaddrinfo(%r, %d)[0][-1])\n s.write(b'ping\\n')\n"
            " print('ACCEPTED', s.readline())\nexcept OSError as e:\n print('REFUSED', e.args[0])\ns.close()")
    with TlsServer(wipy.host_ip, socket_factory=wipy.netns.host_socket) as peer, \
            BoardSession(telnet_url(wipy)) as session:
        ca = _nwp_ca(wipy)
        ca.unlink(missing_ok=True)
        code = prog % peer.address
        assert session.exec(code, 20).text().startswith("REFUSED")
        ftp.put_special("/flash/cert/ca.pem", peer.ca_pem.encode())
        assert ca.read_text() == peer.ca_pem  # updater.c: CA_FILE in the NWP's store, not in FatFS /cert
        assert ftp.listdir("/flash/cert") == []
        assert "ACCEPTED b'ping\\n'" in session.exec(code, 20).text()


def test_flash_updates_and_reports_a_rollback(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = firmware.sign(b"\0" * 4096 + b"MicroPython v9.9.1 on 2026-03-01; WiPy with CC3200\0" + b"\1" * 4096)
    bad = bytearray(firmware.sign(b"MicroPython v9.9.2 on 2026-03-02; WiPy with CC3200\0" + b"\2" * 8192))
    bad[200] ^= 0xFF  # a flipped bit on the way: the transfer still ends with 226
    (tmp_path / "good.bin").write_bytes(good)
    (tmp_path / "bad.bin").write_bytes(bytes(bad))
    with wipy_board() as vb:
        url = telnet_url(vb)
        argv = ["flash", "--board", "virtual-wipy", "--port", url]
        assert cli.main([*argv, str(tmp_path / "good.bin")]) == 0
        out = capsys.readouterr().out
        assert f"virtual-wipy {url}: updated: v1." in out and "-> v9.9.1" in out
        assert cli.main([*argv, str(tmp_path / "bad.bin")]) == 2
        captured = capsys.readouterr()
        assert "warning: the image's last 32 bytes are not its MD5" in captured.out
        assert "ROLLED BACK: the boot manager rejected the image (MD5 check) and still runs v9.9.1" in captured.out
        assert captured.err.count("\n") == 1 and "firmware not running" in captured.err
        # the telnet server answers (host-side) before the supervisor has respawned the interpreter and
        # rewritten its state file: wait for the file, not for a different count
        end = time.monotonic() + 10
        while vb.state()["hard_resets"] < 2 and time.monotonic() < end:
            time.sleep(0.02)
        assert vb.state()["hard_resets"] == 2
        with BoardSession(url) as session:  # the board is usable after both
            assert session.exec("print(1)").text().strip() == "1"


def test_an_oversized_image_is_refused_before_upload(wipy) -> None:
    with pytest.raises(firmware.FirmwareError, match="at most 196608"):
        firmware.update(telnet_url(wipy), firmware.sign(b"x" * (192 * 1024)))


def test_the_servers_updater_refuses_past_img_size(ftp: WipyFtp) -> None:
    with pytest.raises(ftplib.error_temp, match="^451"):
        ftp.ftp.storbinary("STOR /flash/sys/mcuimg.bin", io.BytesIO(b"y" * (192 * 1024 + 1)))


def test_deploy_to_a_wipy_goes_over_ftp(wipy) -> None:
    from host_harness.board import open_board
    from host_harness.board.network import NetworkBoard

    url = telnet_url(wipy)
    with open_board("virtual-wipy", url, deploy=False, online=False) as board:
        assert isinstance(board, NetworkBoard) and board.ip == wipy.board_ip
        with WipyFtp.from_url(url):  # FTP busy with another client: the deploy must fail, so it uses FTP
            with pytest.raises(FtpError, match="one client at a time"):
                board.deploy(force=True)
        board.reset("soft")  # a fresh 48 KiB heap for the import check, as after the WiPy's boot
        report = board.deploy(force=True)
        assert "/lib/usocket_port/__init__.mpy" in report.copied and report.verified  # the WiPy loads .mpy bytecode
        assert (wipy.flash_dir / "lib" / "usocket_port" / "__init__.mpy").is_file()  # .mpy bytecode
        again = board.deploy()
        assert again.copied == [] and set(again.skipped) == set(report.copied)
        assert board.exec("import usocket_port\nprint(usocket_port.socket)", 10).ok


def test_the_board_layer_installs_the_ca_over_ftp(wipy) -> None:
    from host_harness.board import open_board

    pem = "-----BEGIN CERTIFICATE-----\nAQ==\n-----END CERTIFICATE-----\n"
    with open_board("virtual-wipy", telnet_url(wipy), deploy=False, online=False) as board:
        assert board.install_ca(pem) is True
    assert (_nwp_ca(wipy)).read_text() == pem


def test_install_ca_checks_it_is_a_certificate(wipy) -> None:
    from host_harness.netrepl.ftp import install_ca

    with pytest.raises(FtpError, match="PEM certificate"):
        install_ca(telnet_url(wipy), "not a certificate")
    install_ca(telnet_url(wipy), "-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----\n")
    assert (_nwp_ca(wipy)).read_text().startswith("-----BEGIN CERTIFICATE-----")


def test_libraries_go_where_the_wipy_keeps_them(wipy) -> None:
    """/lib on the virtual WiPy (its "/" is FTP's /flash); /flash/lib when the board's sys.path has it, as the
    cc3200 firmware's does (ports/cc3200/mptask.c), and then REPL and FTP paths are the same."""
    from host_harness.board import open_board
    from host_harness.netrepl.ftp import ftp_path

    assert ftp_path("/lib/usocket_port/__init__.mpy", "/flash") == "/flash/lib/usocket_port/__init__.mpy"
    assert ftp_path("/flash/lib/usocket_target.py", "") == "/flash/lib/usocket_target.py"
    with open_board("virtual-wipy", telnet_url(wipy), deploy=False, online=False) as board:
        assert board.lib_dir() == "/lib"
        assert board.exec("import sys\nsys.path.append('/flash/lib')", 10).ok  # the firmware's sys.path
        assert board.lib_dir() == "/flash/lib"
