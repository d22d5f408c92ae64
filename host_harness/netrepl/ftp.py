"""Files, TLS certificates and firmware on a WiPy over its FTP server (ports/cc3200/ftp/ftp.c), with ftplib.

The server is passive-only (data port 2024), serves one control and one data connection, has no NLST, MLSD
or REST, and ends an upload with 226 whenever the data connection closes -- also mid-file.  So:
* every data connection is passive (ftplib's default) and made from the URL's namespace when one is given;
* a second client gets no greeting (it waits in the server's backlog): that is reported, not waited out;
* put() uploads to NAME.part, checks the SIZE the server reports, and only then renames it over NAME
  (DELE + RNFR/RNTO: FatFS refuses to rename onto an existing file); an interrupted upload leaves NAME as it
  was and removes the part file -- nothing half-written is left claiming to be the file;
* the network processor's files (/flash/sys/mcuimg.bin, /flash/cert/ca.pem, ...; updater.c) cannot be read
  back or renamed: put_special() writes them directly; a firmware image is proven only by the reboot
  (the boot manager's MD5 check), a certificate by using it.
"""

from __future__ import annotations

import contextlib
import ftplib
import io
import posixpath
import socket
from collections.abc import Callable, Sequence

from ..errors import TransportError
from ..transport.urls.network import NetUrl, connect, parse

DEFAULT_USER = "micro"
DEFAULT_PASSWORD = "python"
PORT = 21
_TIMEOUT = 10.0


class FtpError(TransportError):
    """An FTP operation on the board failed; the message says which and why."""


class _NetnsFTP(ftplib.FTP):
    """ftplib.FTP whose control and (passive) data sockets are made by url.connect (namespace, numeric hosts)."""

    def __init__(self, netns: str | None, timeout: float) -> None:
        self._netns = netns
        super().__init__(timeout=timeout)

    def _dial(self, host: str, port: int) -> socket.socket:
        sock = connect(NetUrl("ftp", host, port, {"netns": self._netns} if self._netns else {}), self.timeout)
        sock.settimeout(self.timeout)
        return sock

    def connect(self, host: str = "", port: int = 0, timeout: float = -999, source_address=None) -> str:
        self.host, self.port = host, port or PORT
        self.sock = self._dial(self.host, self.port)
        self.af = self.sock.family
        self.file = self.sock.makefile("r", encoding=self.encoding)
        try:
            self.welcome = self.getresp()
        except TimeoutError:
            self.close()
            raise FtpError(f"ftp://{host}:{self.port}: no greeting within {self.timeout:g} s (the WiPy's FTP "
                           "server serves one client at a time: is another one connected?)") from None
        return self.welcome

    def ntransfercmd(self, cmd: str, rest: int | str | None = None) -> tuple[socket.socket, int | None]:
        if rest is not None:
            raise FtpError("the WiPy's FTP server has no REST: transfers always start at 0")
        host, port = self.makepasv()  # passive only: ftp.c has no PORT
        conn = self._dial(host, port)
        try:
            resp = self.sendcmd(cmd)
            if resp[0] == "2":
                resp = self.getresp()
            if resp[0] != "1":
                raise ftplib.error_reply(resp)
        except BaseException:
            conn.close()
            raise
        return conn, None


