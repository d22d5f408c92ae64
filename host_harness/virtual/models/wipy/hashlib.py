# Port model (wipy): the cc3200 `hashlib` (ports/cc3200/mods/modhashlib.c over the CC3200's SHA engine), built on
# this interpreter's own hashlib (reached as uhashlib).  Reproduced:
#   * sha1 and sha256 only (md5 is commented out upstream); methods update() and digest() only;
#   * sha256([data]): the engine must know the length before it starts, so every update() is buffered in the
#     heap (m_renew: the whole message, plus a copy while it grows) and digested at digest();
#   * sha256(data, block_size): the engine starts at once for block_size bytes; data and each further update()
#     go straight in.  Every chunk but the last must be a multiple of 4 bytes, else the hash is wrong
#     ("care must be taken", docs/wipy/general.rst; the model's wrong value is its own, the engine's is
#     unspecified); an update() once block_size bytes are in, or digest() before, is OSError(EPERM).
import uhashlib as _h

_EPERM = 1  # MP_EPERM


class _Hash:
    def __init__(self, data=None, block_size=None):
        self._fixed = block_size is not None
        self._buf = bytearray()
        self._b = 0  # b_size: the fixed length, or the bytes buffered
        self._c = 0  # c_size: bytes fed to the engine
        self._bad = False
        self._e = None
        if self._fixed:
            if data is None:
                raise TypeError("block_size needs initial data")
            self._b = block_size
            self._e = self._new()
            self._feed(data)
        elif data is not None:
            self.update(data)

    def _feed(self, data):
        n = len(data)
        if n & 3 and self._c + n < self._b:
            self._bad = True  # a misaligned intermediate chunk: the engine's result is no longer the hash
        self._e.update(data)
        self._c += n

    def update(self, data):
        if self._fixed:
            if self._c >= self._b:
                raise OSError(_EPERM)
            self._feed(data)
        else:
            self._buf.extend(data)  # hash_update_internal(): m_renew + copy
            self._b += len(data)

    def digest(self):
        if self._fixed:
            if self._c < self._b:
                raise OSError(_EPERM)
            d = self._e.digest() if self._e is not None else b""
            if self._bad:
                d = self._new(b"misaligned" + d).digest()
            self._e = _Done(d)
            return d
        e = self._new()
        e.update(self._buf)
        return e.digest()


class _Done:
    # digest() may be called again: the result is kept (self->digested)
    def __init__(self, d):
        self._d = d

    def digest(self):
        return self._d


class sha1(_Hash):
    def _new(self, data=b""):
        return _h.sha1(data)


class sha256(_Hash):
    def _new(self, data=b""):
        return _h.sha256(data)
