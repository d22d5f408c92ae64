"""The virtual WiPy's telnet and FTP servers take their sockets from the network processor's SL_MAX_SOCKETS = 8
(drivers/cc3100/inc/simplelink.h), as the cc3200 firmware's do (telnet/telnet.c, ftp/ftp.c): what a program on
the board can still open shrinks while an FTP session and its transfer run, and comes back when they end
(docs/fidelity.md W8; host_harness/virtual/services publishes the count, models/wipy/socket.py reads it)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from netrepl_helpers import telnet_url, wipy_board

from host_harness.netrepl.ftp import WipyFtp
from host_harness.transport import BoardSession

_COUNT = ("import socket\nL = []\ntry:\n while True:\n  L.append(socket.socket())\nexcept OSError as e:\n"
          " print(len(L), e.args[0])\nfor s in L:\n s.close()")


@pytest.fixture(scope="module")
def board() -> Iterator[tuple[object, BoardSession]]:
    with wipy_board() as vb, BoardSession(telnet_url(vb)) as session:
        yield vb, session


def _user_sockets(session: BoardSession, expect: int, settle_s: float = 3.0) -> int:
    """How many sockets a program gets before SL_ENSOCK (10); waits a moment for the servers to settle."""
    end = time.monotonic() + settle_s
    while True:
        n, errno = session.exec(_COUNT).text().split()
        assert errno == "10"
        if int(n) == expect or time.monotonic() > end:
            return int(n)
        time.sleep(0.1)


def test_idle_servers_hold_two(board) -> None:
    vb, session = board
    # telnet's client (telnet.c closes its listener while a client is on) + FTP's listener
    assert _user_sockets(session, 6) == 6


def test_an_ftp_session_and_its_transfer_take_their_sockets_and_give_them_back(board) -> None:
    vb, session = board
    with WipyFtp.from_url(telnet_url(vb)) as ftp:
        assert _user_sockets(session, 5) == 5  # + the FTP control client (ftp.c c_sd)
        ftp.ftp.voidcmd("TYPE I")
        conn = ftp.ftp.transfercmd("STOR /flash/budget.bin")  # PASV: the passive listener, then the data socket
        try:
            assert _user_sockets(session, 3) == 3  # + ld_sd and d_sd
        finally:
            conn.close()
            ftp.ftp.voidresp()
        # the transfer's end closes the data socket and the passive listener (ftp_send_from_fifo)
        assert _user_sockets(session, 5) == 5
    assert _user_sockets(session, 6) == 6  # QUIT: the control client is gone, the listener stays


def test_a_board_without_its_servers_counts_the_idle_listeners(tmp_path) -> None:
    """The count file goes when the servers stop: a board on the same flash without them (no network) falls
    back to the two listeners a booted WiPy holds, not to the count an earlier run left."""
    from host_harness.virtual import VirtualBoard

    flash = tmp_path / "flash"
    flash.mkdir()
    with wipy_board(flash_dir=flash) as vb, BoardSession(telnet_url(vb)) as session:
        with WipyFtp.from_url(telnet_url(vb)):
            assert _user_sockets(session, 5) == 5
            assert (flash / ".nwp" / "sockets").stat().st_size == 3  # telnet client, FTP listener and client
    assert not (flash / ".nwp" / "sockets").exists()
    with VirtualBoard("virtual-wipy", network=False, flash_dir=flash) as vb, BoardSession(vb.port_url) as session:
        assert _user_sockets(session, 6) == 6