class WipyFtp:
    """One FTP session with a WiPy: `with WipyFtp.from_url("wipy://IP?netns=...") as ftp: ftp.put(...)`."""

    def __init__(self, host: str, *, user: str = DEFAULT_USER, password: str = DEFAULT_PASSWORD,
                 netns: str | None = None, port: int = PORT, timeout: float = _TIMEOUT) -> None:
        self.where = f"ftp://{host}:{port}"
        self.ftp = _NetnsFTP(netns, timeout)
        try:
            self.ftp.connect(host, port)
            self.ftp.login(user, password)
        except ftplib.error_perm as exc:
            self.ftp.close()
            raise FtpError(f"{self.where}: login refused ({_text(exc)}): wrong user or password?") from None
        except (OSError, EOFError, ftplib.Error) as exc:
            self.ftp.close()
            raise FtpError(f"{self.where}: {_text(exc)}") from None

    @classmethod
    def from_url(cls, url: str, *, timeout: float = _TIMEOUT) -> WipyFtp:
        """The FTP server of the board a wipy:// (telnet) or ftp:// URL names, with the same credentials."""
        scheme = url.split("://", 1)[0]
        if scheme not in ("wipy", "ftp"):
            raise FtpError(f"{url}: FTP needs a wipy:// or ftp:// URL")
        u = parse(url, scheme, PORT, ("netns", "user", "password"))
        user = u.params.get("user", DEFAULT_USER)
        password = u.params.get("password", DEFAULT_PASSWORD)
        if scheme == "ftp":
            from urllib.parse import urlsplit

            parts = urlsplit(url)
            user, password = parts.username or user, parts.password or password
        return cls(u.host, user=user, password=password, netns=u.netns,
                   port=u.port if scheme == "ftp" else PORT, timeout=timeout)

    def __enter__(self) -> WipyFtp:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        with contextlib.suppress(OSError, EOFError, ftplib.Error):
            self.ftp.quit()
        self.ftp.close()

    # -- operations ---------------------------------------------------------------------------------
    def _do(self, what: str, fn: Callable[[], object]) -> object:
        try:
            return fn()
        except (OSError, EOFError, ftplib.Error) as exc:
            raise FtpError(f"{self.where}: {what}: {_text(exc)}") from None

    def listdir(self, path: str) -> list[str]:
        lines: list[str] = []
        self._do(f"list {path}", lambda: self.ftp.retrlines(f"LIST {path}", lines.append))
        return [line.split(None, 8)[-1] for line in lines if line.strip()]

    def size(self, path: str) -> int | None:
        try:
            return int(self.ftp.sendcmd(f"SIZE {path}").split()[1])
        except ftplib.error_perm:
            return None
        except (OSError, EOFError, ftplib.Error, ValueError, IndexError) as exc:
            raise FtpError(f"{self.where}: size of {path}: {_text(exc)}") from None

    def makedirs(self, path: str) -> None:
        parts = [p for p in path.split("/") if p]
        for i in range(2, len(parts) + 1):  # /flash itself is a volume
            d = "/" + "/".join(parts[:i])
            try:
                self.ftp.mkd(d)
            except ftplib.error_perm:
                pass  # exists (the server says 550 for both)
            except (OSError, EOFError, ftplib.Error) as exc:
                raise FtpError(f"{self.where}: mkdir {d}: {_text(exc)}") from None

    def get(self, path: str) -> bytes:
        out = io.BytesIO()
        self._do(f"read {path}", lambda: self.ftp.retrbinary(f"RETR {path}", out.write))
        return out.getvalue()

    def delete(self, path: str) -> bool:
        try:
            self.ftp.delete(path)
            return True
        except ftplib.error_perm:
            return False
        except (OSError, EOFError, ftplib.Error) as exc:
            raise FtpError(f"{self.where}: delete {path}: {_text(exc)}") from None

    def put(self, path: str, data: bytes, *, callback: Callable[[bytes], object] | None = None) -> None:
        """Upload `data` to `path` so that `path` is either the old file or the complete new one.
        `callback` sees each block after it is sent (progress)."""
        part = path + ".part"
        try:
            self._store(part, data, callback)
            got = self.size(part)
            if got != len(data):
                raise FtpError(f"{self.where}: upload of {path} interrupted: the board holds {got} of "
                               f"{len(data)} bytes; {path} was left unchanged")
            self.delete(path)
            self.ftp.rename(part, path)
        except FtpError:
            self._discard(part)
            raise
        except Exception as exc:  # noqa: BLE001  (the link, the server, or the caller's callback)
            self._discard(part)
            raise FtpError(f"{self.where}: upload of {path} failed ({_text(exc)}); {path} was left "
                           "unchanged") from None

    def _store(self, path: str, data: bytes, callback: Callable[[bytes], object] | None) -> None:
        """STOR with the reply read even when sending fails (the server answers 226 to a cut connection too)."""
        self.ftp.voidcmd("TYPE I")
        conn = self.ftp.transfercmd(f"STOR {path}")
        failure: BaseException | None = None
        try:
            for i in range(0, len(data), 4096):
                block = data[i:i + 4096]
                conn.sendall(block)
                if callback is not None:
                    callback(block)
        except BaseException as exc:  # noqa: BLE001  (re-raised after the reply is read)
            failure = exc
        finally:
            conn.close()
        try:
            self.ftp.voidresp()
        except ftplib.Error as exc:
            failure = failure or exc
        if failure is not None:
            raise failure

    def _discard(self, part: str) -> None:
        with contextlib.suppress(OSError, EOFError, ftplib.Error):
            self.ftp.delete(part)

    def put_special(self, path: str, data: bytes) -> None:
        """Upload to a network-processor path (firmware image, certificates): written in place."""
        self._do(f"upload {path}", lambda: self._store(path, data, None))


def ftp_path(remote: str, repl_root: str) -> str:
    """FTP path of a file the REPL sees at `remote`.  `repl_root` is the FTP folder the REPL's "/" is: "" on a
    real WiPy (its REPL sees /flash as FTP does), "/flash" on the virtual one, whose "/" is the flash volume."""
    return posixpath.join(repl_root or "/", remote.lstrip("/"))


def _text(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def deploy_writer(url: str, repl_root: str) -> Callable[[Sequence], None]:
    """For deploy(): writes DeployFiles (REPL paths, placed by ftp_path) over the FTP server of the WiPy at `url`."""

    def write(files: Sequence) -> None:
        with WipyFtp.from_url(url) as ftp:
            for d in sorted({posixpath.dirname(ftp_path(f.remote, repl_root)) for f in files}):
                ftp.makedirs(d)
            for f in files:
                ftp.put(ftp_path(f.remote, repl_root), f.data)

    return write


def install_ca(url: str, pem: str | bytes) -> None:
    """tls_setup()'s CA on a WiPy: /flash/cert/ca.pem in the network processor's store (updater.c CA_FILE),
    which only FTP writes; a REPL write lands in FatFS, where the network processor never looks."""
    data = pem.encode() if isinstance(pem, str) else pem
    if b"-----BEGIN CERTIFICATE-----" not in data:
        raise FtpError("the CA must be a PEM certificate (-----BEGIN CERTIFICATE-----)")
    with WipyFtp.from_url(url) as ftp:
        ftp.put_special("/flash/cert/ca.pem", data)
