"""Deploy device files to a board's filesystem in one raw-REPL session, copying only what changed.

Steps: hash every target locally; ask the board for the sha256 of all of them in ONE exec (missing -> None);
create missing parent folders; copy the changed files (mpremote's fs_writefile, raw-paste); remove a stale
`.py` when its `.mpy` is deployed and vice versa (MicroPython prefers .py over .mpy at import, so a leftover
.py would silently win); then import the top-level modules on the board to prove the set loads.

A board's deploy set is usocket_port/ (core) + ports/<target>/ (glue), all placed in /lib, as .mpy compiled
with the board's mpy_arch unless that is "none" (or .py is asked for).
"""

from __future__ import annotations

import ast
import hashlib
import posixpath
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .boards import Board
from .errors import HilError
from .mpy import compile_mpy
from .resources import core_dir, port_dir
from .transport import BoardSession

REMOTE_LIB = "/lib"
CORE_PACKAGE = "usocket_port"
MODULE_EXTS = (".py", ".mpy")


class DeployError(HilError):
    """The deploy set is missing or malformed, or the board could not take or import it."""


@dataclass(frozen=True)
class DeployFile:
    remote: str  # absolute path on the board, e.g. /lib/usocket_port/__init__.mpy
    data: bytes
    source: Path | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "remote", _absolute(self.remote))

    @property
    def sha256(self) -> bytes:
        return hashlib.sha256(self.data).digest()

    @classmethod
    def from_path(cls, path: Path, remote: str) -> DeployFile:
        try:
            return cls(remote, Path(path).read_bytes(), Path(path))
        except OSError as exc:
            raise DeployError(f"cannot read {path}: {exc.strerror}") from None


@dataclass
class DeployReport:
    copied: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    verified: list[str] = field(default_factory=list)  # modules imported on the board afterwards
    bytes_copied: int = 0
    seconds: float = 0.0

    def summary(self) -> str:
        return (f"{len(self.copied)} copied ({self.bytes_copied} bytes), {len(self.skipped)} up to date, "
                f"{len(self.removed)} stale removed, imported {', '.join(self.verified) or 'nothing'} "
                f"in {self.seconds:.2f} s")


def _absolute(remote: str) -> str:
    if not remote.startswith("/"):
        raise DeployError(f"board path {remote!r} must be absolute (e.g. /lib/{remote})")
    norm = posixpath.normpath(remote)
    if norm in ("/", "") or ".." in norm.split("/"):
        raise DeployError(f"board path {remote!r} is not a file path")
    return norm


def _module_of(remote: str, lib: str = REMOTE_LIB) -> str | None:
    """Top-level module a file under `lib` provides: /lib/pkg/x.mpy -> pkg, /lib/mod.py -> mod."""
    if not remote.startswith(lib + "/"):
        return None
    first = remote[len(lib) + 1:].split("/", 1)[0]
    stem, ext = posixpath.splitext(first)
    if "/" in remote[len(lib) + 1:]:
        return first
    return stem if ext in MODULE_EXTS else None


def _twin(remote: str) -> str | None:
    """The same module with the other extension (.py <-> .mpy)."""
    stem, ext = posixpath.splitext(remote)
    if ext == ".py":
        return stem + ".mpy"
    if ext == ".mpy":
        return stem + ".py"
    return None


# --- building deploy sets --------------------------------------------------------------------------------
def _sources(core: Path, glue: Path) -> list[tuple[Path, str]]:
    """(local file, path relative to /lib) for the core package and the target glue."""
    if not (core / "__init__.py").is_file():
        raise DeployError(f"device core not found: {core}/__init__.py does not exist")
    if not glue.is_dir() or not any(glue.glob("*.py")):
        raise DeployError(f"no target glue in {glue} (expected usocket_target.py)")
    out = [(p, f"{CORE_PACKAGE}/{p.relative_to(core).as_posix()}")
           for p in sorted(core.rglob("*.py")) if "__pycache__" not in p.parts]
    out += [(p, p.name) for p in sorted(glue.glob("*.py"))]
    return out


def build_files(sources: Iterable[tuple[Path, str]], *, mpy_arch: str | None,
                remote_dir: str = REMOTE_LIB) -> list[DeployFile]:
    """DeployFiles for (local .py, path under remote_dir) pairs: .mpy for `mpy_arch`, plain .py if None."""
    files = []
    for path, rel in sources:
        remote = _absolute(f"{remote_dir}/{rel}")
        if mpy_arch is None:
            files.append(DeployFile.from_path(path, remote))
        else:
            data = compile_mpy(path, arch=mpy_arch, source_name=rel)
            files.append(DeployFile(remote[: -len(".py")] + ".mpy", data, path))
    return files


def board_files(board: Board, *, py: bool = False, core: Path | None = None,
                glue: Path | None = None) -> list[DeployFile]:
    """The deploy set for `board`: usocket_port/ + ports/<target>/ under /lib."""
    if board.kind == "host":
        raise DeployError(f"board {board.name} runs on the host (no board filesystem to deploy to)")
    arch = None if py or board.mpy_arch == "none" else board.mpy_arch
    return build_files(_sources(core or core_dir(), glue or port_dir(board.target)), mpy_arch=arch)


