"""File operations on a board over a BoardSession: mpremote's fs_* calls under the session's deadlines.

A mixin of BoardSession (session.py): kept apart so the session is only the raw-REPL exchange and its
recovery.  mpremote's exceptions become the harness's: RemoteFileError (the board said no), TransportError
(the link), BoardError (a board traceback).
"""

from __future__ import annotations

import contextlib
import errno
from collections.abc import Iterator

import serial

from ..errors import HilError, TransportError
from .mpremote_adapter import Deadline, MpTransportError, SerialTransport, TransportExecError
from .result import BoardError, parse_traceback


class RemoteFileError(HilError):
    """A file operation failed on the board (missing file, read-only filesystem, ...)."""


class FileOps:
    """put_file/get_file/sha256/exists/remove; expects BoardSession's url, deadline(), _resync(), ..."""

    @contextlib.contextmanager
    def _fs_op(self, what: str, remote: str, timeout: float) -> Iterator[SerialTransport]:
        """Run mpremote fs_* calls under a deadline, turning their exceptions into HilErrors."""
        if not self._ready:
            err = self._resync(min(timeout, self.open_timeout))
            if err:
                raise TransportError(err)
        self._ready = False
        try:
            with self.deadline(timeout):
                yield self.transport
        except Deadline:
            raise TransportError(f"{self.url}: {what} did not finish within {timeout:g} s") from None
        except TransportExecError as exc:
            self._ready = True  # the board answered with a traceback: the REPL is fine
            tb = parse_traceback(exc.error_output)
            raise BoardError(f"{what}: board raised {tb.exc_type}: {tb.exc_message}") from None
        except OSError as exc:
            if exc.strerror != remote or isinstance(exc, serial.SerialException):  # the link, not the board
                self._close_transport()
                raise TransportError(f"{self.url}: {what}: {one_line(exc)}") from None
            # mpremote turns a board-side OSError traceback into OSError(errno, <remote path>)
            self._ready = True
            raise RemoteFileError(f"{what}: {_errno_text(exc)}") from None
        except MpTransportError as exc:
            raise TransportError(f"{self.url}: {what}: {one_line(exc)}") from None
        self._ready = True

    def put_file(self, remote: str, data: bytes, *, timeout: float = 60.0, chunk_size: int = 256) -> None:
        """Write `data` to `remote` on the board (raw-paste execs of `chunk_size` bytes each)."""
        with self._fs_op(f"write {remote}", remote, timeout) as t:
            t.fs_writefile(remote, data, chunk_size=chunk_size)

    def get_file(self, remote: str, *, timeout: float = 60.0) -> bytes:
        with self._fs_op(f"read {remote}", remote, timeout) as t:
            return bytes(t.fs_readfile(remote))

    def sha256(self, remote: str, *, timeout: float = 30.0) -> bytes | None:
        """The board's sha256 of `remote`, or None if it does not exist."""
        try:
            with self._fs_op(f"hash {remote}", remote, timeout) as t:
                return t.fs_hashfile(remote, "sha256")
        except RemoteFileError as exc:
            if "ENOENT" in str(exc):
                return None
            raise

    def exists(self, remote: str, *, timeout: float = 10.0) -> bool:
        # Not mpremote's fs_exists: it maps every OSError to False, a lost link included.
        code = f"import os\ntry:\n os.stat({remote!r})\n print(1)\nexcept OSError:\n print(0)"
        r = self.exec(code, timeout)
        return r.check().text().strip() == "1"

    def remove(self, remote: str, *, timeout: float = 10.0) -> None:
        with self._fs_op(f"remove {remote}", remote, timeout) as t:
            t.fs_rmfile(remote)


def one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:200]


def _errno_text(exc: OSError) -> str:
    name = errno.errorcode.get(exc.errno or 0)
    return f"[Errno {exc.errno}] {name}" if name else one_line(exc)
