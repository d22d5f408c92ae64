# usocket_port._read: read() and readline() of usocket_port.socket (reached through _more.read/readline),
# apart so that a board compiling its modules itself (WiPy) never holds their parse in one piece with _more's.
try:
    from micropython import const
except ImportError:  # CPython: const() is the identity on ints
    const = int

import usocket_target as _t

from usocket_port._more import _bad, _nb

# Same values as in usocket_port/__init__.py.
_LISTEN = const(4)
_NS = const(16)  # the native object is a MicroPython stream (readinto/write/read)
_RD = const(1)
_CHUNK = const(4096)  # read() to EOF of a non-stream socket: its reused chunk buffer
_PARTS = const(8)  # read(n): pieces kept before they are joined


def read(self, size=-1):
    # read(n): the native reads' own bytes, joined once at the end (not at all when the first one brought
    # everything): on a small heap only the result needs a free run of n bytes, the pieces fit in holes.
    # Data trickling in is joined every _PARTS pieces, so the pieces stay few objects.  Peak about twice
    # the data, never more.
    if size is None:
        size = -1
    if type(size) is not int:
        raise _bad(3, "size")
    s = self._n()
    if self._ms & _LISTEN:
        raise _bad(13, None)
    if size == 0:
        return b""
    if size > 0:
        parts = None
        k = 0
        dl = None
        while k < size:
            try:
                d = _t.recv(s, size - k)
            except OSError as e:
                n = _t.errno_of(e)
                if n != _t.EAGAIN:
                    raise OSError(n) from None
                if _nb(self):
                    break  # non-blocking: what is there (None if nothing, the MicroPython stream convention)
                dl = self._poll(_RD, dl, _t.EAGAIN)  # one deadline for the whole read
                continue
            if not d:
                if parts is None:
                    return d  # EOF
                break
            if parts is None:
                if len(d) == size:
                    return d  # the common case: one native call, no copy
                parts = [d]
            else:
                parts.append(d)
                if len(parts) == _PARTS:
                    parts = [b"".join(parts)]
            k += len(d)
        if parts is None:
            return None
        return parts[0] if len(parts) == 1 else b"".join(parts)
    # To EOF.  MicroPython streams: each native read() returns everything that has arrived, grown in one
    # buffer and handed over as bytes without a copy (py/stream.c stream_readall); joined once at EOF, not
    # at all when one read brought everything.  Other sockets (CircuitPython, CPython): recv_into one
    # reused chunk buffer appended to one bytearray (grown in place, no per-chunk objects), one bytes copy
    # at the end.
    ns = self._ms & _NS
    parts = []
    out = bytearray()
    c = None if ns else bytearray(_CHUNK)
    while True:
        try:
            if ns:
                d = self._run(_readall, _RD, None)
                n = len(d)
            else:
                n = self._rd(c, None, True)
        except OSError as e:
            if e.args[0] == _t.EAGAIN and _nb(self):
                if not parts and not out:
                    return None
                break
            raise
        if not n:
            break  # EOF
        if ns:
            parts.append(d)
        else:
            out += memoryview(c)[:n] if n < _CHUNK else c
    if not ns:
        return bytes(out)
    return parts[0] if len(parts) == 1 else b"".join(parts)


def _readall(s, n):
    # A MicroPython stream's own read(): all that is there now, grown in one buffer it then hands over as
    # bytes without a copy (py/stream.c stream_readall); None = would block.
    d = s.read()
    if d is None:
        raise OSError(_t.EAGAIN)
    return d


def readline(self):
    # Unbuffered (nothing read ahead is lost), one deadline for the whole line.  MicroPython streams: the
    # native readline() (C, byte by byte, returns what it has at "would block"; py/stream.c
    # stream_unbuffered_readline), waited for and continued here.  Others: byte by byte through readinto.
    s = self._n()
    if self._ms & _LISTEN:
        raise _bad(13, None)
    if self._ms & _NS:
        line = None
        dl = None
        while True:
            try:
                d = s.readline()
            except OSError as e:
                raise OSError(_t.errno_of(e)) from None
            if d is not None:
                line = line + d if line else d
                if not d or d[-1] == 10:
                    return line  # a whole line, or EOF (b"" / the last bytes without newline)
            if _nb(self):
                return line  # non-blocking: what is there (None if nothing)
            dl = self._poll(_RD, dl, _t.EAGAIN)
    line = bytearray()
    one = bytearray(1)
    while True:
        n = self.readinto(one)
        if n is None:  # non-blocking, nothing more there
            return bytes(line) if line else None
        if not n:
            break
        line.append(one[0])
        if one[0] == 10:
            break
    return bytes(line)


del const
