"""host_harness/applibs.py: the application tier's pinned sdists through the package index's public Simple API
(pypi-simple), checked against the index's digest and the pin, installed once.  A local PEP 503 index on
loopback (http.server) stands in for PyPI where a test needs one it controls; one test fetches the real pins."""

from __future__ import annotations

import hashlib
import http.server
import io
import socket
import subprocess
import sys
import tarfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from host_harness import applibs
from host_harness.applibs import AppLibError, Pin


def _sdist(name: str, version: str, files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for path, data in {"PKG-INFO": b"Metadata-Version: 1.0\n", **files}.items():
            info = tarfile.TarInfo(f"{name}-{version}/{path}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


@pytest.fixture
def index(tmp_path: Path) -> Iterator[dict]:
    """A PEP 503 index on 127.0.0.1 with one project, micropython-fake 1.0 (module fake/__init__.py)."""
    root = tmp_path / "index"
    data = _sdist("micropython-fake", "1.0", {"fake/__init__.py": b"X = 1\n"})
    digest = hashlib.sha256(data).hexdigest()
    (root / "files").mkdir(parents=True)
    (root / "files" / "micropython-fake-1.0.tar.gz").write_bytes(data)
    (root / "simple" / "micropython-fake").mkdir(parents=True)
    (root / "simple" / "micropython-fake" / "index.html").write_text(
        f'<html><body><a href="../../files/micropython-fake-1.0.tar.gz#sha256={digest}">'
        "micropython-fake-1.0.tar.gz</a></body></html>")

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a, **k) -> None:
            super().__init__(*a, directory=str(root), **k)

        def log_message(self, *a) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield {"url": f"http://127.0.0.1:{server.server_address[1]}/simple/", "sha256": digest, "root": root,
               "pin": Pin("micropython-fake", "1.0", digest, ("fake/__init__.py",))}
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # nothing listens there once the socket is closed


def test_installs_the_pinned_module_from_the_index(index, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("PIP_INDEX_URL", index["url"])
    monkeypatch.setattr(applibs, "PINS", (index["pin"],))
    lib = applibs.ensure(tmp_path / "out")
    assert (lib / "fake" / "__init__.py").read_bytes() == b"X = 1\n"
    assert not (lib / "PKG-INFO").exists()  # only the pinned module paths are deployed


def test_a_second_run_downloads_nothing(index, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("PIP_INDEX_URL", index["url"])
    monkeypatch.setattr(applibs, "PINS", (index["pin"],))
    lib = applibs.ensure(tmp_path / "out")
    monkeypatch.setenv("PIP_INDEX_URL", f"http://127.0.0.1:{_closed_port()}/simple/")  # any request would fail
    assert applibs.ensure(tmp_path / "out") == lib


def test_offline_is_one_clear_line(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("PIP_INDEX_URL", f"http://127.0.0.1:{_closed_port()}/simple/")
    with pytest.raises(AppLibError) as err:
        applibs.ensure(tmp_path / "out")
    text = str(err.value)
    assert "\n" not in text and "cannot download" in text and "offline?" in text, text
    assert not (tmp_path / "out" / "pins.txt").exists()


def test_a_release_the_index_lacks_is_named(index, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("PIP_INDEX_URL", index["url"])
    monkeypatch.setattr(applibs, "PINS", (Pin("micropython-fake", "2.0", "0" * 64, ("fake/__init__.py",)),))
    with pytest.raises(AppLibError, match=r"micropython-fake==2.0: the package index .* has no sdist"):
        applibs.ensure(tmp_path / "out")


def test_a_file_that_is_not_the_pinned_one_is_refused(index, tmp_path: Path, monkeypatch) -> None:
    """The index serves another file (its digest agrees with it): the pin still refuses it, nothing installed."""
    monkeypatch.setenv("PIP_INDEX_URL", index["url"])
    monkeypatch.setattr(applibs, "PINS", (Pin("micropython-fake", "1.0", "1" * 64, ("fake/__init__.py",)),))
    with pytest.raises(AppLibError, match="does not match the pin"):
        applibs.ensure(tmp_path / "out")
    assert not (tmp_path / "out" / "lib" / "fake").exists() and not (tmp_path / "out" / "pins.txt").exists()


def test_a_download_unlike_the_index_digest_is_refused(index, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("PIP_INDEX_URL", index["url"])
    monkeypatch.setattr(applibs, "PINS", (index["pin"],))
    (index["root"] / "files" / "micropython-fake-1.0.tar.gz").write_bytes(b"tampered")
    with pytest.raises(AppLibError, match="does not match the index's digest"):
        applibs.ensure(tmp_path / "out")


def test_the_real_pins_from_pypi_through_no_pip_internals(tmp_path: Path) -> None:
    """The pinned releases as the suite gets them, in a fresh process that never imports pip."""
    code = ("import sys; from pathlib import Path; from host_harness import applibs; "
            f"lib = applibs.ensure(Path({str(tmp_path)!r})); "
            "assert not [m for m in sys.modules if m == 'pip' or m.startswith('pip.')], 'pip imported'; "
            "print(sorted(str(p.relative_to(lib)) for p in lib.rglob('*.py')))")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                       cwd=Path(__file__).resolve().parents[2])
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == "['umqtt/simple.py', 'urequests/__init__.py']"
