"""TLS peers: real handshakes with CPython's ssl and with the micropython unix port's mbedTLS."""

from __future__ import annotations

import datetime as dt
import ipaddress
import socket
import ssl
import subprocess
import textwrap
from pathlib import Path

import pytest
from cryptography import x509
from peer_helpers import micropython_or_skip, no_listener_survives  # noqa: F401  (autouse fixture)

from host_harness.peers import MtlsServer, TlsExpired, TlsServer, TlsWrongCa, TlsWrongHost
from host_harness.peers.certs import NOT_BEFORE


def _client_ctx(server: TlsServer, cadata: bytes | str | None = None) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # CERT_REQUIRED + check_hostname
    ctx.load_verify_locations(cadata=server.ca_der if cadata is None else cadata)
    return ctx


def _tls_echo(server: TlsServer, ctx: ssl.SSLContext, payload: bytes = b"hello over tls") -> bytes:
    raw = socket.create_connection(server.address, timeout=5)
    with ctx.wrap_socket(raw, server_hostname=server.server_hostname) as s:
        s.sendall(payload)
        got = b""
        while len(got) < len(payload):
            chunk = s.recv(len(payload) - len(got))
            if not chunk:
                break
            got += chunk
        return got


@pytest.mark.parametrize("ca_format", ["der", "pem"])
def test_tls_echo_with_the_right_ca(ca_format: str) -> None:
    with TlsServer() as server:
        assert isinstance(server.ca_pem, str) and server.ca_pem.startswith("-----BEGIN CERTIFICATE-----")
        cadata = server.ca_der if ca_format == "der" else server.ca_pem
        assert _tls_echo(server, _client_ctx(server, cadata)) == b"hello over tls"
        rec = server.result(0)
        assert rec.error is None and rec.note and rec.note.startswith("handshake ok")
        assert rec.bytes_in == len(b"hello over tls")


def test_server_certificate_fits_boards_without_rtc() -> None:
    with TlsServer() as server:
        cert = x509.load_der_x509_certificate(server.cert_der)
        assert cert.not_valid_before_utc == NOT_BEFORE == dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
        assert cert.not_valid_after_utc.year >= 2049
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        assert ipaddress.ip_address("127.0.0.1") in san.get_values_for_type(x509.IPAddress)
        ca = x509.load_der_x509_certificate(server.ca_der)
        assert ca.not_valid_before_utc == NOT_BEFORE
        assert cert.issuer == ca.subject
        # PEM and DER are the same certificate.
        assert x509.load_pem_x509_certificate(server.ca_pem.encode()) == ca


@pytest.mark.parametrize(
    ("peer_cls", "reason"),
    [
        (TlsWrongCa, "unable to get local issuer certificate"),
        (TlsWrongHost, "IP address mismatch"),
        (TlsExpired, "certificate has expired"),
    ],
)
def test_bad_certificates_are_refused(peer_cls: type[TlsServer], reason: str) -> None:
    with peer_cls() as server:
        with pytest.raises(ssl.SSLCertVerificationError, match=reason):
            _tls_echo(server, _client_ctx(server))
        rec = server.result(0)
        assert rec.error and rec.error.startswith("handshake")


def test_mtls_requires_the_client_certificate(tmp_path: Path) -> None:
    with MtlsServer() as server:
        # Without a client cert: refused.  (TLS 1.3 reports it on the first read, not in connect.)
        with pytest.raises(ssl.SSLError):
            _tls_echo(server, _client_ctx(server))
        assert (server.result(0).error or "").startswith("handshake")
        # With the client cert signed by the test CA: accepted.
        cert, key = tmp_path / "client.pem", tmp_path / "client.key"
        cert.write_text(server.client_cert_pem)
        key.write_text(server.client_key_pem)
        ctx = _client_ctx(server)
        ctx.load_cert_chain(cert, key)
        assert _tls_echo(server, ctx) == b"hello over tls"
        assert server.result(1).error is None
        # DER and PEM forms of the client material are the same cert.
        assert x509.load_der_x509_certificate(server.client_cert_der) == x509.load_pem_x509_certificate(
            server.client_cert_pem.encode()
        )


def _mp_tls_client(server: TlsServer, *, client_cert: bool = False) -> str:
    """A micropython script: verify the server with DER cadata, echo once, print the reply or errno."""
    chain = ""
    if client_cert:
        chain = f"ctx.load_cert_chain({server.client_cert_der!r}, {server.client_key_der!r})\n"
    return (
        textwrap.dedent(f"""
        import socket, ssl
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.load_verify_locations(cadata={server.ca_der!r})
    """)
        + chain
        + textwrap.dedent(f"""
        s = socket.socket()
        s.connect(socket.getaddrinfo({server.address[0]!r}, {server.port})[0][-1])
        try:
            t = ctx.wrap_socket(s, server_hostname={server.server_hostname!r})
            t.write(b"mp tls")
            print(t.read(6).decode())
            t.close()
        except (OSError, ValueError) as e:
            # mbedTLS verify failures: OSError(-0x2700) or, in the unix build, ValueError(reason).
            print("refused", type(e).__name__, " ".join(str(a) for a in e.args).replace("\\n", " "))
            s.close()
    """)
    )


def _run_mp(code: str, argv_prefix: list[str] | None = None) -> str:
    res = subprocess.run(
        [*(argv_prefix or []), micropython_or_skip(), "-c", code], capture_output=True, text=True, timeout=30
    )
    assert res.returncode == 0, res.stderr
    return res.stdout.strip()


def test_micropython_tls_client_verifies_the_server() -> None:
    with TlsServer() as server:
        assert _run_mp(_mp_tls_client(server)) == "mp tls"
        assert server.result(0).error is None


@pytest.mark.parametrize(
    ("peer_cls", "reason"),
    [
        (TlsWrongCa, "not correctly signed by the trusted CA"),
        (TlsWrongHost, "does not match"),
        (TlsExpired, "validity has expired"),  # the unix build checks against the host clock
    ],
)
def test_micropython_tls_client_refuses_bad_certificates(peer_cls: type[TlsServer], reason: str) -> None:
    with peer_cls() as server:
        out = _run_mp(_mp_tls_client(server))
        assert out.startswith("refused") and reason in out, out
        assert (server.result(0).error or "").startswith("handshake")


def test_micropython_mtls_client_with_der_cert() -> None:
    with MtlsServer() as server:
        assert _run_mp(_mp_tls_client(server)).startswith("refused")
        assert "did not return a certificate" in (server.result(0).error or "")
        assert _run_mp(_mp_tls_client(server, client_cert=True)) == "mp tls"
        assert server.result(1).error is None
