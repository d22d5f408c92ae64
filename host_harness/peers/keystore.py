"""The test peers' RSA keys, made once and kept in the state folder ($USOCKET_HIL_STATE/tls-keys.pem, mode 0600)
for every later run: generating the four a run needs (KEYS_PER_PROCESS) costs 0.3-0.5 CPU s, on the
way to the first TLS case of every run (in a pool: beside the boards' bring-up).  Every run still makes its own
certificates (certs.py: a CA, its leaves, the rogue CA), signed with these keys; the keys only ever protect
connections between this host's peers and its own test boards.  Delete the file to get new ones.
"""

from __future__ import annotations

import contextlib
import os
import re
from pathlib import Path

from ..state import KEYS_FILE, state_dir

STORE_NAME = KEYS_FILE
KEYS_PER_PROCESS = 4  # the CA's, the rogue CA's, the shared leaf's, the client cert's (certs.material_for's items)
_PEM = re.compile(r"-----BEGIN RSA PRIVATE KEY-----\n.+?\n-----END RSA PRIVATE KEY-----\n", re.S)


def store_path() -> Path:
    return state_dir() / STORE_NAME


# This run's keys as another process of it handed them over (seed_keys: an xdist worker gets its controller's).
# Kept as PEM: parsing them needs cryptography, which a worker without TLS cases never imports.
_handed_over: list[str] = []


def seed_keys(pems: list[str]) -> None:
    """Use these keys (stored_keys' PEM, from another process of this run) before the store's."""
    _handed_over[:] = pems


def run_keys(n: int) -> list[str]:
    """`n` keys for this process: those handed over (seed_keys), else the store's."""
    return _handed_over[:n] if len(_handed_over) >= n else stored_keys(n)


def new_pem() -> str:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    return rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption()).decode("ascii")


def stored_keys(n: int, path: Path | None = None) -> list[str]:
    """`n` RSA keys as PEM: the store's first `n`, the store made (or completed) first when it holds fewer.
    A store that cannot be read or written (a read-only state folder) costs only the time: the keys are then
    this run's own."""
    path = path or store_path()
    try:
        pems = _PEM.findall(path.read_text(encoding="ascii"))
    except (OSError, UnicodeDecodeError):
        pems = []
    if len(pems) >= n:
        return pems[:n]
    pems += [new_pem() for _ in range(n - len(pems))]
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    try:  # (two runs completing it at once: the last rename wins, and either's keys are valid)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as f:
            f.write("".join(pems))
        os.replace(tmp, path)
    except OSError:
        with contextlib.suppress(OSError):
            tmp.unlink()
    return pems
