"""Third-party MicroPython libraries for the application tier, installed from PyPI by the suite itself.

These packages are upip-style sdists (the module files plus PKG-INFO, no setup.py), which `pip download`
refuses to prepare, so pip is used as a library for what it does do here: its finder with this machine's
pip configuration (index, certificates) picks the pinned release, its session downloads it, and the
SHA-256 pinned below must match before anything is unpacked.  The modules land in
build/applibs/lib/ (a /lib look-alike deployed next to usocket_port with --board-lib).
"""

from __future__ import annotations

import hashlib
import io
import tarfile
from dataclasses import dataclass
from pathlib import Path

from host_harness.errors import HilError


class AppLibError(HilError):
    """A pinned library could not be fetched or did not match its pin."""


@dataclass(frozen=True)
class Pin:
    name: str
    version: str
    sha256: str
    modules: tuple[str, ...]  # paths inside the sdist's top folder to deploy (folder/module.py)


PINS = (
    Pin("micropython-umqtt.simple", "1.3.4", "b6a2520239e3992c63a7de9370ee9b3d9d27819a90359c521f1c0f7ccab8d12f",
        ("umqtt/simple.py",)),
    Pin("micropython-urequests", "0.9.1", "15ed0132bcff1a84e87049d9d7780ce26df0810fa674aa89d187e17493d6e3c5",
        ("urequests/__init__.py",)),
)

DEFAULT_DIR = Path(__file__).resolve().parent.parent / "build" / "applibs"


def _download(pin: Pin) -> bytes:
    from pip._internal.commands import create_command
    from pip._vendor.packaging.specifiers import SpecifierSet

    cmd = create_command("download")
    options, _ = cmd.parse_args(["--quiet"])
    with cmd._build_session(options) as session:
        finder = cmd._build_package_finder(options=options, session=session)
        best = finder.find_best_candidate(pin.name, SpecifierSet(f"=={pin.version}")).best_candidate
        if best is None:
            raise AppLibError(f"{pin.name}=={pin.version}: not found by pip's index")
        resp = session.get(best.link.url, timeout=60)
        resp.raise_for_status()
        return resp.content


def ensure(dest: Path = DEFAULT_DIR) -> Path:
    """The /lib look-alike with every pinned library (fetched once; a pin mismatch is an error)."""
    lib = dest / "lib"
    stamp = dest / "pins.txt"
    want = "\n".join(f"{p.name}=={p.version} {p.sha256}" for p in PINS) + "\n"
    if stamp.exists() and stamp.read_text() == want and all((lib / m).exists() for p in PINS for m in p.modules):
        return lib
    for pin in PINS:
        try:
            data = _download(pin)
        except AppLibError:
            raise
        except Exception as exc:  # noqa: BLE001 - pip's network/index errors, one line for the user
            raise AppLibError(f"{pin.name}=={pin.version}: download failed: {exc}") from exc
        got = hashlib.sha256(data).hexdigest()
        if got != pin.sha256:
            raise AppLibError(f"{pin.name}=={pin.version}: sha256 {got} does not match the pin {pin.sha256}")
        top = f"{pin.name}-{pin.version}/"
        with tarfile.open(fileobj=io.BytesIO(data)) as tar:
            for m in pin.modules:
                member = tar.extractfile(top + m)
                if member is None:
                    raise AppLibError(f"{pin.name}=={pin.version}: {m} missing from the sdist")
                out = lib / m
                out.parent.mkdir(parents=True, exist_ok=True)
                out.write_bytes(member.read())
    stamp.write_text(want)
    return lib
