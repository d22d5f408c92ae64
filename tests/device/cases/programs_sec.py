# The seed-only program over TLS: what a user writes from the usocket documentation alone with IPPROTO_SEC.
#   tls_echo: a TLS echo peer (no client certificate; the board does not verify the server's)
# A module of its own: on a small board (WiPy 1.0: 48 KiB) each case module starts in a fresh heap
# (tests/device/test_conformance.py _fresh_heap), so this one does not work in what the plain programs
# (programs.py: an HTTP client, an accept-loop server) left fragmented.
from compat import TOTAL, Skip, check, random_bytes

import usocket_port as usocket

CLAUSES = {
    "case_ipproto_sec_echo": ("const.IPPROTO_SEC", "ext.ipproto-sec"),
}


def case_ipproto_sec_echo(env):
    # WiPy's IPPROTO_SEC: a socket created with it does a TLS client handshake in connect() (no certificate
    # verification, WiPy's CERT_NONE default); then the usual methods carry TLS.  env["tls_echo"]: TLS echo.
    if "tls_echo" not in env:
        raise Skip("no TLS echo peer in env")
    s = usocket.socket(usocket.AF_INET, usocket.SOCK_STREAM, usocket.IPPROTO_SEC)
    s.settimeout(10)
    s.connect(env["tls_echo"])
    data = random_bytes(min(3000, TOTAL))  # (compat sizes it for a small heap)
    s.write(data)
    got = s.read(len(data))
    check(got == data, "TLS echo corrupted (%d bytes back)" % len(got))
    s.write(b"tls line\n")
    check(s.readline() == b"tls line\n", "TLS readline")
    s.close()
    return {"bytes": len(data)}
