"""Deploy device files to a board's filesystem in one raw-REPL session, copying only what changed.

Steps: hash every target locally; send the digests to the board, which says in ONE exec which files differ
(and, when none differ, already runs the import check: an unchanged deploy is one round trip); create missing
parent folders and write the changed files as base64 literals in as few raw-paste execs as the board's free
heap allows; remove a stale `.py` when its `.mpy` is deployed and vice versa (MicroPython prefers .py over
.mpy at import, so a leftover .py would silently win); then import the top-level modules on the board to prove
the set loads (in the same exec as the last write).

A board's deploy set (`deploy_sources`, the one description of it) is usocket_port/ (core) + ports/<target>/
(glue) + whatever the caller adds (the pytest plugin: device cases, hilsync, --board-lib), all placed in /lib,
as .mpy compiled with the board's mpy_arch unless that is "none" (or .py is asked for).
"""

from __future__ import annotations

import ast
import base64
import errno
import hashlib
import os
import posixpath
import re
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from .boards import Board
from .errors import HilError
from .mpy import compile_mpy
from .resources import core_dir, port_dir
from .transport.session import BoardSession

REMOTE_LIB = "/lib"
CORE_PACKAGE = "usocket_port"
MODULE_EXTS = (".py", ".mpy")


def owned_dirs(lib: str = REMOTE_LIB) -> tuple[str, ...]:
    """Board folders the deploy set owns: files in them that the set no longer has are removed."""
    return (f"{lib}/{CORE_PACKAGE}",)


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


# --- the deploy set: described here once -----------------------------------------------------------------
def deploy_sources(target: str, extras: Iterable[Path] = (), *, core: Path | None = None,
                   glue: Path | None = None) -> list[tuple[Path, str]]:
    """(host .py file, path under /lib) of a board's deploy set, for every user of it (deploy, the board layer,
    the cpython board's staged /lib):

    /lib/usocket_port/...   usocket_port/ (the core package)
    /lib/<glue files>       ports/<target>/*.py (usocket_target.py, ...)
    /lib/<entry>            for each of `extras`: a folder's children (packages stay folders), or a file
    """
    core = core or core_dir()
    glue = glue or port_dir(target)
    if not (core / "__init__.py").is_file():
        raise DeployError(f"device core not found: {core}/__init__.py does not exist")
    if not glue.is_dir() or not any(glue.glob("*.py")):
        raise DeployError(f"no target glue in {glue} (expected usocket_target.py)")
    out = _tree(core, CORE_PACKAGE)
    out += [(p, p.name) for p in sorted(glue.glob("*.py"))]
    for extra in extras:
        extra = Path(extra)
        children = sorted(extra.iterdir()) if extra.is_dir() else [extra]
        for child in children:
            if child.name.startswith((".", "__pycache__")):
                continue
            if child.is_dir():
                out += _tree(child, child.name)
            elif child.suffix == ".py":
                out.append((child, child.name))
    return out


def _tree(folder: Path, dest: str) -> list[tuple[Path, str]]:
    return [(p, f"{dest}/{p.relative_to(folder).as_posix()}")
            for p in sorted(folder.rglob("*.py")) if "__pycache__" not in p.parts]


def build_files(sources: Iterable[tuple[Path, str]], *, mpy_arch: str | None,
                remote_dir: str = REMOTE_LIB) -> list[DeployFile]:
    """DeployFiles for (local .py, path under remote_dir) pairs: .mpy for `mpy_arch`, plain .py if None."""
    pairs = [(Path(path), rel, _absolute(f"{remote_dir}/{rel}")) for path, rel in sources]
    if mpy_arch is None:
        return [DeployFile.from_path(path, remote) for path, rel, remote in pairs]
    # One mpy-cross process per file: run them side by side (they are tiny; start-up dominates).
    with ThreadPoolExecutor(max_workers=max(1, min(len(pairs), os.cpu_count() or 1))) as pool:
        blobs = list(pool.map(lambda p: compile_mpy(p[0], arch=mpy_arch, source_name=p[1]), pairs))
    return [DeployFile(remote[: -len(".py")] + ".mpy", data, path)
            for (path, _rel, remote), data in zip(pairs, blobs, strict=True)]


