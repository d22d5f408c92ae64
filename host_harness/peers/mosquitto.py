"""A real MQTT broker for the application tier: Debian's mosquitto, started per peer on loopback with a
plain and a TLS listener (certificate from host_harness/peers/certs.py for the address the board uses),
reached by the board through two TcpRelay peers bound where it can reach them.

The broker dies with its owner, also when the owner is killed with SIGKILL and no close() runs: it gets a
parent-death signal (PR_SET_PDEATHSIG, prctl(2)), which the kernel clears when a process changes its
credentials -- so, run as root, mosquitto gets `user root` in its configuration, which keeps it from dropping
to user mosquitto.  Its files (config, test certificate and key) are removed once it listens (it reads them
at start only) and its log is an unnamed file: a killed owner leaves nothing on disk either.  The signal
follows the *thread* that started the broker: start it from one that lives as long as the broker is needed.

`make` installs mosquitto when absent; without it the peer raises PeerError naming the missing program.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
from pathlib import Path
from typing import IO

from host_harness.peers.base import PeerError, SocketFactory, registry
from host_harness.peers.certs import material_for
from host_harness.peers.relay import TcpRelay

_START_S = 10.0
_STOP_S = 5.0
_PR_SET_PDEATHSIG = 1  # linux/prctl.h


def mosquitto_path() -> str | None:
    return shutil.which("mosquitto") or next(
        (p for p in ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto") if os.access(p, os.X_OK)), None)


def _free_loopback_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _die_with(owner: int) -> None:
    """preexec_fn: SIGKILL when the owner goes; an owner already gone before the signal was armed ends it too."""
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != owner:
        os._exit(1)


def accepts(port: int) -> bool:
    """Something accepts TCP connections on 127.0.0.1:`port`."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def serves_tls(port: int) -> bool:
    """A TLS handshake succeeds on 127.0.0.1:`port` (the certificate itself is not checked here)."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s, ctx.wrap_socket(s):
            return True
    except (OSError, ssl.SSLError):
        return False


class Mosquitto:
    """mosquitto with `address` (plain MQTT) and `tls_address` (MQTT over TLS, `ca_pem` signs it)."""

    def __init__(self, bind_host: str = "127.0.0.1", *, socket_factory: SocketFactory = socket.socket) -> None:
        exe = mosquitto_path()
        if exe is None:
            raise PeerError("Mosquitto: the mosquitto program is not installed (make installs Debian's package)")
        self._dir = Path(tempfile.mkdtemp(prefix="usocket-hil-mqtt-"))
        self._proc: subprocess.Popen | None = None
        self._log: IO[bytes] | None = None
        self._relays: list[TcpRelay] = []
        self._closed = False
        try:
            self._start(exe, bind_host, socket_factory)
        except BaseException:
            self.close()
            raise
        registry.add(self)

    def _start(self, exe: str, bind_host: str, socket_factory: SocketFactory) -> None:
        material = material_for(bind_host)
        self.ca_pem = material.ca.cert_pem
        cert, key = self._dir / "server.pem", self._dir / "server.key"
        cert.write_text(material.server.cert_pem)
        key.write_text(material.server.key_pem)
        plain, tls = _free_loopback_port(), _free_loopback_port()
        conf = self._dir / "mosquitto.conf"
        conf.write_text(
            ("user root\n" if os.geteuid() == 0 else "")  # no setuid: the parent-death signal stays armed
            + "per_listener_settings false\nallow_anonymous true\npersistence false\nlog_dest stderr\n"
            "log_type error\nlog_type warning\nlog_type notice\nmax_packet_size 1048576\n"
            f"listener {plain} 127.0.0.1\n"
            f"listener {tls} 127.0.0.1\ncertfile {cert}\nkeyfile {key}\n")
        self.broker_ports = (plain, tls)  # its own listeners on loopback (the relays front them)
        self._log = tempfile.TemporaryFile(prefix="usocket-hil-mqtt-")  # unnamed: nothing left if we are killed
        me = os.getpid()
        self._proc = subprocess.Popen([exe, "-c", str(conf)], stdin=subprocess.DEVNULL, stdout=self._log,
                                      stderr=subprocess.STDOUT, start_new_session=True,
                                      preexec_fn=lambda: _die_with(me))
        deadline = time.monotonic() + _START_S
        # Listening is not enough: mosquitto opens its listen sockets before it loads the TLS certificate and key
        # (removed too early, it exits with "Unable to load server certificate"): a TLS handshake says they are in.
        while not (accepts(plain) and serves_tls(tls)):
            if self._proc.poll() is not None or time.monotonic() > deadline:
                raise PeerError(f"Mosquitto: broker did not start within {_START_S:.0f} s: {self.log_tail()}")
            time.sleep(0.05)
        shutil.rmtree(self._dir, ignore_errors=True)  # read at start only (no SIGHUP reload is ever sent)
        self._relays = [TcpRelay(bind_host, target=("127.0.0.1", plain), socket_factory=socket_factory,
                                 max_connections=32),
                        TcpRelay(bind_host, target=("127.0.0.1", tls), socket_factory=socket_factory,
                                 max_connections=32)]
        self.address = self._relays[0].address
        self.tls_address = self._relays[1].address

    def log_tail(self, n: int = 5) -> str:
        try:
            assert self._log is not None
            self._log.seek(0)
            text = self._log.read().decode(errors="replace")
        except (AssertionError, OSError, ValueError):
            return "(no log)"
        return " | ".join(text.strip().splitlines()[-n:])

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for r in self._relays:
            r.close()
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(_STOP_S)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(_STOP_S)
        shutil.rmtree(self._dir, ignore_errors=True)
        if self._log is not None:
            self._log.close()
        registry.remove(self)

    def __enter__(self) -> Mosquitto:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<Mosquitto {getattr(self, 'address', '?')} {'closed' if self._closed else 'open'}>"
