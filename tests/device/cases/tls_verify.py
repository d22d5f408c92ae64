# (Not named tls.py: cases are deployed flat to /lib, and `tls` is a MicroPython builtin module.)
# Certificate checking for IPPROTO_SEC sockets, switched on by the one documented call on every target:
# usocket_port.tls_setup(ca_path[, hostname]).
#   tls_good       : TlsServer (echo) with a certificate for the address the board dials, signed by the CA
#   tls_wrong_ca   : same, signed by another CA
#   tls_wrong_host : signed by the CA, but for another address
#   tls_expired    : signed by the CA, expired
#   ca_pem         : the CA certificate, PEM text (the board stores it where its glue wants it)
#   ca_installed   : True when the host already put it there (a WiPy's network processor store, over FTP)
from compat import Skip, check, err

import usocket_port as usocket

CLAUSES = {
    "case_ipproto_sec_verify": ("const.IPPROTO_SEC", "ext.ipproto-sec", "ext.ipproto-sec.verify"),
    "case_ipproto_sec_wrong_host": ("ext.ipproto-sec.hostname",),
}


def _store_ca(env):
    # Where the firmware reads the CA from a file Python writes; a target whose TLS engine has its own CA
    # store (WiPy: written only over FTP, usocket_target.CA_UPLOAD) needs the host to have put it there.
    import os

    import usocket_target
    path = getattr(usocket_target, "CA_PATH", "ca.pem")
    why = getattr(usocket_target, "CA_UPLOAD", None)
    if env.get("ca_installed"):
        return path
    if why:
        raise Skip(why)
    pem = env["ca_pem"]
    d = ""
    for part in path.split("/")[1:-1] if path.startswith("/") else ():
        d += "/" + part
        try:
            os.mkdir(d)
        except OSError as e:
            if e.args[0] != err("EEXIST"):
                raise
    with open(path, "w") as f:
        f.write(pem)
    return path


def _connect(addr):
    s = usocket.socket(usocket.AF_INET, usocket.SOCK_STREAM, usocket.IPPROTO_SEC)
    s.settimeout(10)
    try:
        s.connect(addr)
    except Exception:
        s.close()
        raise
    return s


def _refused(addr, what):
    try:
        s = _connect(addr)
    except OSError as e:
        check(type(e) is OSError, "%s: %s leaked instead of plain OSError" % (what, type(e).__name__))
        return e.args[0]
    s.close()
    raise AssertionError("%s: the TLS connection was accepted" % what)


def case_ipproto_sec_verify(env):
    usocket.tls_setup(_store_ca(env))
    try:
        s = _connect(env["tls_good"])
        s.write(b"verified\n")
        check(s.readline() == b"verified\n", "echo over the verified TLS connection")
        s.close()
        codes = [_refused(env["tls_wrong_ca"], "certificate from another CA"),
                 _refused(env["tls_expired"], "expired certificate")]
    finally:
        usocket.tls_setup(None)
    return {"refusals": codes}


def case_ipproto_sec_wrong_host(env):
    import usocket_target
    why = getattr(usocket_target, "NO_HOSTNAME_CHECK", None)
    if why:
        raise Skip(why)
    usocket.tls_setup(_store_ca(env))
    try:
        code = _refused(env["tls_wrong_host"], "certificate for another host")
    finally:
        usocket.tls_setup(None)
    return {"refusal": code}