def board_files(board: Board, extras: Iterable[Path] = (), *, py: bool = False, core: Path | None = None,
                glue: Path | None = None, lib: str = REMOTE_LIB) -> list[DeployFile]:
    """The deploy set for `board` (deploy_sources), compiled for its mpy_arch unless `py` or arch "none"."""
    if board.kind == "host":
        raise DeployError(f"board {board.name} runs on the host (no board filesystem to deploy to)")
    arch = None if py or board.mpy_arch == "none" else board.mpy_arch
    return build_files(deploy_sources(board.target, extras, core=core, glue=glue), mpy_arch=arch, remote_dir=lib)


# --- talking to the board --------------------------------------------------------------------------------
# Every exec costs a round trip (pty/USB, mpremote's 10 ms polling) plus compiling the sent code on the board,
# so a deploy is one query exec, then (if anything changed) as few write execs as the board's free heap allows,
# the last of which also removes stale files and runs the import check.  An unchanged set is the query alone.
#
# The query: which targets differ from the digests we send (missing, or no hashlib -> differ), which twin/prune
# candidates exist and which files in the prune folders we do not know (stale), whether binascii can decode
# base64, and the free heap.  When nothing differs and nothing is stale it also runs the import check.
_QUERY = """
def _q(T,D,P,R,M):
 import os,gc
 try:
  from hashlib import sha256
 except ImportError:
  sha256=None
 try:
  from binascii import a2b_base64
  b64=1
 except ImportError:
  b64=0
 b=bytearray(512)
 m=memoryview(b)
 c=[]
 for i in range(len(T)):
  try:
   f=open(T[i],'rb')
  except OSError:
   c.append(i)
   continue
  if sha256 is None:
   c.append(i)
  else:
   h=sha256()
   while 1:
    n=f.readinto(b)
    if not n:
     break
    h.update(m[:n])
   if h.digest()!=D[i]:
    c.append(i)
  f.close()
 s=[]
 for p in P:
  try:
   os.stat(p)
   s.append(p)
  except OSError:
   pass
 for d in R:
  try:
   L=os.listdir(d)
  except OSError:
   L=()
  for n in L:
   p=d+'/'+n
   if (n.endswith('.py') or n.endswith('.mpy')) and p not in T and p not in s:
    s.append(p)
 v=0
 if M and not c and not s:
  _v(M)
  v=1
 gc.collect()
 try:
  free=gc.mem_free()
 except AttributeError:
  free=0
 print(repr((c,s,b64,v,free)))
%s
_q(%r,%r,%r,%r,%r)
del _q,_v
"""

# Run before the query: what an interrupted deploy (Ctrl-C, a dropped link) left in the board's globals -- the
# open file of a write exec, the base64 decoder, the query's functions -- is closed and dropped, and the heap
# collected, so the query's source (KBs of digests) finds room on a small board (WiPy 1.0: 48 KiB).
_CLEANUP = """
import gc
for _n in ('_f','_a','_q','_v'):
 if _n in globals():
  try:
   globals()[_n].close()
  except Exception:
   pass
  del globals()[_n]
del _n
gc.collect()
"""

# The import check: drop cached modules so the import really loads the files on the board, then import.
# Each module is imported fresh and dropped again before the next: the check is that it imports, and a small
# board (WiPy 1.0: 48 KiB, plain .py compiled on the board) holds one module's compilation at a time.
# With libraries besides ours (deploy --lib: umqtt, urequests...), they are imported as a program runs them,
# after usocket_port.install() (on CircuitPython there is no `usocket` without it), and every module name the
# check added or replaced, install()'s aliases included, is put back as it was.
_VERIFY_FN = """
def _v(M):
 import sys, gc
 def _d():
  for k in list(sys.modules):
   for m in M:
    if k==m or k.startswith(m+'.'):
     del sys.modules[k]
     break
  gc.collect()
 _d()
 I='usocket_port' in M and len(M)>1
 if not I:
  for m in M:
   __import__(m)
   _d()
  return
 S=dict(sys.modules)
 __import__('usocket_port').install()
 for m in M:
  __import__(m)
 for k in list(sys.modules):
  if k not in S:
   del sys.modules[k]
 sys.modules.update(S)
 gc.collect()
"""

