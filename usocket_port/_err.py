# usocket_port._err: the texts of bad-input errors (usocket_port._bad() codes _B_* in __init__), loaded only
# when one is raised: on a board that compiles its modules itself (WiPy) a small module compiles in little heap.
import usocket_target as _t


def _bad(code, v):
    # usocket_port._bad(): the exception for bad input (codes _B_* in __init__).
    if code == 0:
        return OSError(_t.EINVAL, "address must be (dotted-quad IPv4 str, port); resolve names with "
                                  "getaddrinfo() (got %r)" % (v,))
    if code == 1:
        return OSError(_t.EINVAL, "port must be an int in 1-65535 (0 allowed only for bind), got %r" % (v,))
    if code == 3:
        return TypeError(v + " must be an int")
    if code == 4:
        return ValueError(v + " must be >= 0")
    if code == 5:
        return ValueError("nbytes is larger than the buffer")
    if code == 6:
        return OSError(_t.EOPNOTSUPP, "only AF_INET: the (ipv4_str, port) address format is IPv4-only")
    if code == 7:
        return OSError(_t.EINVAL, "already bound")
    if code == 8:
        return OSError(_t.EINVAL, "listen() needs bind() first")
    if code == 9:
        return OSError(_t.EINVAL, "accept() needs listen() first")
    if code == 10:
        return TypeError("value must be an int or a bytes-like object")
    if code == 12:  # getaddrinfo(host, port)
        if type(v[0]) is not str:
            return TypeError("host must be a str")
        return OSError(_t.EINVAL, "port must be an int in 0-65535, got %r" % (v[1],))
    if code == 13:
        return OSError(_en("ENOTCONN"), "a listening socket has no data: accept() a connection")
    if code == 14:
        return TypeError("readinto needs a writable buffer (bytearray, memoryview of one), not a read-only one")
    if code == 15:
        return OSError(_t.EOPNOTSUPP, "recv flags: this target has only %s" % (v,))
    return ValueError("makefile() supports only the binary modes 'rb', 'wb', 'rwb'")


def _en(name):
    # A named errno of the target that the core does not keep: the glue's, its errno module's, or its
    # fallback table (cc3200's errno module lacks most names).
    n = getattr(_t, name, None)
    if n is None:
        import errno
        n = getattr(errno, name, None)
    return n if n is not None else _t.ERRNO[name]
