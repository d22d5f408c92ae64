# Port model (wipy): the cc3200 `ssl` module (ports/cc3200/mods/modssl.c).  wrap_socket() does no TLS
# itself: it only records SimpleLink options (method, key/cert/CA file names) on the descriptor and returns
# an "SSL socket" sharing it; the network processor does the handshake inside connect() (see socket.py).
# ssl_version defaults to SL_SO_SEC_METHOD_TLSV1 (1): TLS 1.0 only (micropython issue 2343); any int goes
# to sl_SetSockOpt(SL_SO_SECMETHOD), so SL_SO_SEC_METHOD_SSLv3_TLSV1_2 (4, not exported) is accepted too.
# The CA name is used only for CERT_REQUIRED, with its first 6 characters ("/flash") stripped.
CERT_NONE = 0
CERT_OPTIONAL = 1
CERT_REQUIRED = 2
PROTOCOL_SSLv3 = 0
PROTOCOL_TLSv1 = 1
PROTOCOL_TLSv1_1 = 2
PROTOCOL_TLSv1_2 = 3
SSLError = OSError  # modssl.c: SSLError is OSError


def wrap_socket(sock, *, keyfile=None, certfile=None, server_side=False, cert_reqs=CERT_NONE,
                ssl_version=PROTOCOL_TLSv1, ca_certs=None):
    if type(ssl_version) is not int:
        raise TypeError("can't convert %s to int" % type(ssl_version).__name__)
    if cert_reqs != CERT_NONE and ca_certs is None:
        raise ValueError("invalid argument(s) value")
    if server_side and (keyfile is None or certfile is None):
        raise ValueError("invalid argument(s) value")
    # the CA file is used only for CERT_REQUIRED (modssl.c strips "/flash" and hands the rest to the NWP)
    ca = ca_certs if cert_reqs == CERT_REQUIRED else None
    return sock._secured(ca, ssl_version)