_MKDIRS = """
import os
for _d in %r:
 try:
  os.mkdir(_d)
 except OSError:
  pass
"""

# Appended to the last write exec (or run alone when nothing was written): stale files, then the import check.
_FINISH = """
import os
for _p in %r:
 os.remove(_p)
%s
_v(%r)
del _v
print('usx-done')
"""

# File bytes per write exec.  The board holds an exec's source literal and the decoded bytes in RAM at the same
# time (and the lexer's growing buffer before that), so the budget is a slice of the free heap the query
# reported: roomy on a virtual board (one exec for the whole set), ~2 KB on a board with 30 KB free.
BUDGET_MIN = 1024
BUDGET_MAX = 16384
BUDGET_HEAP_SHARE = 16  # budget = free heap / this
BUDGET_UNKNOWN = 2048  # the board did not say (no gc.mem_free)


def write_budget(free_heap: int, b64: bool) -> int:
    budget = free_heap // BUDGET_HEAP_SHARE if free_heap > 0 else BUDGET_UNKNOWN
    if not b64:
        budget //= 2  # repr() of binary data is ~3x its size, vs 4/3 for base64
    return max(BUDGET_MIN, min(BUDGET_MAX, budget))


def _literal(data: bytes, b64: bool) -> str:
    if b64:
        return f"_a({base64.b64encode(data).decode()!r})"
    return repr(data)


def _write_programs(files: Sequence[DeployFile], dirs: list[str], b64: bool,
                    budget: int) -> list[tuple[str, int]]:
    """The write execs for `files`: (source, file bytes in it).  A file larger than the budget spans execs;
    its open file object stays in the board's globals between them (the raw REPL keeps globals)."""
    head = "from binascii import a2b_base64 as _a\n" if b64 else ""
    programs: list[tuple[str, int]] = []
    lines: list[str] = [_MKDIRS % (dirs,)] if dirs else []
    size = 0

    def flush() -> None:
        nonlocal lines, size
        programs.append((head + "\n".join(lines) + "\n", size))
        lines, size = [], 0

    for f in files:
        lines.append(f"_f=open({f.remote!r},'wb')")
        for i in range(0, len(f.data), budget):
            chunk = f.data[i:i + budget]
            if size and size + len(chunk) > budget:
                flush()
            lines.append(f"_f.write({_literal(chunk, b64)})")
            size += len(chunk)
        lines.append("_f.close()")
    lines.append("del _f")
    flush()
    return programs


def _finish_program(stale: Sequence[str], modules: Sequence[str]) -> str:
    return _FINISH % (list(stale), _VERIFY_FN if modules else "def _v(M):\n pass", list(modules))


def _exec(session: BoardSession, code: str, what: str, timeout: float) -> str:
    r = session.exec(code, timeout)
    if r.outcome == "error" and r.exc_type == "KeyboardInterrupt":
        raise KeyboardInterrupt  # a Ctrl-C reached the board too: the deploy was interrupted, not broken
    if r.outcome == "error" and not r.exc_type:
        raise DeployError(f"{what}: the board's answer was cut short ({(r.error or '').strip()[:80]!r}); "
                          "run the deploy again")
    if r.outcome == "error":
        msg = r.exc_message or ""
        m = re.fullmatch(r"\s*(?:\[Errno )?(\d+)\]?\s*", msg)
        if r.exc_type == "OSError" and m:  # MicroPython prints a bare errno number: name it
            msg = f"[Errno {m[1]}] {errno.errorcode.get(int(m[1]), '?')}"
        raise DeployError(f"{what}: board raised {r.exc_type}: {msg}")
    if not r.ok:
        raise DeployError(f"{what}: {r.summary()}")
    return r.text()


