# Virtual board (vboard.py): the .mpy check of a float-less firmware (cc3200: MICROPY_FLOAT_IMPL_NONE), which
# refuses a float or complex constant while it loads a .mpy (docs/fidelity.md W27).  A file of its own, loaded
# with the port model only when its _firmware.py says NO_FLOAT: a board of another firmware compiles no more of
# this program at start-up than before (virtual-unix runs in a 128k heap).


def float_constant(path):
    # Whether a bytecode .mpy holds a float or complex constant, which a float-less firmware refuses while it
    # loads the file (py/persistentcode.c mp_raw_code_load: the 4-byte header, the qstr table, then the constant
    # objects, each a type byte of py/persistentcode.h MP_PERSISTENT_OBJ_*: 1-4 carry no data, 10 is a tuple of
    # objects, 8 float and 9 complex are refused, any other a length and its bytes, plus a NUL for 5 str and
    # 6 bytes).  Anything else (native code, another version, a short file) is left to the interpreter's load.
    c = bytearray(1)
    try:
        with open(path, "rb") as f:
            d = f.read(4)
            if len(d) != 4 or d[0] != 77 or d[1] != 6 or d[2] & 0xFC:
                return False
            q = _uint(f, c)
            n = _uint(f, c)
            while q:
                k = _uint(f, c)
                if not k & 1:  # (odd: a qstr of the firmware's own, no text)
                    f.seek((k >> 1) + 1, 1)
                q -= 1
            while n:
                t = _uint(f, c)  # (a type byte is below 0x80: one byte)
                n -= 1
                if t == 8 or t == 9:
                    return True
                if t == 10:
                    n += _uint(f, c)
                elif t > 4:
                    f.seek(_uint(f, c) + (t == 5 or t == 6), 1)
    except OSError:
        pass
    return False


def _uint(f, c):
    # py/persistentcode.c read_uint: 7 bits a byte, high bit set on all but the last
    v = 0
    while True:
        if not f.readinto(c):
            raise OSError(5)  # a short file: the interpreter's load reports it
        v = v << 7 | c[0] & 0x7F
        if not c[0] & 0x80:
            return v
