"""The native-socket application cases (tests/device/cases/apps.py _native) are n/a only for what the target
cannot do (no module, a signature the library's call does not fit); an error at run time is a FAIL.
Run here on CPython, the suite's host target, with the same modules a board gets."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[2]
PROBE = """
import sys
sys.path[:0] = [{cases!r}, {target!r}, {root!r}]
import apps
from compat import Skip
def run(exc):
    def fn(env, installed):
        raise exc
    try:
        apps._native(fn, {{}})
    except Skip as e:
        return "n/a " + str(e)
    except Exception as e:
        return "FAIL " + type(e).__name__
print(run(OSError(104, "ECONNRESET")))
print(run(ImportError("no module named 'usocket'")))
print(run(TypeError("getaddrinfo() takes 2 positional arguments but 4 were given")))
print(run(TypeError("unsupported types")))
"""


def test_a_runtime_error_on_the_native_socket_is_a_fail_not_n_a() -> None:
    code = PROBE.format(cases=str(ROOT / "tests" / "device" / "cases"), target=str(ROOT / "ports" / "cpython"),
                        root=str(ROOT))
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    reset, no_module, arity, other = r.stdout.splitlines()
    assert reset in ("FAIL OSError", "FAIL ConnectionResetError"), reset
    assert no_module.startswith("n/a native: ImportError"), no_module
    assert arity.startswith("n/a native socket cannot run it: TypeError"), arity
    assert other == "FAIL TypeError", other
