# Port models (esp32, wipy): what py/stream.c does around a port's socket read/write, for the socket methods both
# ports take from it (ports/esp32/modsocket.c, ports/cc3200/mods/modsocket.c: write = mp_stream_write_obj,
# readinto = mp_stream_readinto_obj, read = mp_stream_read(1)_obj).
_CHUNK = 256  # DEFAULT_BUFFER_SIZE, py/stream.c


def view(buf, write, a=None, b=None):
    # stream_readinto_write_generic(): the buffer first (MP_BUFFER_WRITE for readinto: bytes/str have none,
    # py/objstr.c mp_obj_str_get_buffer, so a TypeError before any I/O), then (buf, max_len) or
    # (buf, off, max_len) as size_t (mp_obj_get_int_truncated: a negative number is huge), off clamped.
    mv = memoryview(buf)
    if write:
        mv[0:0] = b""  # raises TypeError on a read-only buffer
    n = len(mv)
    off = 0
    if b is not None:
        off = _size(a, n)
        a = b
    if a is not None:
        n = _size(a, n)
    return mv[off:off + n]


def _size(v, n):
    if type(v) is not int:
        raise TypeError("can't convert %s to int" % type(v).__name__)
    return n if v < 0 or v > n else v


def readall(read1):
    # stream_readall(): read1(256) -> bytes, b'' (EOF) or None (would block) until EOF or "would block", one
    # growing buffer (a vstr extended by DEFAULT_BUFFER_SIZE); None if nothing came before "would block".
    # The pieces are kept and joined once: the one run of the whole size the firmware's vstr needs, not a
    # growing bytearray and then a copy of it (two runs of that size, which a small heap has not got).
    out = []
    while True:
        d = read1(_CHUNK)
        if d is None:
            if not out:
                return None
            break
        if not d:
            break
        out.append(d)
    return b"".join(out)
