"""The import heap of usocket_port with each target's glue, as deployed (mpy-cross .mpy, -s short names), on
the micropython unix interpreter with that target's port model (host_harness/virtual/models/<target>) first
on the path, as on a virtual board.  The one measurement bench/datapath.py prints and
tests/host/test_import_heap.py holds to the goal (docs/usocket_port.md, "Memory": import <= 8 KiB).

The target's own modules (socket or socketpool, errno, select, ssl...) are imported before the first reading:
they are the firmware's, not ours, so the delta is the layer itself (core + glue).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORE = ROOT / "usocket_port"
MODELS = ROOT / "host_harness" / "virtual" / "models"
GOAL = 8 * 1024
HEAPSIZE = "512k"
TARGETS = ("unix", "esp32", "wipy", "circuitpython")
# The firmware modules each glue imports (loaded before the baseline).
_NATIVE = {
    "unix": "socket,errno,io,time,select",
    "esp32": "socket,errno,io,time,select",
    "wipy": "socket,errno,io,time,select,ssl",
    "circuitpython": "socketpool,wifi,errno,io,time,select,ssl",
}
# The probe names nothing of its own (only names the interpreter has already; the reading is its last line):
# an interned name of the probe's would take a qstr pool entry the layer's names then lack.
PROBE = r"""
import gc, sys
for n in sys.argv[1].split(","):
    __import__(n)
gc.collect()
n = gc.mem_alloc()
import usocket_port
gc.collect()
print(gc.mem_alloc() - n)
"""


_RUN = "exec(open('probe.py').read())"


class HeapProbeError(RuntimeError):
    pass


def build(dest: Path, target: str) -> dict[str, int]:
    """/lib as deploy makes it: every core module and the target's glue as .mpy with short names."""
    from host_harness.mpy import mpy_cross_command

    (dest / "usocket_port").mkdir(parents=True, exist_ok=True)
    sources = [(p, f"usocket_port/{p.name}") for p in sorted(CORE.glob("*.py"))]
    sources += [(p, p.name) for p in sorted((ROOT / "ports" / target).glob("*.py"))]  # the glue (and its _more)
    sizes = {}
    for src, rel in sources:
        out = dest / (rel[: -len(".py")] + ".mpy")
        r = subprocess.run([*mpy_cross_command(), "-s", rel, "-o", str(out), str(src)], capture_output=True,
                           text=True, timeout=60)
        if r.returncode != 0:
            raise HeapProbeError(f"mpy-cross failed on {src}: {r.stderr.strip()[-300:]}")
        sizes[rel] = out.stat().st_size
    return sizes


def import_heap(target: str, tmp: Path) -> int:
    """Bytes of GC heap `import usocket_port` takes with `target`'s glue (.mpy), model modules preloaded."""
    from host_harness.micropython import find_micropython, micropython_env

    # Fixed relative names under a fresh folder: every path string the interpreter interns before the
    # baseline (script, sys.path) is the same wherever the checkout or the temp folder is, so the qstr pools
    # fill alike and the reading is reproducible.
    work = tmp / f"heap-{target}"
    build(work / "lib", target)
    (work / "probe.py").write_text(PROBE)
    paths = []
    if (MODELS / target).is_dir():
        shutil.copytree(MODELS / target, work / "model", ignore=shutil.ignore_patterns("__pycache__"))
        shutil.copytree(MODELS / "_common", work / "common", ignore=shutil.ignore_patterns("__pycache__"))
        paths = ["model", "common"]
    env = micropython_env(*paths, "lib", frozen=True)
    env.update({"USOCKET_HIL_WLAN_SSID": "x", "USOCKET_HIL_WLAN_KEY": "x"})
    # Run with -c, not as a script: the unix port puts a script's absolute folder on sys.path as an interned
    # string, and its length (the temp folder's) moved the reading by up to 64 B.
    r = subprocess.run([find_micropython(), "-X", f"heapsize={HEAPSIZE}", "-c", _RUN, _NATIVE[target]],
                       capture_output=True, text=True, timeout=60, env=env, cwd=work)
    last = r.stdout.strip().rsplit("\n", 1)[-1]
    if r.returncode != 0 or not last.isdigit():
        raise HeapProbeError(f"import heap probe ({target}) failed: {(r.stderr or r.stdout).strip()[-400:]}")
    return int(last)


def all_targets(tmp: Path) -> dict[str, int]:
    return {t: import_heap(t, tmp) for t in TARGETS}


if __name__ == "__main__":
    import sys
    import tempfile

    sys.path.insert(0, str(ROOT))
    with tempfile.TemporaryDirectory() as d:
        for t, n in all_targets(Path(d)).items():
            print(f"{t:14} import heap {n:6} B  goal <= {GOAL} B: {'met' if n <= GOAL else 'NOT MET'}")
