"""Third-party MicroPython libraries for the application tier, installed from PyPI by the suite itself.

These packages are upip-style sdists (the module files plus PKG-INFO, no setup.py or pyproject.toml), which
`pip download` refuses ("does not appear to be a Python project"): pip cannot fetch a file it cannot build.
So the sdist is taken from the package index's Simple Repository API (PEP 503/691) with the `pypi-simple`
client: the project page names the release's sdist and its digest, the download is checked against that
digest and then against the SHA-256 pinned below before anything is unpacked.  The index is $PIP_INDEX_URL
when set (a mirror), else PyPI; $PIP_CERT, when set, is the CA bundle for it, as for pip.

The modules land in build/applibs/lib/ (a /lib look-alike deployed next to usocket_port with --board-lib);
pins.txt there records what was installed, so later runs (and the suites `make test` runs in parallel, under
a lock) download nothing.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import tarfile
import tempfile
from collections.abc import Iterator
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
PYPI_SIMPLE = "https://pypi.org/simple/"
TIMEOUT_S = 30.0  # per request (connect, then each read); two small files in all


def index_url() -> str:
    return os.environ.get("PIP_INDEX_URL") or PYPI_SIMPLE


def _fetch(pin: Pin, dest: Path) -> None:
    """Download the pinned sdist to `dest` (checked against the index's digest); AppLibError otherwise."""
    import requests
    from pypi_simple import DigestMismatchError, NoDigestsError, NoSuchProjectError, PyPISimple

    url = index_url()
    what = f"{pin.name}=={pin.version}"
    session = requests.Session()
    if os.environ.get("PIP_CERT"):
        session.verify = os.environ["PIP_CERT"]
    try:
        with PyPISimple(endpoint=url, session=session) as index:
            page = index.get_project_page(pin.name, timeout=TIMEOUT_S)
            sdist = next((p for p in page.packages if p.version == pin.version and p.package_type == "sdist"),
                         None)
            if sdist is None:
                raise AppLibError(f"{what}: the package index {url} has no sdist of this release")
            index.download_package(sdist, dest, timeout=TIMEOUT_S)
    except NoSuchProjectError:
        raise AppLibError(f"{what}: the package index {url} has no project {pin.name}") from None
    except (DigestMismatchError, NoDigestsError) as exc:
        raise AppLibError(f"{what}: the download does not match the index's digest: {exc}") from None
    except requests.RequestException as exc:
        raise AppLibError(f"{what}: cannot download from {url} (offline?): {type(exc).__name__}") from None


def _install(pin: Pin, sdist: Path, lib: Path) -> None:
    got = hashlib.sha256(sdist.read_bytes()).hexdigest()
    if got != pin.sha256:
        raise AppLibError(f"{pin.name}=={pin.version}: sha256 {got} does not match the pin {pin.sha256}")
    top = f"{pin.name}-{pin.version}/"
    with tarfile.open(sdist) as tar:
        for m in pin.modules:
            try:
                member = tar.extractfile(top + m)
            except KeyError:
                member = None
            if member is None:
                raise AppLibError(f"{pin.name}=={pin.version}: {m} missing from the sdist")
            out = lib / m
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_bytes(member.read())


@contextlib.contextmanager
def _locked(dest: Path) -> Iterator[None]:
    dest.mkdir(parents=True, exist_ok=True)
    with open(dest / ".lock", "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)  # parallel suites: one downloads, the others then find it installed
        yield


def ensure(dest: Path = DEFAULT_DIR) -> Path:
    """The /lib look-alike with every pinned library (fetched once; a pin mismatch is an error)."""
    lib = dest / "lib"
    stamp = dest / "pins.txt"
    want = "\n".join(f"{p.name}=={p.version} {p.sha256}" for p in PINS) + "\n"

    def installed() -> bool:
        return (stamp.exists() and stamp.read_text() == want
                and all((lib / m).exists() for p in PINS for m in p.modules))

    if installed():
        return lib
    with _locked(dest):
        if installed():
            return lib
        stamp.unlink(missing_ok=True)
        with tempfile.TemporaryDirectory(dir=dest) as tmp:
            for pin in PINS:
                sdist = Path(tmp) / f"{pin.name}-{pin.version}.tar.gz"
                _fetch(pin, sdist)
                _install(pin, sdist, lib)
        stamp.write_text(want)
    return lib


if __name__ == "__main__":  # `python -m host_harness.applibs`: fetch the pinned libraries, print their folder
    import sys

    try:
        print(ensure())
    except HilError as exc:
        print(f"applibs: error: {exc}", file=sys.stderr)
        sys.exit(2)
