"""`usocket-hil boards`: board definitions, attached serial ports matched to them, running virtual boards."""

from __future__ import annotations

import argparse
import json

from ..boards import all_boards
from ..discovery import discover_serial, discover_virtual


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "boards", help="list known boards, attached ports and running virtual boards",
        description="List board definitions, serial ports matched to them by USB VID/PID/serial number, "
                    "and running virtual boards.")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=run)


def _definition(b) -> dict:
    return {
        "name": b.name, "kind": b.kind, "target": b.target, "description": b.description,
        "flash": None if b.flash is None else {"chip": b.flash.chip, "size": b.flash.size,
                                               "firmware_offset": b.flash.firmware_offset},
        "usb": [{"vid": u.vid, "pid": u.pid, "serial": u.serial} for u in b.usb],
    }


def run(args: argparse.Namespace) -> int:
    boards = all_boards()
    serial = discover_serial(boards)
    virtual = discover_virtual()
    if args.json:
        print(json.dumps({
            "boards": [_definition(b) for b in boards],
            "serial": [m.to_json() for m in serial],
            "virtual": [v.to_json() for v in virtual],
        }, indent=2))
        return 0
    print("Board definitions:")
    for b in boards:
        print(f"  {b.name:24} {b.kind:8} {b.target:14} {b.description}")
    print("Serial ports:")
    if not serial:
        print("  (none)")
    for m in serial:
        if not m.boards:
            what = "no matching board"
        elif m.board:
            what = m.board + (" (serial number)" if m.exact else "")
        else:
            what = "ambiguous: " + ", ".join(m.boards) + " (pick with --board/--port)"
        sn = m.serial_number or "-"
        print(f"  {m.device:20} {m.usb_id:9} sn={sn:16} {what}   [{m.description}]")
    print("Virtual boards:")
    if not virtual:
        print("  (none running)")
    board_width = max([16] + [len(v.board or "?") for v in virtual])  # keeps the port column aligned
    for v in virtual:
        state = "" if v.alive else "  (stale: process gone)"
        where = v.port_url or "-"
        extra = f" {v.socket_url}" if v.socket_url else ""
        ip = f" ip={v.board_ip}" if v.board_ip else ""
        print(f"  {v.name:20} {v.board or '?':{board_width}} {where}{extra}{ip}{state}")
    return 0
