"""What the plugin adds to a board's deploy set (host_harness.deploy.deploy_sources describes the set).

/lib/<files of cases>       tests/device/cases/* (device-side conformance cases; they import each other flat)
/lib/hilsync.py             host_harness/plugin/device/hilsync.py (sync channel, board side)
/lib/<extra>                every --board-lib path (a folder's children, or a file)
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from ..resources import core_dir, device_tests_dir, port_dir

DEVICE_HELPERS = Path(__file__).resolve().parent / "device"
VERIFY_MODULES = ("usocket_port", "hilsync")  # imported on the board after a deploy


def plugin_extras(extra_libs: Iterable[Path] = ()) -> list[Path]:
    """The `extras` of deploy_sources for a plugin run: device cases, the device helpers, --board-lib."""
    cases = device_tests_dir() / "cases"
    return ([cases] if cases.is_dir() else []) + [DEVICE_HELPERS] + [Path(p) for p in extra_libs]


def roots(target: str, extra_libs: Iterable[Path] = ()) -> list[Path]:
    """Host folders to search when a board traceback names a /lib path."""
    out = [core_dir().parent, port_dir(target), device_tests_dir() / "cases", DEVICE_HELPERS]
    for lib in extra_libs:
        lib = Path(lib)
        out.append(lib if lib.is_dir() else lib.parent)
    return out
