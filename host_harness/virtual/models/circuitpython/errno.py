# Port model (circuitpython): CircuitPython's `errno` module on espressif.  MICROPY_USE_INTERNAL_ERRNO is never
# set there, so the numbers are newlib's (py/mperrno.h -> ESP-IDF newlib errno.h); the name list is
# py/moderrno.c's default one.
from newlib_errno import *  # noqa: F403  (models/_common/newlib_errno.py)
