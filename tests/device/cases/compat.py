# Tiny helpers shared by the device cases; MicroPython, CircuitPython and CPython alike.
#
# A case is a module-level function `case_xxx(env)`; the module's CLAUSES dict maps each case name to the
# clause ids (tests/device/clauses.py) it covers.  A case returns a small result dict, raises AssertionError
# on a failed check, or raises Skip("reason") when the target cannot run it.
import sys

try:
    import errno
except ImportError:  # pragma: no cover - every supported target has errno
    import uerrno as errno

try:
    import hashlib
except ImportError:
    import uhashlib as hashlib
try:
    import binascii
except ImportError:
    import ubinascii as binascii
import random
import time

import usocket_port as usocket

MICROPYTHON = sys.implementation.name in ("micropython", "circuitpython")


# How big a buffer a case may allocate in one piece.  A small board (WiPy 1.0: 48 KiB of heap, fragmented by
# compiling the modules it imports; an ESP32 without PSRAM) has no 8 KiB block free; boards with room keep the
# larger sizes.  (Free heap, not total: a virtual board holds back what the real one does not have.)
try:
    import gc
    _FREE = gc.mem_free()
except (ImportError, AttributeError):  # CPython
    _FREE = 1 << 30
SMALL = _FREE < 256 * 1024
BLOCK = 1024 if SMALL else 4096  # largest single buffer
TOTAL = 2 * 1024 if SMALL else 16 * 1024  # data a case holds whole (sent, and compared with its echo)


def holds(n):
    """True if the heap this board had free when compat was imported (right after a reset, for a case that wants
    one big object) can hold an object of n bytes while it grows (a moved realloc holds old and new: 2 n).  A
    64-bit MicroPython counts twice what a 32-bit board's objects take, and a virtual board's heap is doubled to
    match (docs/fidelity.md E19, W22), but a byte buffer is the same size on both: half the free heap is what
    the board has for it."""
    free = _FREE // 2 if MICROPYTHON and sys.maxsize > 1 << 32 else _FREE
    return free > 2 * n


class Skip(Exception):
    """The target cannot run this case; args[0] says why."""


if hasattr(time, "ticks_ms"):
    ticks_ms = time.ticks_ms
    ticks_diff = time.ticks_diff
    sleep_ms = time.sleep_ms
else:
    def ticks_ms():
        return time.monotonic_ns() // 1000000

    def ticks_diff(a, b):
        return a - b

    def sleep_ms(ms):
        time.sleep(ms / 1000)


def secs(ms):
    """ms as float seconds for settimeout(); Skip on firmware without float support (cc3200)."""
    try:
        return ms / 1000
    except (TypeError, NotImplementedError):
        raise Skip("no float support: sub-second timeouts cannot be expressed")


def elapsed_ms(t0):
    return ticks_diff(ticks_ms(), t0)


def err(name):
    """The running target's errno number for `name` (never hard-code 110/115: they differ per port).
    Some firmware's errno module lists only a few names (cc3200: EPERM EIO ENODEV EINVAL ETIMEDOUT); its glue
    then carries the rest in usocket_target.ERRNO."""
    n = getattr(errno, name, None)
    if n is None:
        import usocket_target
        n = getattr(usocket_target, "ERRNO", {}).get(name)
    if n is None:
        raise AssertionError("errno %s unknown on this target" % name)
    return n


def any_sockopt():
    """(level, option) of a boolean SOL_SOCKET option the target really has (cc3200 has no SO_REUSEADDR)."""
    for name in ("SO_REUSEADDR", "SO_KEEPALIVE", "SO_BROADCAST"):
        opt = getattr(usocket, name, None)
        if opt is not None:
            return usocket.SOL_SOCKET, opt
    raise Skip("the target exports no boolean SOL_SOCKET option")


def reuse(s):
    """SO_REUSEADDR where the target has it (listeners in quick succession); a no-op elsewhere."""
    opt = getattr(usocket, "SO_REUSEADDR", None)
    if opt is not None:
        s.setsockopt(usocket.SOL_SOCKET, opt, 1)


def chunks(total, lo=1, hi=BLOCK):
    """Random chunk sizes from lo to hi that add up to total."""
    out = []
    left = total
    while left:
        n = min(left, randint(lo, hi))
        out.append(n)
        left -= n
    return out


def check(cond, msg):
    if not cond:
        raise AssertionError(msg)


