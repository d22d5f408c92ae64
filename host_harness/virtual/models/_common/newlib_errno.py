# Shared by the esp32 and circuitpython models: both builds take their errno numbers from newlib
# (MICROPY_USE_INTERNAL_ERRNO unset or 0; py/mperrno.h -> ESP-IDF newlib errno.h), and the name list is
# py/moderrno.c's default one (no EPIPE, EISCONN, EINTR).
EPERM = 1
ENOENT = 2
EIO = 5
EBADF = 9
EAGAIN = 11
ENOMEM = 12
EACCES = 13
EEXIST = 17
ENODEV = 19
EISDIR = 21
EINVAL = 22
EOPNOTSUPP = 95
ECONNRESET = 104
ENOBUFS = 105
ECONNREFUSED = 111
EADDRINUSE = 112
ECONNABORTED = 113
ETIMEDOUT = 116
EHOSTUNREACH = 118
EINPROGRESS = 119
EALREADY = 120
ENOTCONN = 128

errorcode = {}
for _k, _v in list(globals().items()):
    if _k[0] == "E":
        errorcode[_v] = _k
del _k, _v
