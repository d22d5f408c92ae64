# IPPROTO_SEC over MicroPython's `tls` module (extmod/modtls_mbedtls.c; `ssl` before v1.23): plain TCP
# connect first, then wrap -- MicroPython's order.  Shared by the glues whose firmware has that module
# (ports/unix, ports/esp32); the core never imports it.  tls_setup() is THE call that turns certificate
# checking on (docs/ports.md); without it IPPROTO_SEC does no verification, like WiPy's CERT_NONE default.
import errno

try:
    from micropython import const
except ImportError:
    const = int

_CERT_FAILED = const(-9984)  # MBEDTLS_ERR_X509_CERT_VERIFY_FAILED (-0x2700)
_BEGIN = "-----BEGIN CERTIFICATE-----"
_END = "-----END CERTIFICATE-----"

_ca = None  # DER bytes of the CA (None: no verification)
_host = None  # name the certificate must carry (None: the IP given to connect())


def der(pem):
    # First certificate of a PEM text -> DER: some mbedTLS builds (the unix wheel among them) take DER only.
    import binascii
    if type(pem) is not str:
        pem = pem.decode()
    i = pem.find(_BEGIN)
    j = pem.find(_END)
    if i < 0 or j < i:
        raise OSError(errno.EINVAL, "no PEM certificate in the CA file")
    return binascii.a2b_base64("".join(pem[i + len(_BEGIN):j].split()))


def tls_setup(ca_path=None, hostname=None):
    global _ca, _host
    if ca_path is None:
        _ca = None
    else:
        try:
            with open(ca_path) as f:
                _ca = der(f.read())
        except OSError as e:
            if e.args and e.args[0] == errno.EINVAL:
                raise
            raise OSError(e.args[0] if e.args else errno.EIO, "cannot read CA file %r" % (ca_path,))
    _host = hostname


def secure(s, host, ms):
    import sys
    m = getattr(sys.modules.get("usocket_port._ssl"), "_tls", None)  # after install(): the native one
    if m is None:
        try:
            import tls as m
        except ImportError:
            import ssl as m
    ctx = m.SSLContext(m.PROTOCOL_TLS_CLIENT)
    if _ca is None:
        ctx.verify_mode = m.CERT_NONE
    else:
        ctx.verify_mode = m.CERT_REQUIRED
        ctx.load_verify_locations(_ca)  # the C tls module takes it positionally
    # The handshake gets what is left of connect()'s deadline (ms, -1: none): one deadline for both.
    s.settimeout(None if ms < 0 else (ms if ms > 0 else 1) / 1000)
    try:
        t = ctx.wrap_socket(s, server_hostname=_host or host)
    except ValueError as e:
        # modtls_mbedtls raises ValueError(text) for a certificate it refuses: the seed says OSError.
        s.close()
        raise OSError(_CERT_FAILED, str(e))
    except OSError:
        s.close()
        raise
    t.setblocking(False)
    return t
