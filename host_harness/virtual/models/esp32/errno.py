# Port model (esp32): the `errno` module of MicroPython's esp32 port.  That build sets
# MICROPY_USE_INTERNAL_ERRNO (0), so the numbers are newlib's (py/mperrno.h -> ESP-IDF newlib errno.h), and
# the name list is py/moderrno.c's default one (no EPIPE, EISCONN, EINTR).
from newlib_errno import *  # noqa: F403  (models/_common/newlib_errno.py)
