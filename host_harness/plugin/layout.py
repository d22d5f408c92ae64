"""The board's /lib as the plugin sees it: which host files end up where.

/lib/usocket_port/          usocket_port/ (core)
/lib/<files of ports/T>     ports/<target>/ glue (usocket_target.py, ...)
/lib/<files of cases>       tests/device/cases/* (device-side conformance cases; they import each other flat)
/lib/hilsync.py             host_harness/plugin/device/hilsync.py (sync channel, board side)
/lib/<extra>                every --board-lib path (a folder's children, or a file)
"""

from __future__ import annotations

import os
from pathlib import Path

from ..resources import core_dir, device_tests_dir, port_dir

DEVICE_HELPERS = Path(__file__).resolve().parent / "device"


def has_port(target: str) -> bool:
    d = port_dir(target)
    return d.is_dir() and any(d.glob("*.py"))


def plugin_files(extra_libs: list[Path] = ()) -> list[tuple[Path, str]]:
    """(host path, path under /lib) for what the plugin adds to a board beyond host_harness.deploy."""
    items: list[tuple[Path, str]] = [(p, p.name) for p in sorted(DEVICE_HELPERS.glob("*.py"))]
    for lib in extra_libs:
        lib = Path(lib)
        children = sorted(lib.iterdir()) if lib.is_dir() else [lib]
        for child in children:
            if child.name.startswith((".", "__pycache__")) or not (child.is_dir() or child.suffix == ".py"):
                continue
            items.append((child, child.name))
    return items


def expand(items: list[tuple[Path, str]]) -> list[tuple[Path, str]]:
    """Folders -> their .py files, recursively (for backends that copy files one by one)."""
    out: list[tuple[Path, str]] = []
    for src, dest in items:
        if src.is_dir():
            for f in sorted(src.rglob("*.py")):
                if "__pycache__" not in f.parts:
                    out.append((f, f"{dest}/{f.relative_to(src).as_posix()}"))
        else:
            out.append((src, dest))
    return out


def extra_device_files(extra_libs: list[Path] = ()) -> list[tuple[Path, str]]:
    """What the plugin deploys on top of host_harness.deploy's set (core + glue): cases, helpers, libs."""
    cases = device_tests_dir() / "cases"
    return plugin_files(([cases] if cases.is_dir() else []) + list(extra_libs))


def all_device_files(target: str, extra_libs: list[Path] = ()) -> list[tuple[Path, str]]:
    items: list[tuple[Path, str]] = []
    if core_dir().is_dir():
        items.append((core_dir(), "usocket_port"))
    if port_dir(target).is_dir():
        items += [(p, p.name) for p in sorted(port_dir(target).iterdir())
                  if p.suffix == ".py" or (p.is_dir() and p.name != "__pycache__")]
    return items + extra_device_files(extra_libs)


def roots(target: str, extra_libs: list[Path] = ()) -> list[Path]:
    """Host folders to search when a board traceback names a /lib path."""
    out = [core_dir().parent, port_dir(target), device_tests_dir() / "cases", DEVICE_HELPERS]
    for lib in extra_libs:
        lib = Path(lib)
        out.append(lib if lib.is_dir() else lib.parent)
    return out


def stage_links(stage: Path, target: str, extra_libs: list[Path] = ()) -> list[Path]:
    """Build a /lib look-alike of symlinks in `stage` (cpython backend); returns traceback roots."""
    for src, dest in all_device_files(target, extra_libs):
        link = stage / dest
        if link.exists() or link.is_symlink():
            continue  # first one wins, as a later deploy of the same name would be shadowed on sys.path
        os.symlink(src.resolve(), link, target_is_directory=src.is_dir())
    return roots(target, extra_libs)
