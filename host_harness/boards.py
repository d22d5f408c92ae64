"""Board definitions: one TOML file per board in boards/, read with tomllib and checked field by field."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from .errors import BoardFileError
from .resources import boards_dir

# Targets with glue in ports/<target>/.
TARGETS = ("unix", "cpython", "esp32", "wipy", "circuitpython")
KINDS = ("virtual", "serial", "host")
REPL_TRANSPORTS = ("pty", "usb-cdc", "usb-uart", "uart", "telnet", "subprocess")
# mpy-cross -march values, "bytecode" for a firmware that loads .mpy but has no native emitter (cc3200: .mpy
# bytecode only, no -march), and "none" where no .mpy fits (CPython, CircuitPython's own .mpy format).
MPY_ARCHS = ("x86", "x64", "armv6m", "armv7m", "armv7em", "armv7emsp", "armv7emdp", "xtensa", "xtensawin",
             "rv32imc", "bytecode", "none")
# esptool's --before choices, and the SPI flash modes it can write into an image header.
RESET_MODES = ("default-reset", "usb-reset", "no-reset", "no-reset-no-sync")
FLASH_MODES = ("keep", "qio", "qout", "dio", "dout")


@dataclass(frozen=True)
class FlashLayout:
    chip: str  # esptool chip name, e.g. "esp32", "esp32s3"
    size: str  # esptool flash size, e.g. "4MB"
    firmware_offset: int  # where the MicroPython/CircuitPython image goes
    mode: str = "keep"
    freq: str = "keep"
    baud: int = 460800  # transfer rate once the stub runs (the ROM always syncs at 115200)
    before: str = "default-reset"  # esptool reset into download mode: default-reset | usb-reset | no-reset

    @property
    def size_bytes(self) -> int:
        return int(self.size.removesuffix("MB")) * 1024 * 1024


@dataclass(frozen=True)
class UsbId:
    vid: int
    pid: int
    serial: str | None = None


@dataclass(frozen=True)
class Board:
    name: str
    description: str
    kind: str  # virtual | serial | host
    target: str  # ports/<target> glue
    repl: str
    mpy_arch: str
    capabilities: frozenset[str] = frozenset()
    quirks: tuple[str, ...] = ()
    flash: FlashLayout | None = None
    usb: tuple[UsbId, ...] = ()
    heapsize: str | None = None  # virtual boards: micropython -X heapsize
    model: str | None = None  # virtual boards: port model reproducing a target's native modules
    expect_implementation: str | None = None  # sys.implementation.name after flashing
    expect_machine: str | None = None  # substring of os.uname().machine / sys.implementation._machine
    firmware_update: str | None = None  # how firmware gets updated without [flash] (e.g. FTP on cc3200)
    source: Path | None = field(default=None, compare=False)

    @property
    def is_virtual(self) -> bool:
        return self.kind == "virtual"

    def has(self, capability: str) -> bool:
        return capability in self.capabilities


def _require(table: dict, key: str, kind: type, where: str):
    if key not in table:
        raise BoardFileError(f"{where}: missing field '{key}'")
    value = table[key]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise BoardFileError(f"{where}: field '{key}' must be {kind.__name__}, got {value!r}")
    return value


def _choice(table: dict, key: str, choices: tuple[str, ...], where: str) -> str:
    value = _require(table, key, str, where)
    if value not in choices:
        raise BoardFileError(f"{where}: field '{key}' is {value!r}; expected one of {', '.join(choices)}")
    return value


def parse_board(data: dict, where: str, source: Path | None = None) -> Board:
    """Build a Board from a parsed TOML document; every error names the file and the field."""
    b = data.get("board")
    if not isinstance(b, dict):
        raise BoardFileError(f"{where}: missing table [board]")
    kind = _choice(b, "kind", KINDS, where)
    flash = None
    if "flash" in data:
        f = data["flash"]
        size = _require(f, "size", str, where + " [flash]")
        if not size.endswith("MB") or not size[:-2].isdigit():
            raise BoardFileError(f"{where} [flash]: field 'size' must look like '4MB', got {size!r}")
        flash = FlashLayout(
            chip=_require(f, "chip", str, where + " [flash]"),
            size=size,
            firmware_offset=_require(f, "firmware_offset", int, where + " [flash]"),
            mode=f.get("mode", "keep"),
            freq=f.get("freq", "keep"),
            baud=_require(f, "baud", int, where + " [flash]") if "baud" in f else 460800,
            before=(_choice(f, "before", RESET_MODES, where + " [flash]") if "before" in f
                    else "default-reset"),
        )
        if flash.mode not in FLASH_MODES:
            raise BoardFileError(f"{where} [flash]: field 'mode' is {flash.mode!r}; expected one of "
                                 f"{', '.join(FLASH_MODES)}")
    usb = tuple(
        UsbId(vid=_require(u, "vid", int, where + " [[usb]]"),
              pid=_require(u, "pid", int, where + " [[usb]]"),
              serial=u.get("serial"))
        for u in data.get("usb", [])
    )
    if kind == "serial" and flash is None and b.get("target") in ("esp32", "circuitpython"):
        raise BoardFileError(f"{where}: a serial ESP board needs a [flash] table")
    virtual = data.get("virtual", {})
    return Board(
        name=_require(b, "name", str, where),
        description=_require(b, "description", str, where),
        kind=kind,
        target=_choice(b, "target", TARGETS, where),
        repl=_choice(b, "repl", REPL_TRANSPORTS, where),
        mpy_arch=_choice(b, "mpy_arch", MPY_ARCHS, where),
        capabilities=frozenset(b.get("capabilities", [])),
        quirks=tuple(b.get("quirks", [])),
        flash=flash,
        usb=usb,
        heapsize=virtual.get("heapsize"),
        model=virtual.get("model"),
        expect_implementation=b.get("expect_implementation"),
        expect_machine=b.get("expect_machine"),
        firmware_update=b.get("firmware_update"),
        source=source,
    )


def load_board_file(path: Path) -> Board:
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise BoardFileError(f"board file {path} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise BoardFileError(f"{path.name}: not valid TOML ({exc})") from None
    board = parse_board(data, path.name, path)
    if board.name != path.stem:
        raise BoardFileError(f"{path.name}: [board] name is {board.name!r}; it must match the file name")
    return board


def board_names(directory: Path | None = None) -> list[str]:
    return sorted(p.stem for p in (directory or boards_dir()).glob("*.toml"))


def load_board(name: str, directory: Path | None = None) -> Board:
    """Load boards/<name>.toml, or a path to a .toml file."""
    if name.endswith(".toml"):
        return load_board_file(Path(name))
    directory = directory or boards_dir()
    path = directory / f"{name}.toml"
    if not path.exists():
        known = ", ".join(board_names(directory)) or "none"
        raise BoardFileError(f"unknown board '{name}' (known boards: {known})")
    return load_board_file(path)


def all_boards(directory: Path | None = None) -> list[Board]:
    return [load_board(n, directory) for n in board_names(directory)]
