"""The virtual WiPy's FTP server: ports/cc3200/ftp/ftp.c (with updater.c through nwp.py), host-side in the
board's namespace, serving the board's flash directory as FatFS's /flash.

Reproduced (ftp.c unless named):
* control port 21, passive data port 2024 (FTP_PASIVE_DATA_PORT) only -- no PORT/EPRT/EPSV; one control and one
  data connection (FTP_CMD_CLIENTS_MAX, FTP_DATA_CLIENTS_MAX): a second control client waits unanswered in
  the backlog until the first leaves;
* ftp_cmd_table: FEAT SYST CDUP CWD PWD XPWD SIZE MDTM TYPE USER PASS PASV LIST RETR STOR DELE RMD MKD RNFR RNTO
  NOOP QUIT; anything else (NLST, MLSD, REST, APPE, ...) is 502; before login everything but USER PASS QUIT
  FEAT is 332; replies are "%u %s\\r\\n" with the texts of ftp_process_cmd() (220 "MicroPython FTP Server",
  211 "no-features", 215 "UNIX Type: L8", 227 "(h1,h2,h3,h4,p1,p2)", mostly an empty text);
* after PASV the server waits for the data connection (FTP_DATA_TIMEOUT_MS = 5 s) before the next command;
  a transfer's end closes the data socket and the passive listener (ftp_send_from_fifo): the sockets held of the
  NWP's SL_MAX_SOCKETS = 8 are the listener, plus the control client, plus the passive listener and its data
  connection while a transfer is set up or runs (counted for the wipy port model: base.py, nwp.py);
* "/" lists the mounted volumes as directories (the "root directory hack" of ftp_list_dir); this virtual board
  has /flash only (no SD card); list lines as ftp_print_eplf_item();
* STOR: a data connection that closes -- completely or mid-file -- ends the upload with 226 (the server
  cannot tell): clients must check SIZE; a failed write is 451; STOR to an updater path (updater.c
  updater_check_path) writes to the network processor store instead of FatFS (nwp.py);
* the session ends after servers_get_timeout() of silence (221) and on a WLAN event or reset (ftp_reset).
"""

from __future__ import annotations

import contextlib
import posixpath
import socket
import time
from collections.abc import Callable
from pathlib import Path

from ...netrepl.firmware import IMAGE_PATH, IMG_SIZE
from .base import Service
from .nwp import HIDDEN, NetworkProcessor

PORT = 21
DATA_PORT = 2024
DATA_TIMEOUT = 5.0
BUFFER = 512  # FTP_BUFFER_SIZE
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Ago", "Sep", "Oct", "Nov", "Dec")  # sic, ftp_month
_NO_LOGIN = {"USER", "PASS", "QUIT", "FEAT"}


class _Closed(Exception):
    pass


class FtpServer(Service):
    name_ = "ftp"

    def __init__(self, *, flash_dir: Path, nwp: NetworkProcessor, user: str = "micro", password: str = "python",
                 timeout: Callable[[], float], wlan_events: Callable[[], int], **kw) -> None:
        super().__init__(**kw)
        self.flash_dir = flash_dir
        self.nwp = nwp
        self.user = user
        self.password = password
        self.timeout = timeout
        self.wlan_events = wlan_events

    # -- connections --------------------------------------------------------------------------------
    def serve(self) -> None:
        lc = self.listen(PORT)
        try:
            while not self.stopper.stopping:
                if not self.wait([lc], 0.5):
                    continue
                conn, _ = lc.accept()
                self.count(+1)
                try:
                    _Session(self, conn).run()
                except (_Closed, OSError):
                    pass
                finally:
                    self.close_counted(conn)
        finally:
            self.close_counted(lc)

    # -- paths --------------------------------------------------------------------------------------
    def local(self, path: str) -> Path | None:
        """FatFS path -> host path; None for "/" and for what is not on a volume (or is NWP storage)."""
        parts = [p for p in path.split("/") if p]
        if not parts or parts[0] != "flash":
            return None
        if len(parts) > 1 and parts[1] in HIDDEN:
            return None
        return self.flash_dir.joinpath(*parts[1:])


