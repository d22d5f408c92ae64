"""What board is this?  The target a running board really is, checked before anything is written to it.

Real boards say it through `sys.implementation`, `sys.platform` and `os.uname()`.  A virtual board with a port
model reports its firmware's `sys.platform` too, and as machine "<its board file> with <MCU>"
(host_harness/virtual/device/vboard.py `_identity`): that names the board file (its interpreter is MicroPython
unix, so its .mpy format and quirks are the virtual board's, not the real board's).
"""

from __future__ import annotations

from ..boards import Board, all_boards
from ..errors import HilError

# sys.platform on the board -> ports/<target> (CircuitPython is told by sys.implementation.name).
PLATFORM_TARGETS = {"linux": "unix", "darwin": "unix", "esp32": "esp32", "WiPy": "wipy"}
FACTS = ("(__import__('sys').implementation.name, __import__('sys').platform, "
         "getattr(__import__('os'), 'uname', lambda: ('', '', '', '', ''))()[4])")


# The definition for a board on a bare port that nobody named: run code on it, check nothing about it.
UNKNOWN = Board(name="board", description="a board on a port", kind="serial", target="unknown", repl="raw",
                mpy_arch="none")


class TargetMismatch(HilError):
    """The board at the port is not the target its board file says."""


def target_of(impl: str, platform: str) -> str | None:
    return "circuitpython" if impl == "circuitpython" else PLATFORM_TARGETS.get(platform)


def read_facts(session) -> tuple[str, str, str]:
    """(implementation name, platform, machine) as the board reports them."""
    impl, platform, machine = session.eval(FACTS)
    return str(impl), str(platform), str(machine)


def virtual_definition(machine: str) -> Board | None:
    """The virtual board file a board's machine string names ("virtual-esp32 with ESP32"), else None."""
    name = machine.split(" with ", 1)[0]
    return next((b for b in all_boards() if b.is_virtual and b.name == name), None)


def definition_for(impl: str, platform: str, machine: str, where: str) -> Board:
    """The board file for a board that reported these facts (a virtual board's own file; for a real board, a
    variant named in `machine` wins)."""
    virtual = virtual_definition(machine)
    if virtual is not None:
        return virtual
    target = target_of(impl, platform)
    candidates = [b for b in all_boards() if b.target == target and b.kind == "serial"]
    if not candidates:
        raise HilError(f"cannot tell which board is at {where} ({impl} on {platform}, {machine or '?'}): "
                       "pass --board NAME (`usocket-hil boards` lists them)")
    squashed = machine.lower().replace("-", "")
    for b in candidates:  # e.g. "ESP32S3 module" -> esp32s3-devkitc before esp32-devkitc
        if b.name.split("-")[0].replace("-", "") in squashed and b.name.split("-")[0] != target:
            return b
    return candidates[0]


def check_target(definition: Board, impl: str, platform: str, machine: str, where: str) -> None:
    """TargetMismatch (one line, with the board file to use) unless the board is `definition`'s target (a
    virtual board is its own board file's target only: its interpreter is not the real board's)."""
    actual = target_of(impl, platform)
    virtual = virtual_definition(machine)
    if virtual is not None and not definition.is_virtual:
        raise TargetMismatch(f"the board at {where} is virtual board {virtual.name} ({impl} on {platform}), but "
                             f"board file {definition.name} is a real board; nothing was written: pass --board "
                             f"{virtual.name}")
    if actual == definition.target:
        return
    hint = ""
    try:
        hint = f": pass --board {definition_for(impl, platform, machine, where).name}"
    except HilError:
        pass
    raise TargetMismatch(f"the board at {where} is {impl} on {platform} (target {actual or 'unknown'}), "
                         f"but board file {definition.name} is target {definition.target}; nothing was "
                         f"written{hint}")
