"""Test certificates built with `cryptography`: a CA, server certs (good and deliberately bad), a client cert.

Why not trustme alone: we need exact control of validity (notBefore 2000-01-01, because a board without
an RTC believes it is 2000; an expired cert), SANs for an arbitrary IP, and a second "rogue" CA.

Formats (port-semantics §7): MicroPython's mbedTLS wants DER (`cadata=ca_der`, `load_cert_chain(der, der)`);
CircuitPython wants a PEM *str* for `load_verify_locations(cadata=ca_pem)`; CPython takes either.
Keys are RSA-2048 by default (every embedded mbedTLS build has RSA); private keys are in the traditional
(PKCS#1 / SEC1) encoding, which old mbedTLS versions also parse.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import threading
from dataclasses import dataclass
from functools import cached_property

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from .keystore import KEYS_PER_PROCESS, run_keys

UTC = dt.UTC
NOT_BEFORE = dt.datetime(2000, 1, 1, tzinfo=UTC)
# Before 2050 the validity is encoded as UTCTime, which every X.509 parser handles.
NOT_AFTER = dt.datetime(2049, 12, 31, 23, 59, 59, tzinfo=UTC)
EXPIRED_NOT_AFTER = dt.datetime(2001, 1, 1, tzinfo=UTC)
WRONG_HOST_IP = "203.0.113.7"  # TEST-NET-3: only ever written into a certificate, never contacted
WRONG_HOST_NAME = "wrong-host.invalid"

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


# Keys handed out before any is generated here: those another process of this run handed over, else the
# state folder's (keystore.py run_keys).  RSA only: it is the default, and the costly one.
_seeded: list[PrivateKey] = []
_seed_lock = threading.Lock()
_stored = [False]  # whether this process took its keys yet


def new_key(key_type: str = "rsa") -> PrivateKey:
    if key_type == "rsa":
        with _seed_lock:
            if not _seeded and not _stored[0]:
                _stored[0] = True
                _seeded[:] = _load(run_keys(KEYS_PER_PROCESS))
            if _seeded:
                return _seeded.pop(0)
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    if key_type == "ec":
        return ec.generate_private_key(ec.SECP256R1())
    raise ValueError(f"key_type must be 'rsa' or 'ec', not {key_type!r}")


def _load(pems: list[str]) -> list[PrivateKey]:
    # (no key validation: it costs more than generating, and these are our own store's or this run's)
    keys = [serialization.load_pem_private_key(p.encode("ascii"), password=None, unsafe_skip_rsa_key_validation=True)
            for p in pems]
    return [k for k in keys if isinstance(k, rsa.RSAPrivateKey)]


@dataclass(frozen=True)
class CertKey:
    """A certificate and its private key, in DER (bytes) and PEM (str)."""

    cert: x509.Certificate
    key: PrivateKey

    @property
    def cert_der(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.DER)

    @property
    def cert_pem(self) -> str:
        return self.cert.public_bytes(serialization.Encoding.PEM).decode("ascii")

    @property
    def key_der(self) -> bytes:
        return self._private_bytes(serialization.Encoding.DER)

    @property
    def key_pem(self) -> str:
        return self._private_bytes(serialization.Encoding.PEM).decode("ascii")

    def _private_bytes(self, encoding: serialization.Encoding) -> bytes:
        return self.key.private_bytes(encoding, serialization.PrivateFormat.TraditionalOpenSSL,
                                      serialization.NoEncryption())


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "usocket-hil test"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _san_for(hosts: tuple[str, ...]) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = []
    for h in hosts:
        try:
            ip = ipaddress.ip_address(h)
        except ValueError:
            names.append(x509.DNSName(h))
            continue
        names.append(x509.IPAddress(ip))
        # mbedTLS builds without IP-SAN matching compare server_hostname with dNSName entries as
        # strings, so the IP also appears as a dNSName (CPython matches the IP entry and ignores it).
        names.append(x509.DNSName(h))
        if ip.is_loopback:
            names.append(x509.DNSName("localhost"))
    return names


class CertAuthority:
    """A self-signed CA that issues server and client certificates."""

    def __init__(self, common_name: str = "usocket-hil test CA", key_type: str = "rsa") -> None:
        self.key_type = key_type
        key = new_key(key_type)
        name = _name(common_name)
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(NOT_BEFORE)
            .not_valid_after(NOT_AFTER)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256())
        )
        self.ca = CertKey(cert, key)

    def issue(
        self,
        *hosts: str,
        common_name: str | None = None,
        client: bool = False,
        key: PrivateKey | None = None,
        not_before: dt.datetime = NOT_BEFORE,
        not_after: dt.datetime = NOT_AFTER,
    ) -> CertKey:
        """Issue a leaf: a server cert for `hosts` (IPs and/or DNS names), or a client cert."""
        key = key or new_key(self.key_type)
        cn = common_name or (hosts[0] if hosts else "usocket-hil client")
        usage = ExtendedKeyUsageOID.CLIENT_AUTH if client else ExtendedKeyUsageOID.SERVER_AUTH
        builder = (
            x509.CertificateBuilder()
            .subject_name(_name(cn))
            .issuer_name(self.ca.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before)
            .not_valid_after(not_after)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.ca.key.public_key()), critical=False
            )
        )
        if hosts:
            builder = builder.add_extension(x509.SubjectAlternativeName(_san_for(hosts)), critical=False)
        return CertKey(builder.sign(self.ca.key, hashes.SHA256()), key)


class TlsMaterial:
    """Everything a TLS peer for `host` needs; each item is generated on first use.

    `ca` is the CA clients should trust.  `server` is valid for `host`; `wrong_ca_server` is valid for
    `host` but signed by an unrelated CA; `wrong_host_server` is signed by `ca` for another address;
    `expired_server` is signed by `ca` for `host` but expired in 2001 (a board whose clock still says
    2000 accepts it: the check needs a set clock).  `client` is a client cert signed by `ca` (mTLS).
    """

    def __init__(self, host: str, ca: CertAuthority, leaf_key: PrivateKey) -> None:
        self.host = host
        self._ca = ca
        self._leaf_key = leaf_key  # one key for all server variants: they differ only in what is signed

    @property
    def ca(self) -> CertKey:
        return self._ca.ca

    @cached_property
    def server(self) -> CertKey:
        return self._ca.issue(self.host, key=self._leaf_key)

    @cached_property
    def client(self) -> CertKey:
        return self._ca.issue(common_name="usocket-hil client", client=True)

    @cached_property
    def wrong_ca_server(self) -> CertKey:
        return _rogue_ca(self._ca.key_type).issue(self.host, key=self._leaf_key)

    @cached_property
    def wrong_host_server(self) -> CertKey:
        return self._ca.issue(WRONG_HOST_IP, WRONG_HOST_NAME, key=self._leaf_key)

    @cached_property
    def expired_server(self) -> CertKey:
        return self._ca.issue(self.host, key=self._leaf_key, not_after=EXPIRED_NOT_AFTER)

    def server_variant(self, kind: str) -> CertKey:
        variants = {
            "good": "server",
            "wrong_ca": "wrong_ca_server",
            "wrong_host": "wrong_host_server",
            "expired": "expired_server",
        }
        if kind not in variants:
            raise ValueError(f"unknown server certificate kind {kind!r}; one of {', '.join(variants)}")
        return getattr(self, variants[kind])


# Key generation dominates the cost (RSA-2048 ≈ 50-100 ms each), so one CA, one rogue CA and one
# leaf key per process, and one material set per host, are shared by every peer.
_cache_lock = threading.Lock()
_cas: dict[str, CertAuthority] = {}
_rogues: dict[str, CertAuthority] = {}
_leaf_keys: dict[str, PrivateKey] = {}
_materials: dict[tuple[str, str], TlsMaterial] = {}


def default_ca(key_type: str = "rsa") -> CertAuthority:
    with _cache_lock:
        if key_type not in _cas:
            _cas[key_type] = CertAuthority(key_type=key_type)
        return _cas[key_type]


def _rogue_ca(key_type: str) -> CertAuthority:
    with _cache_lock:
        if key_type not in _rogues:
            _rogues[key_type] = CertAuthority("usocket-hil rogue CA", key_type=key_type)
        return _rogues[key_type]


def material_for(host: str, key_type: str = "rsa") -> TlsMaterial:
    """The (cached) TLS material for a peer bound to `host`."""
    ca = default_ca(key_type)
    with _cache_lock:
        if key_type not in _leaf_keys:
            _leaf_keys[key_type] = new_key(key_type)
        key = (host, key_type)
        if key not in _materials:
            _materials[key] = TlsMaterial(host, ca, _leaf_keys[key_type])
        return _materials[key]
