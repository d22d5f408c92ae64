# usocket_port.install(): make the names a third-party library imports resolve to usocket_port.
#
# sys.modules is consulted by `import` before built-ins and the filesystem on MicroPython (py/builtinimport.c:
# mp_builtin___import__ looks the name up in mp_loaded_modules_dict first), so this beats MicroPython
# >= 1.21's built-in alias `usocket` -> `socket` (py/objmodule.c) as well as CPython's own modules.
# `ssl`, `ussl` and `tls` become usocket_port/_ssl.py: a library that calls ssl.wrap_socket() on one of our
# sockets gets TLS through the target's glue (the native ssl module cannot wrap our socket objects).
import sys

import usocket_port


def run():
    m = sys.modules
    m["socket"] = usocket_port
    m["usocket"] = usocket_port
    from usocket_port import _ssl
    m["ssl"] = _ssl
    m["ussl"] = _ssl
    m["tls"] = _ssl
