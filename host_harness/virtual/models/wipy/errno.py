# Port model (wipy): the cc3200 `errno` module.  ports/cc3200/mpconfigport.h overrides MICROPY_PY_ERRNO_LIST
# to these five names and turns MICROPY_PY_ERRNO_ERRORCODE off (no `errorcode`); the numbers are
# MicroPython's internal (Linux) ones, MICROPY_USE_INTERNAL_ERRNO (1).
EPERM = 1
EIO = 5
ENODEV = 19
EINVAL = 22
ETIMEDOUT = 110


def __getattr__(name):
    # Any other name: TERSE error reporting (ports/cc3200/mpconfigport.h MICROPY_ERROR_REPORTING), whose
    # py/runtime.c mp_load_attr says only "no such attribute".
    raise AttributeError("no such attribute")
