# usocket_port._install: usocket_port.install() (docs/usocket_port.md, "install()"), reached through the
# package's module __getattr__.
import usocket_port as _c


def install():
    # usocket_port.install() (docs/usocket_port.md, "install()").  `import` consults sys.modules before
    # built-ins and the filesystem (MicroPython: py/builtinimport.c looks the name up in the loaded-modules
    # dict first), so this beats MicroPython >= 1.21's built-in alias `usocket` -> `socket` (py/objmodule.c)
    # as well as CPython's own modules.  `ssl`, `ussl` and `tls` become usocket_port/_ssl.py: a library that
    # calls ssl.wrap_socket() on one of our sockets gets TLS through the glue.  Libraries written for
    # MicroPython also import `ustruct`, `ubinascii`, `ujson`...: where the firmware lacks such a u-name
    # (CPython, CircuitPython) it is given the plain module.
    import sys

    m = sys.modules
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
    m["socket"] = _c  # (after the TLS modules: CPython's ssl imports socket)
    m["usocket"] = _c
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