def expect_oserror(fn, names, what):
    """fn() must raise a plain OSError whose errno is one of `names` (errno names); returns the exception."""
    try:
        fn()
    except OSError as e:
        check(type(e) is OSError, "%s: %s leaked instead of plain OSError" % (what, type(e).__name__))
        nums = [err(n) for n in names]
        check(e.args[0] in nums, "%s: errno %r, expected %s" % (what, e.args[0], "/".join(names)))
        return e
    except Exception as e:
        raise AssertionError("%s: raised %s %r, expected OSError(%s)"
                             % (what, type(e).__name__, e, "/".join(names)))
    raise AssertionError("%s: no exception, expected OSError(%s)" % (what, "/".join(names)))


def expect_exc(fn, exc, what):
    try:
        fn()
    except exc as e:
        return e
    except Exception as e:
        raise AssertionError("%s: raised %s %r, expected %s" % (what, type(e).__name__, e, exc.__name__))
    raise AssertionError("%s: no exception, expected %s" % (what, exc.__name__))




def _buffering_hashlib():
    # WiPy's hashlib buffers a whole message in the heap unless the constructor is given its length
    # (ports/cc3200/mods/modhashlib.c; docs/wipy/general.rst); elsewhere a second argument is a TypeError.
    try:
        hashlib.sha256(b"abcd", 4)
        return True
    except TypeError:
        return False


_SIZED = _buffering_hashlib()


class Sha:
    """SHA-256 of a stream of chunks.  Give `total` (the stream's length) where it is known: on a hashlib that
    buffers (WiPy) the engine then gets the length up front and every chunk but the last as a multiple of 4
    bytes, so nothing is held in the heap."""

    def __init__(self, total=None):
        self.n = 0
        self.total = total if _SIZED and total else None
        self.h = None if self.total else hashlib.sha256()
        self.tail = b""

    def update(self, b):
        self.n += len(b)
        if self.total is None:
            self.h.update(b)
            return
        last = self.n >= self.total
        mv = memoryview(b)
        if self.tail:  # complete the carried 1-3 bytes to 4 first
            k = 4 - len(self.tail)
            self.tail += bytes(mv[:k])
            mv = mv[k:]
            if len(self.tail) < 4 and not last:
                return
            self._feed(self.tail)
            self.tail = b""
        k = len(mv) if last else len(mv) & ~3
        if k:
            self._feed(mv[:k])
        if k < len(mv):
            self.tail = bytes(mv[k:])

    def _feed(self, piece):
        if self.h is None:
            self.h = hashlib.sha256(piece, self.total)
        else:
            self.h.update(piece)

    def hex(self):
        if self.h is None:
            self.h = hashlib.sha256()
        return binascii.hexlify(self.h.digest()).decode()


def sha_stream(s, total):
    """Read s (readinto) to EOF in BLOCK pieces, hashing as the data arrives; the Sha (its n: the count)."""
    h = Sha(total)
    buf = bytearray(BLOCK)
    while True:
        k = s.readinto(buf)
        if not k:
            return h
        h.update(memoryview(buf)[:k])


def random_bytes(n):
    try:
        import os
        return os.urandom(n)
    except (ImportError, AttributeError):
        b = bytearray(n)
        for i in range(n):
            b[i] = random.getrandbits(8)
        return bytes(b)


def polled(entries, s, ev):
    """True if select.poll() entries report event bits ev for s (MicroPython returns the object itself,
    CPython its file descriptor)."""
    for e in entries:
        if (e[0] is s or (not MICROPYTHON and e[0] == s.fileno())) and e[1] & ev:
            return True
    return False


def randint(a, b):
    return random.randint(a, b)


def connect(addr, timeout=5):
    """A connected usocket_port stream socket with a generous timeout (no case may hang)."""
    s = usocket.socket()
    s.settimeout(timeout)
    s.connect(addr)
    return s


def recv_line(s, limit=256):
    out = bytearray()
    while len(out) < limit:
        d = s.recv(1)
        if not d:
            break
        out += d
        if d == b"\n":
            break
    return bytes(out)


def free_port_bind(s, env):
    """Bind s to some free port on env['bind_ip'] (the board's own address; the API has no getsockname(),
    so: bounded tries over a high range).  Returns the port."""
    host = env.get("bind_ip", "0.0.0.0")
    for _ in range(50):
        port = randint(20000, 60000)
        try:
            s.bind((host, port))
            return port
        except OSError as e:
            if e.args[0] != err("EADDRINUSE"):
                raise
    raise AssertionError("no free port found in 50 tries")


def sha256_hex(data):
    h = Sha(len(data))  # (sized: WiPy's hashlib would otherwise copy all of data into its buffer)
    h.update(data)
    return h.hex()