def deploy(session: BoardSession, files: Sequence[DeployFile], *, force: bool = False,
           verify: Sequence[str] | None = None, prune: Sequence[str] = (),
           timeout: float = 30.0, writer: Callable[[Sequence[DeployFile]], None] | None = None,
           lib: str = REMOTE_LIB) -> DeployReport:
    """Copy `files` to the board over `session`, skipping those whose sha256 already matches.

    files:  the DeployFiles (a board's whole set: `deploy_board`).
    verify: modules to import afterwards (default: the top-level modules the files provide under `lib`).
    prune:  board folders we own; .py/.mpy files in them that are not in `files` are removed.
    writer: copies the changed files another way than REPL writes (a WiPy's FTP server, netrepl/ftp.py).
    """
    start = time.monotonic()
    report = DeployReport()
    targets = [f.remote for f in files]
    if len(set(targets)) != len(targets):
        dup = sorted({t for t in targets if targets.count(t) > 1})
        raise DeployError(f"deploy set names {dup[0]} twice")
    prune = [p.rstrip("/") for p in prune]
    twins = [t for t in (_twin(x) for x in targets) if t and t not in targets]
    modules = list(verify) if verify is not None else sorted({m for m in (_module_of(t, lib) for t in targets) if m})
    importing = f"importing {', '.join(modules)} on the board" if modules else ""

    _exec(session, _CLEANUP, "collecting the board's heap", timeout)
    query = _QUERY % (_VERIFY_FN, targets, [f.sha256 for f in files], twins, prune,
                      [] if force else modules)
    out = _exec(session, query, " / ".join(w for w in ("reading hashes on the board", importing) if w),
                timeout)
    try:
        differ, stale, b64, verified, free = ast.literal_eval(out.strip().splitlines()[-1])
    except (ValueError, SyntaxError, IndexError):
        raise DeployError(f"unexpected answer to the hash query: {out.strip()[:80]!r}") from None
    if verified:  # nothing to copy or remove, and the import check passed already
        report.skipped, report.verified = targets, modules
        report.seconds = time.monotonic() - start
        return report

    changed = list(files) if force else [files[i] for i in differ]
    report.skipped = [] if force else [t for i, t in enumerate(targets) if i not in differ]
    finish = _finish_program(stale, modules) if stale or modules else ""
    what_finish = " and ".join(w for w in ("removing stale files" if stale else "", importing) if w)
    programs: list[tuple[str, int]] = []
    if changed and writer is not None:
        writer(changed)
        report.bytes_copied = sum(len(f.data) for f in changed)
    elif changed:
        parents = sorted({posixpath.dirname(f.remote) for f in changed} - {"/"}, key=lambda p: p.count("/"))
        dirs: list[str] = []
        for p in parents:  # every ancestor, shallowest first
            parts = p.strip("/").split("/")
            dirs += [a for a in ("/" + "/".join(parts[:i + 1]) for i in range(len(parts))) if a not in dirs]
        programs = _write_programs(changed, dirs, bool(b64), write_budget(free, bool(b64)))
    for n, (code, size) in enumerate(programs, 1):
        what = f"writing files on the board (after {report.bytes_copied} bytes)"
        if n == len(programs) and finish:
            code, what = code + finish, f"{what}, then {what_finish}"
        out = _exec(session, code, what, timeout + size / 500)
        report.bytes_copied += size
    if finish and not programs:
        out = _exec(session, finish, what_finish, timeout)
    if finish and "usx-done" not in out:
        raise DeployError(f"{what_finish}: no confirmation from the board: {out.strip()[:80]!r}")
    report.copied = [f.remote for f in changed]
    report.removed = list(stale)
    report.verified = modules
    report.seconds = time.monotonic() - start
    return report


def deploy_board(session: BoardSession, board: Board, extras: Iterable[Path] = (), *, force: bool = False,
                 py: bool = False, core: Path | None = None, glue: Path | None = None,
                 verify: Sequence[str] | None = None, lib: str = REMOTE_LIB,
                 writer: Callable[[Sequence[DeployFile]], None] | None = None) -> DeployReport:
    """Deploy the board's set (deploy_sources: usocket_port + glue + `extras`) to `lib` and import it.
    `lib` and `writer` are the board's (board/: a WiPy keeps its libraries in /flash/lib and takes files
    over FTP)."""
    files = board_files(board, extras, py=py, core=core, glue=glue, lib=lib)
    return deploy(session, files, force=force, prune=owned_dirs(lib), verify=verify, lib=lib, writer=writer)
