"""TLS echo peers: a good server, an mTLS server, and servers presenting deliberately bad certificates."""

from __future__ import annotations

import os
import socket
import ssl
import tempfile
from pathlib import Path
from typing import Unpack

from host_harness.peers.base import Connection, PeerError, StreamOptions, StreamPeer
from host_harness.peers.certs import CertKey, TlsMaterial, material_for


def _server_context(cert: CertKey, ca: CertKey | None) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    # ssl only loads a cert chain from files: write them to a private temp dir and remove it at once
    # (the context keeps the loaded copy).
    with tempfile.TemporaryDirectory(prefix="uhil-tls-") as d:
        cert_path, key_path = Path(d, "cert.pem"), Path(d, "key.pem")
        cert_path.write_text(cert.cert_pem)
        fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(cert.key_pem)
        ctx.load_cert_chain(cert_path, key_path)
    if ca is not None:
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.load_verify_locations(cadata=ca.cert_der)
    return ctx


class TlsServer(StreamPeer):
    """TLS echo: completes the handshake, then echoes every byte back until the client closes.

    The certificate is issued for `bind_host` (IP SAN, plus the same string as a DNS SAN and
    "localhost" for loopback), notBefore 2000-01-01, signed by the shared test CA.  Clients trust
    ``.ca_der`` (MicroPython ``cadata=``) or ``.ca_pem`` (CircuitPython, a str) and use
    ``.server_hostname``.  With `require_client_cert=True` (see MtlsServer) a client must present a
    cert signed by the same CA: ``.client_cert_der/_pem`` + ``.client_key_der/_pem``.

    A failed handshake is recorded on the connection: ``result(i).error`` starts with "handshake".
    """

    cert_kind = "good"

    def __init__(
        self,
        bind_host: str = "127.0.0.1",
        *,
        require_client_cert: bool = False,
        key_type: str = "rsa",
        material: TlsMaterial | None = None,
        **options: Unpack[StreamOptions],
    ) -> None:
        self.material = material or material_for(bind_host, key_type)
        self.require_client_cert = require_client_cert
        try:
            self.presented = self.material.server_variant(self.cert_kind)
            self.context = _server_context(self.presented, self.material.ca if require_client_cert else None)
        except (ssl.SSLError, OSError, ValueError) as exc:
            raise PeerError(f"{type(self).__name__}: cannot set up TLS: {exc}") from exc
        super().__init__(bind_host, **options)

    # what a client needs --------------------------------------------------------------------------

    @property
    def server_hostname(self) -> str:
        return self.material.host

    @property
    def ca_der(self) -> bytes:
        return self.material.ca.cert_der

    @property
    def ca_pem(self) -> str:
        return self.material.ca.cert_pem

    @property
    def cert_der(self) -> bytes:
        return self.presented.cert_der

    @property
    def cert_pem(self) -> str:
        return self.presented.cert_pem

    @property
    def key_der(self) -> bytes:
        return self.presented.key_der

    @property
    def key_pem(self) -> str:
        return self.presented.key_pem

    @property
    def client_cert_der(self) -> bytes:
        return self.material.client.cert_der

    @property
    def client_cert_pem(self) -> str:
        return self.material.client.cert_pem

    @property
    def client_key_der(self) -> bytes:
        return self.material.client.key_der

    @property
    def client_key_pem(self) -> str:
        return self.material.client.key_pem

    # serving ------------------------------------------------------------------------------------

    def handle(self, rec: Connection, conn: socket.socket) -> None:
        try:
            tls = self.context.wrap_socket(conn, server_side=True, do_handshake_on_connect=False)
            self._replace_socket(rec, tls)
            tls.do_handshake()  # bounded by the connection's idle timeout
        except (ssl.SSLError, OSError) as exc:
            rec.error = f"handshake: {exc}"
            return
        rec.note = f"handshake ok ({tls.version()})"
        while data := self.recv_some(rec, tls):
            self.send_all(rec, tls, data)


class MtlsServer(TlsServer):
    """TlsServer that requires a client certificate signed by the test CA (mutual TLS)."""

    def __init__(self, bind_host: str = "127.0.0.1", **kwargs: object) -> None:
        kwargs.setdefault("require_client_cert", True)
        super().__init__(bind_host, **kwargs)  # type: ignore[arg-type]


class TlsWrongCa(TlsServer):
    """Presents a cert valid for bind_host but signed by an unrelated CA: verifying clients refuse it."""

    cert_kind = "wrong_ca"


class TlsWrongHost(TlsServer):
    """Presents a cert signed by the test CA for another address (203.0.113.7, wrong-host.invalid)."""

    cert_kind = "wrong_host"


class TlsExpired(TlsServer):
    """Presents a cert signed by the test CA for bind_host that expired on 2001-01-01.

    A client with a correct clock refuses it; a board whose clock still says 2000 accepts it.
    """

    cert_kind = "expired"
