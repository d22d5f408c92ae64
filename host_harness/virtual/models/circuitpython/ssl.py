# Port model (circuitpython): CircuitPython's native `ssl` (shared-bindings/ssl/*, shared-module/ssl/*) over
# the unix port's mbedTLS (`tls`).  create_default_context() -> SSLContext(load_verify_locations(cadata=PEM
# str) -- cafile/capath NotImplementedError, cadata="" turns verification off --, load_cert_chain,
# set_default_verify_paths, check_hostname); wrap_socket(sock, *, server_side=False, server_hostname=None)
# -> SSLSocket whose connect() does TCP connect + handshake: wrap BEFORE connect.  SSLSocket has accept,
# bind, close, connect, listen, recv_into, send, setblocking, setsockopt, settimeout (no sendall, no recv).
# WANT_READ/WANT_WRITE -> OSError(EWOULDBLOCK 11); a failed verification -> OSError(-9984)
# (MBEDTLS_ERR_X509_CERT_VERIFY_FAILED).  The built-in CA bundle is empty here: only cadata= CAs verify.
import binascii
import io

import tls

_EAGAIN = 11
_ETIMEDOUT = 116  # newlib (errno.py)
_VERIFY_FAILED = -9984


def _der(pem):
    i = pem.find("-----BEGIN CERTIFICATE-----")
    j = pem.find("-----END CERTIFICATE-----")
    if i < 0 or j < i:
        raise ValueError("invalid cadata")
    # the unix build's mbedTLS takes DER only: convert (CircuitPython itself parses the PEM text)
    return binascii.a2b_base64("".join(pem[i + 27:j].split()))


class SSLContext:
    def __init__(self):
        self._ca = None
        self._none = False
        self.check_hostname = True

    def load_verify_locations(self, cafile=None, capath=None, cadata=None):
        if cafile is not None or capath is not None:
            raise NotImplementedError("Only cadata is supported")
        if cadata == "":
            self._none = True  # neither bundle nor CA: MBEDTLS_SSL_VERIFY_NONE (undocumented)
            self._ca = None
        else:
            self._ca = _der(cadata)
            self._none = False

    def load_cert_chain(self, certfile, keyfile):
        raise NotImplementedError("model: client certificates not modelled")

    def set_default_verify_paths(self):
        self._none = False
        self._ca = None

    def wrap_socket(self, sock, *, server_side=False, server_hostname=None):
        if server_side:
            raise NotImplementedError("model: server side not modelled")
        return SSLSocket(self, sock, server_hostname)


def create_default_context():
    return SSLContext()


class SSLSocket(io.IOBase):  # IOBase: pollable on the unix port (CP: C stream protocol)
    def __init__(self, ctx, sock, host):
        self._ctx = ctx
        self._sock = sock
        self._host = host
        self._t = None

    def connect(self, address):
        self._sock.connect(address)  # TCP, with the socket's own timeout
        c = tls.SSLContext(tls.PROTOCOL_TLS_CLIENT)
        if self._ctx._none:
            c.verify_mode = tls.CERT_NONE
        else:
            c.verify_mode = tls.CERT_REQUIRED
            if self._ctx._ca is None:
                raise OSError(_VERIFY_FAILED)  # the (empty) bundle trusts nobody
            c.load_verify_locations(self._ctx._ca)
        raw = self._sock._s
        ms = self._sock._ms
        raw.setblocking(True)
        raw.settimeout(None if ms < 0 else (ms / 1000 if ms else 10))
        try:
            self._t = c.wrap_socket(raw, server_hostname=self._host if self._ctx.check_hostname else None)
        except ValueError:
            raise OSError(_VERIFY_FAILED)
        except OSError as e:
            # The handshake reads through the socketpool socket, whose timeout is ETIMEDOUT 116 (newlib); the
            # negated errno comes back up as that OSError (shared-module/ssl/SSLSocket.c _mbedtls_ssl_recv,
            # mbedtls_raise_error_flags).  This unix socket says Linux's 110 (or EAGAIN): the board's number.
            if e.args[0] in (110, _EAGAIN):
                raise OSError(_ETIMEDOUT)
            raise
        finally:
            raw.setblocking(False)
        self._t.setblocking(False)

    def _wait(self, ev):
        ms = self._sock._ms
        if ms == 0:
            raise OSError(_EAGAIN)
        import select
        p = select.poll()
        p.register(self._sock._s, ev)
        if not p.poll(ms if ms > 0 else -1):
            raise OSError(_ETIMEDOUT)

    def recv_into(self, buffer, bufsize=0):
        mv = memoryview(buffer)
        if bufsize:
            mv = mv[:bufsize]
        while True:
            try:
                d = self._t.recv(len(mv))
            except OSError as e:
                if e.args[0] != _EAGAIN:
                    raise
                d = None
            if d is not None:
                mv[:len(d)] = d
                return len(d)
            self._wait(1)

    def send(self, buf):
        while True:
            try:
                n = self._t.write(buf)
            except OSError as e:
                if e.args[0] != _EAGAIN:
                    raise
                n = None
            if n is not None:
                return n
            self._wait(4)

    def setblocking(self, flag):
        self._sock.setblocking(flag)

    def settimeout(self, value):
        self._sock.settimeout(value)

    def setsockopt(self, *args):
        self._sock.setsockopt(*args)

    def close(self):
        if self._t is not None:
            try:
                self._t.close()
            except OSError:
                pass
            self._t = None
        self._sock.close()

    def ioctl(self, req, arg):
        return self._sock.ioctl(req, arg)
