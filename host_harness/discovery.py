"""Which boards are attached: serial ports matched to boards/*.toml by USB VID/PID/serial, plus the
virtual boards that are running now.

Matching rules for one port:
- a port without a USB VID/PID (built-in UART, pty) matches nothing;
- a [[usb]] entry with a `serial` matches only that exact USB serial number, and beats entries without;
- several boards can share a generic bridge (CP2102 10c4:ea60 is on many); then all are candidates
  and the port is reported as ambiguous — `flash --port` picks explicitly.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from .boards import Board, UsbId, all_boards
from .state import state_dir


@dataclass(frozen=True)
class SerialMatch:
    device: str  # /dev/ttyUSB0, COM3
    vid: int | None
    pid: int | None
    serial_number: str | None
    description: str
    boards: tuple[str, ...] = ()  # candidate board names, best first
    exact: bool = False  # matched on USB serial number

    @property
    def board(self) -> str | None:
        """The board when the match is unique, else None."""
        return self.boards[0] if len(self.boards) == 1 else None

    @property
    def usb_id(self) -> str:
        return f"{self.vid:04x}:{self.pid:04x}" if self.vid is not None and self.pid is not None else "-"

    def to_json(self) -> dict:
        data = asdict(self)
        data["boards"] = list(self.boards)
        data["usb_id"] = self.usb_id
        data["board"] = self.board
        return data


@dataclass(frozen=True)
class VirtualEntry:
    """A virtual board as its state file describes it (the board layer attaches to one through this)."""

    name: str
    board: str | None
    port_url: str | None
    socket_url: str | None
    board_ip: str | None
    pid: int | None
    alive: bool
    state_file: str
    host_ip: str | None = None
    netns: tuple[str, ...] = ()  # namespace names (empty: none, or anonymous user namespaces)

    @property
    def definition(self) -> str:
        """Its board file (virtual-esp32, ...)."""
        return self.board or "virtual-unix"

    @property
    def state_dir(self) -> str:
        return str(Path(self.state_file).parent)

    def to_json(self) -> dict:
        data = asdict(self)
        data["netns"] = list(self.netns)
        return data


def _usb_matches(entry: UsbId, vid: int | None, pid: int | None, serial: str | None) -> bool:
    if vid is None or pid is None or entry.vid != vid or entry.pid != pid:
        return False
    return entry.serial is None or entry.serial == serial


def match_port(port, boards: Sequence[Board]) -> SerialMatch:
    """Match one pyserial ListPortInfo (or anything with device/vid/pid/serial_number) to boards."""
    vid = getattr(port, "vid", None)
    pid = getattr(port, "pid", None)
    serial = getattr(port, "serial_number", None)
    exact: list[str] = []
    generic: list[str] = []
    for board in boards:
        for entry in board.usb:
            if _usb_matches(entry, vid, pid, serial):
                (exact if entry.serial is not None else generic).append(board.name)
                break
    names = exact or generic
    return SerialMatch(
        device=port.device, vid=vid, pid=pid, serial_number=serial,
        description=getattr(port, "description", "") or "",
        boards=tuple(dict.fromkeys(names)), exact=bool(exact),
    )


def match_ports(ports: Iterable, boards: Sequence[Board]) -> list[SerialMatch]:
    return [match_port(p, boards) for p in sorted(ports, key=lambda p: p.device)]


def serial_ports() -> list:
    """pyserial's list of local serial ports (ListPortInfo objects)."""
    from serial.tools import list_ports

    return list(list_ports.comports())


def discover_serial(boards: Sequence[Board] | None = None,
                    ports: Iterable | None = None) -> list[SerialMatch]:
    boards = all_boards() if boards is None else boards
    return match_ports(serial_ports() if ports is None else ports, boards)


def ports_for_board(board: Board, matches: Sequence[SerialMatch]) -> list[str]:
    """Ports whose candidates include `board` (used by `flash --all`)."""
    return [m.device for m in matches if board.name in m.boards]


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _entry(data: dict, default_name: str, state_file: str) -> VirtualEntry:
    """One VirtualEntry from a state dict (as a supervisor writes it, or as the manager lists it)."""
    from .virtual.manager import pid_alive

    pid = data.get("pid") if isinstance(data.get("pid"), int) else None
    return VirtualEntry(
        name=_text(data.get("name")) or default_name,
        board=_text(data.get("board")),
        port_url=_text(data.get("port_url")),
        socket_url=_text(data.get("socket_url")),
        board_ip=_text(data.get("board_ip")),
        pid=pid,
        alive=pid_alive(pid) if "alive" not in data else bool(data["alive"]),
        state_file=state_file,
        host_ip=_text(data.get("host_ip")),
        netns=tuple(n for n in data.get("netns") or () if isinstance(n, str)),
    )


def read_virtual_state(directory: Path | None = None) -> list[VirtualEntry]:
    """Every JSON state file in `directory`, also ones the manager would not list (no `kind`, foreign
    writer); unreadable files are skipped.  The fallback when the manager's listing fails.

    Read defensively: the files are written by another process that may be mid-write or dead.
    """
    directory = directory or state_dir()
    try:
        files = sorted(directory.glob("*.json"))
    except OSError:
        return []
    entries = []
    for path in files:
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError, UnicodeDecodeError):
            continue
        if isinstance(data, dict):
            entries.append(_entry(data, path.stem, str(path)))
    return entries


def discover_virtual() -> list[VirtualEntry]:
    """Running virtual boards, as the manager lists them (falls back to reading the state files)."""
    from .virtual import manager

    try:
        listed = manager.list_boards()
    except Exception:  # noqa: BLE001  (listing must never break `boards`; fall back to the files)
        return read_virtual_state()
    return [_entry(data, Path(data["state_file"]).stem, data["state_file"]) for data in listed]