# --- talking to the board --------------------------------------------------------------------------------
# One exec: sha256 of every target (None if missing; b"" if the board has no hashlib, which never matches),
# which twin/prune candidates exist, and the listing of folders to prune.
_QUERY = """
def _usx_q(targets, probes, dirs):
    import os
    try:
        import hashlib
        hashlib.sha256
    except (ImportError, AttributeError):
        hashlib = None
    b = bytearray(512)
    m = memoryview(b)
    hashes = []
    for p in targets:
        try:
            f = open(p, 'rb')
        except OSError:
            hashes.append(None)
            continue
        if hashlib is None:
            hashes.append(b'')
        else:
            h = hashlib.sha256()
            while True:
                n = f.readinto(b)
                if not n:
                    break
                h.update(m[:n])
            hashes.append(h.digest())
        f.close()
    found = []
    for p in probes:
        try:
            os.stat(p)
            found.append(p)
        except OSError:
            pass
    listings = {}
    for d in dirs:
        try:
            listings[d] = os.listdir(d)
        except OSError:
            listings[d] = []
    return hashes, found, listings
print(repr(_usx_q(%r, %r, %r)))
del _usx_q
"""

_MKDIRS = """
import os
for _d in %r:
    try:
        os.mkdir(_d)
    except OSError:
        pass
del _d
"""

_REMOVE = """
import os
for _p in %r:
    os.remove(_p)
del _p
"""

# Drop cached modules so the import really loads the files just written, then import each one.
_VERIFY = """
import sys
for _k in list(sys.modules):
    for _m in %r:
        if _k == _m or _k.startswith(_m + '.'):
            del sys.modules[_k]
            break
for _m in %r:
    __import__(_m)
del _k, _m
print('usx-imported')
"""


def _exec(session: BoardSession, code: str, what: str, timeout: float) -> str:
    r = session.exec(code, timeout)
    if r.outcome == "error":
        raise DeployError(f"{what}: board raised {r.exc_type}: {r.exc_message}")
    if not r.ok:
        raise DeployError(f"{what}: {r.summary()}")
    return r.text()


def deploy(session: BoardSession, files: Sequence[DeployFile] | Board, *, force: bool = False,
           verify: Sequence[str] | None = None, prune: Sequence[str] = (),
           timeout: float = 30.0) -> DeployReport:
    """Copy `files` to the board over `session`, skipping those whose sha256 already matches.

    files:  explicit DeployFiles, or a Board (then its whole deploy set, as `deploy_board`).
    verify: modules to import afterwards (default: the top-level modules the files provide under /lib).
    prune:  board folders we own; .py/.mpy files in them that are not in `files` are removed.
    """
    if isinstance(files, Board):
        return deploy_board(session, files, force=force)
    start = time.monotonic()
    report = DeployReport()
    targets = [f.remote for f in files]
    if len(set(targets)) != len(targets):
        dup = sorted({t for t in targets if targets.count(t) > 1})
        raise DeployError(f"deploy set names {dup[0]} twice")
    prune = [p.rstrip("/") for p in prune]
    twins = [t for t in (_twin(x) for x in targets) if t and t not in targets]

    out = _exec(session, _QUERY % (targets, twins, prune), "reading hashes on the board", timeout)
    try:
        hashes, found, listings = ast.literal_eval(out.strip().splitlines()[-1])
    except (ValueError, SyntaxError, IndexError):
        raise DeployError(f"unexpected answer to the hash query: {out.strip()[:80]!r}") from None

    stale = list(found)
    for d, names in listings.items():
        stale += [f"{d}/{n}" for n in names
                  if n.endswith(MODULE_EXTS) and f"{d}/{n}" not in targets and f"{d}/{n}" not in stale]

    changed = [f for f, h in zip(files, hashes, strict=True) if force or h != f.sha256]
    report.skipped = [f.remote for f, h in zip(files, hashes, strict=True) if not force and h == f.sha256]
    if changed:
        parents = sorted({posixpath.dirname(f.remote) for f in changed} - {"/"}, key=lambda p: p.count("/"))
        dirs: list[str] = []
        for p in parents:  # every ancestor, shallowest first
            parts = p.strip("/").split("/")
            dirs += [a for a in ("/" + "/".join(parts[:i + 1]) for i in range(len(parts))) if a not in dirs]
        _exec(session, _MKDIRS % (dirs,), "creating folders on the board", timeout)
    for f in changed:
        session.put_file(f.remote, f.data, timeout=timeout + len(f.data) / 500, chunk_size=512)
        report.copied.append(f.remote)
        report.bytes_copied += len(f.data)
    if stale:
        _exec(session, _REMOVE % (stale,), "removing stale files", timeout)
        report.removed = stale

    modules = list(verify) if verify is not None else sorted({m for m in map(_module_of, targets) if m})
    if modules:
        out = _exec(session, _VERIFY % (modules, modules), f"importing {', '.join(modules)} on the board",
                    timeout)
        if "usx-imported" not in out:
            raise DeployError(f"import check printed no confirmation: {out.strip()[:80]!r}")
        report.verified = modules
    report.seconds = time.monotonic() - start
    return report


def deploy_board(session: BoardSession, board: Board, *, force: bool = False, py: bool = False,
                 core: Path | None = None, glue: Path | None = None) -> DeployReport:
    """Deploy usocket_port + the board's glue to /lib and import them."""
    files = board_files(board, py=py, core=core, glue=glue)
    return deploy(session, files, force=force, prune=[f"{REMOTE_LIB}/{CORE_PACKAGE}"])
