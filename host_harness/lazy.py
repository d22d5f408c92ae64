"""A package's public names, each imported from its submodule on first use (PEP 562 module __getattr__).

Why: importing any submodule runs its package's __init__ first.  An __init__ that imported every submodule
made each light import heavy: `flash.bootcheck` (a few regexes) pulled in esptool, `peers.address` pulled in
cryptography and http.server — ~0.2 CPU s in every pytest worker of a board pool (bench/farm.py).
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable


def lazy_exports(package: str, exports: dict[str, str]) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """(__getattr__, __dir__) for `package`, whose public name N lives in submodule `exports[N]`."""

    def __getattr__(name: str) -> object:
        submodule = exports.get(name)
        if submodule is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{submodule}"), name)
        setattr(sys.modules[package], name, value)  # later look-ups skip this function
        return value

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(exports))

    return __getattr__, __dir__