class _Session:
    def __init__(self, server: FtpServer, conn: socket.socket) -> None:
        self.s = server
        self.conn = conn
        self.cwd = "/"
        self.user_ok = False
        self.logged_in = False
        self.ld: socket.socket | None = None  # passive listener
        self.rnfr: str | None = None
        self.generation = server.stopper.generation
        self.events = server.wlan_events()
        self.last = time.monotonic()
        self.inbuf = b""

    def reply(self, code: int, text: str = "") -> None:
        self.conn.sendall(f"{code} {text}\r\n".encode())

    def check(self) -> None:
        s = self.s
        if s.stopper.stopping or s.stopper.generation != self.generation or s.wlan_events() != self.events:
            raise _Closed()

    def readline(self) -> str:
        while b"\n" not in self.inbuf:
            self.check()
            if time.monotonic() - self.last > self.s.timeout():
                self.reply(221)
                raise _Closed()
            if not self.s.wait([self.conn], 0.2):
                continue
            data = self.conn.recv(1024)
            if not data:
                raise _Closed()
            self.inbuf += data
            self.last = time.monotonic()
        line, self.inbuf = self.inbuf.split(b"\n", 1)
        return line.rstrip(b"\r").decode("latin-1")

    def run(self) -> None:
        try:
            self.reply(220, "MicroPython FTP Server")
            while True:
                line = self.readline()
                cmd, _, arg = line.partition(" ")
                cmd = cmd.upper()
                if not self.logged_in and cmd not in _NO_LOGIN:
                    self.reply(332)
                    continue
                handler = getattr(self, f"do_{cmd}", None) if cmd.isalpha() else None
                if handler is None:
                    self.reply(502)
                    continue
                if handler(arg) is False:
                    return
        finally:
            self.s.close_counted(self.ld)

    def path(self, arg: str) -> str:
        return posixpath.normpath(posixpath.join(self.cwd, arg)) if arg else self.cwd

    # -- commands -----------------------------------------------------------------------------------
    def do_FEAT(self, arg: str) -> None:
        self.reply(211, "no-features")

    def do_SYST(self, arg: str) -> None:
        self.reply(215, "UNIX Type: L8")

    def do_NOOP(self, arg: str) -> None:
        self.reply(200)

    def do_TYPE(self, arg: str) -> None:
        self.reply(200)

    def do_QUIT(self, arg: str) -> bool:
        self.reply(221)
        return False

    def do_USER(self, arg: str) -> None:
        self.user_ok = arg == self.s.user
        self.reply(331)

    def do_PASS(self, arg: str) -> None:
        if self.user_ok and arg == self.s.password:
            self.logged_in = True
            self.reply(230)
        else:
            self.reply(530)

    def do_PWD(self, arg: str) -> None:
        self.reply(257, f'"{self.cwd}"')

    do_XPWD = do_PWD

    def do_CWD(self, arg: str) -> None:
        path = self.path(arg)
        local = self.s.local(path)
        if path == "/" or (local is not None and local.is_dir()):
            self.cwd = path
            self.reply(250)
        else:
            self.reply(550)

    def do_CDUP(self, arg: str) -> None:
        self.cwd = posixpath.dirname(self.cwd.rstrip("/")) or "/"
        self.reply(250)

    def _file(self, arg: str) -> Path | None:
        local = self.s.local(self.path(arg))
        return local if local is not None and local.is_file() else None

    def do_SIZE(self, arg: str) -> None:
        f = self._file(arg)
        self.reply(213, str(f.stat().st_size)) if f else self.reply(550)

    def do_MDTM(self, arg: str) -> None:
        f = self._file(arg)
        if f is None:
            self.reply(550)
            return
        self.reply(213, time.strftime("%Y%m%d%H%M%S", time.gmtime(f.stat().st_mtime)))

    def do_DELE(self, arg: str) -> None:
        local = self.s.local(self.path(arg))
        try:
            if local is None:
                raise OSError
            local.rmdir() if local.is_dir() else local.unlink()
            self.reply(250)
        except OSError:
            self.reply(550)

    do_RMD = do_DELE

    def do_MKD(self, arg: str) -> None:
        local = self.s.local(self.path(arg))
        try:
            if local is None:
                raise OSError
            local.mkdir()
            self.reply(250)
        except OSError:
            self.reply(550)

    def do_RNFR(self, arg: str) -> None:
        local = self.s.local(self.path(arg))
        if local is not None and local.exists():
            self.rnfr = self.path(arg)
            self.reply(350)
        else:
            self.reply(550)

    def do_RNTO(self, arg: str) -> None:
        src = self.s.local(self.rnfr or "")
        dst = self.s.local(self.path(arg))
        try:
            if src is None or dst is None or dst.exists():  # FatFS f_rename refuses an existing target
                raise OSError
            src.rename(dst)
            self.reply(250)
        except OSError:
            self.reply(550)

    # -- data connection ----------------------------------------------------------------------------
    def do_PASV(self, arg: str) -> None:
        self.s.close_counted(self._take_data())  # E_FTP_CMD_PASV: servers_close_socket(&ftp_data.d_sd) first
        if self.ld is None:
            try:
                self.ld = self.s.listen(DATA_PORT)
            except OSError:
                self.reply(425)
                return
        ip = self.s.board_ip.split(".")
        self.reply(227, f"({','.join(ip)},{DATA_PORT >> 8},{DATA_PORT & 0xFF})")
        ready = self.s.wait([self.ld], DATA_TIMEOUT)  # no command is read until the data connection comes
        self.check()
        self.data: socket.socket | None = None
        if ready:
            self.data, _ = self.ld.accept()
            self.s.count(+1)
        else:
            self.s.close_counted(self.ld)
            self.ld = None

    def _take_data(self) -> socket.socket | None:
        data, self.data = getattr(self, "data", None), None
        return data

    def _end_data(self, data: socket.socket) -> None:
        # ftp_send_from_fifo(), E_FTP_STE_END_TRANSFER: the data socket and the passive listener both close
        # (the next PASV opens a new listener), so an idle session holds the NWP's sockets it holds at login
        self.s.close_counted(data)
        self.s.close_counted(self.ld)
        self.ld = None

    def do_LIST(self, arg: str) -> None:
        path = self.path(arg if arg and not arg.startswith("-") else "")
        local = self.s.local(path)
        if path == "/":
            lines = [_line("flash", True, 0, 1420070400)]
        elif local is not None and local.is_dir():
            lines = []
            for entry in sorted(local.iterdir()):
                if local == self.s.flash_dir and entry.name in HIDDEN:
                    continue
                st = entry.stat()
                lines.append(_line(entry.name, entry.is_dir(), st.st_size, st.st_mtime))
        else:
            self.reply(550)
            return
        data = self._take_data()
        if data is None:
            self.reply(425)
            return
        self.reply(150)
        try:
            data.sendall("".join(lines).encode())
        finally:
            self._end_data(data)
        self.reply(226)

    def do_RETR(self, arg: str) -> None:
        f = self._file(arg)
        data = self._take_data()
        if f is None or data is None:
            if data is not None:
                self._end_data(data)
            self.reply(550)
            return
        self.reply(150)
        try:
            with open(f, "rb") as fh:
                while chunk := fh.read(BUFFER):
                    data.sendall(chunk)
        except OSError:
            self._end_data(data)
            self.reply(451)
            return
        self._end_data(data)
        self.reply(226)

    def do_STOR(self, arg: str) -> None:
        path = self.path(arg)
        special = self.s.nwp.is_special(path)
        target = self.s.nwp.update_target(path) if special else self.s.local(path)
        data = self._take_data()
        if target is None or data is None or (not special and not target.parent.is_dir()):
            if data is not None:
                self._end_data(data)
            self.reply(550)
            return
        limit = IMG_SIZE if path == IMAGE_PATH else None
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            fh = open(target, "wb")
        except OSError:
            self._end_data(data)
            self.reply(550)
            return
        self.reply(150)
        written, failed = 0, False
        with fh:
            data.settimeout(DATA_TIMEOUT)
            while True:
                try:
                    chunk = data.recv(BUFFER)
                except TimeoutError:
                    self._end_data(data)
                    self.reply(426)
                    return
                except OSError:
                    chunk = b""  # a broken data connection ends the file like a closed one (ftp.c)
                if not chunk:
                    break
                if limit is not None and written + len(chunk) > limit:
                    failed = True
                    break
                fh.write(chunk)
                written += len(chunk)
        self._end_data(data)
        if failed:
            self.reply(451)
            return
        if special:
            with contextlib.suppress(OSError):
                self.s.nwp.finish_update(path, target)
        self.reply(226)


def _line(name: str, is_dir: bool, size: int, mtime: float) -> str:
    t = time.gmtime(mtime)
    recent = time.time() - mtime < 15552000  # FTP_UNIX_SECONDS_180_DAYS
    when = f"{t.tm_hour:02d}:{t.tm_min:02d}" if recent else f"{t.tm_year:5d}"
    kind = "d" if is_dir else "-"
    return f"{kind}rw-rw-r--   1 root  root {size:9d} {_MONTHS[t.tm_mon - 1]} {t.tm_mday:2d} {when} {name}\r\n"
