# usocket_port.install(): make the names a third-party library imports resolve to usocket_port.
#
# `import` consults sys.modules before built-ins and the filesystem (MicroPython: py/builtinimport.c looks
# the name up in the loaded-modules dict first), so this beats MicroPython >= 1.21's built-in alias
# `usocket` -> `socket` (py/objmodule.c) as well as CPython's own modules.  `ssl`, `ussl` and `tls` become
# usocket_port/_ssl.py: a library that calls ssl.wrap_socket() on one of our sockets gets TLS through the
# target's glue (the native ssl module cannot wrap our socket objects).  Libraries written for MicroPython
# also import `ustruct`, `ubinascii`, `ujson`...: where the firmware lacks such a u-name (CPython,
# CircuitPython) it is given the plain module, so those libraries import there too.
import sys

import usocket_port


def run():
    m = sys.modules
    m["socket"] = usocket_port
    m["usocket"] = usocket_port
    from usocket_port import _ssl
    if _ssl._native is None:
        # The firmware's own TLS modules, taken before their names are ours: the shim hands `ssl` every
        # native socket (glues wrap those) and every name it does not define itself; _mptls uses `tls`.
        t = s = None
        try:
            t = __import__("tls")
        except ImportError:
            pass
        try:
            s = __import__("ssl")
        except ImportError:
            pass
        _ssl._native = s or t
        _ssl._tls = t or s
    m["ssl"] = _ssl
    m["ussl"] = _ssl
    m["tls"] = _ssl
    # (Only modules that never import socket: on CPython, `asyncio`/`select` users must keep the real one.)
    for n in ("struct", "binascii", "json", "errno", "hashlib", "time", "io", "os", "random", "re",
              "collections", "zlib"):
        u = "u" + n
        if u in m:
            continue
        try:
            __import__(u)
        except ImportError:
            try:
                m[u] = __import__(n)
            except ImportError:
                pass
