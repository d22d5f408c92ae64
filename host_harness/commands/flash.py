"""`usocket-hil flash --board NAME [--port URL ...|--all] FIRMWARE.bin`: write firmware through esptool.

Without --port/--all the one attached port matching the board is used. Several ports are flashed
at once, each with its own progress line and log file. Exit status is non-zero if any board failed.
A network port (wipy://IP) is updated by the board layer's network kind instead (board/network.py: FTP
upload, reset, the running version checked; a rejected image is reported as rolled back).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..board.network import is_network_url
from ..boards import load_board
from ..discovery import discover_serial, ports_for_board
from ..errors import HilError
from ..flash import FlashError, FlashOptions, PortError, flash_boards, flash_layout, load_image
from ..flash.summary import failure_line, summary_line
from .common import count


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "flash", help="write firmware to ESP boards (esptool API)",
        description="Write a firmware image to one or more boards through esptool's Python API: chip, "
                    "offset and flash size come from the board file; identical flash contents are "
                    "not rewritten; every write is verified by MD5.")
    p.add_argument("firmware", nargs="?", type=Path, help="firmware .bin (MicroPython/CircuitPython image)")
    p.add_argument("--board", required=True, help="board name (boards/NAME.toml) or path to a .toml")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--port", action="append", default=[], metavar="URL",
                       help="serial device, rfc2217://HOST:PORT (reset lines over the network: ser2net, the "
                            "virtual ESP32), socket://HOST:PORT or wipy://IP (FTP); repeat for several boards")
    where.add_argument("--all", action="store_true", help="every attached port that matches the board")
    p.add_argument("--force", action="store_true", help="write even if the flash already holds the image")
    p.add_argument("--verify-only", action="store_true", help="only compare flash with the image (MD5)")
    p.add_argument("--identity-only", action="store_true",
                   help="only check the running firmware's identity over the REPL (no esptool)")
    p.add_argument("--no-identity", action="store_true", help="skip the identity check after flashing")
    p.add_argument("--baud", type=count(300), help="transfer baud rate after the stub starts (default: board file)")
    p.add_argument("--connect-attempts", type=count(1), default=7, metavar="N",
                   help="esptool sync attempts before giving up (default 7)")
    p.add_argument("--log-dir", type=Path, default=Path("reports/flash"),
                   help="folder for each board's flash log, created when absent (default reports/flash in the "
                        "current folder; each result line names its log)")
    p.add_argument("--json", action="store_true", help="print results as JSON")
    p.set_defaults(func=run)


def resolve_ports(board, ports: list[str], every: bool) -> list[str]:
    if ports:
        return ports
    matches = discover_serial()
    found = ports_for_board(board, matches)
    ids = ", ".join(f"{u.vid:04x}:{u.pid:04x}" for u in board.usb) or "none in the board file"
    if not found:
        raise PortError(f"no attached port matches board '{board.name}' (USB IDs: {ids}); pass --port URL")
    if every or len(found) == 1:
        return found
    raise PortError(f"{len(found)} ports match board '{board.name}' ({', '.join(found)}); "
                    "pass --port URL or --all")


def run(args: argparse.Namespace) -> int:
    board = load_board(args.board)
    if args.port and all(is_network_url(p) for p in args.port):
        return run_network(board, args)
    image = None
    if args.identity_only and args.firmware is not None:
        # (it would be ignored, and "identity ok" read as "the board runs this image": trial 5 F22)
        raise HilError(f"--identity-only checks what the board runs, not an image: drop {args.firmware} (to "
                       "check the board booted that image, flash it: an image already in flash is not rewritten, "
                       "and its boot banner is compared with the image's version)")
    if not args.identity_only:
        flash_layout(board)  # refuse cc3200 & co. before asking for a file
        if args.firmware is None:
            raise HilError("no firmware file given (usocket-hil flash --board NAME FIRMWARE.bin)")
        image = load_image(args.firmware, board)
    ports = resolve_ports(board, args.port, args.all)
    options = FlashOptions(force=args.force, verify_only=args.verify_only,
                           connect_attempts=args.connect_attempts, baud=args.baud)
    results = flash_boards(board, ports, image, options=options, log_dir=args.log_dir,
                           identity=not args.no_identity and not args.verify_only,
                           identity_only=args.identity_only)
    if args.json:
        print(json.dumps([r.__dict__ for r in results], indent=2, default=str))
    else:
        for r in results:
            print(summary_line(r))
    failed = [r for r in results if not r.ok]
    if not failed:
        return 0
    if len(results) == 1:
        raise FlashError(_with_log(failed[0]))
    raise FlashError(f"{len(failed)} of {len(results)} boards failed: "
                     + "; ".join(_with_log(r) for r in failed))


def _with_log(r) -> str:
    """The failure line naming the board's log (the report of what esptool did), where there is one."""
    line = failure_line(r)
    return f"{line} (log: {r.log_path})" if r.log_path and r.log_path not in line else line



def run_network(board, args: argparse.Namespace) -> int:
    """`flash --port wipy://IP IMAGE`: the board layer's network kind updates it (FTP upload, reset, version
    check); one line per board, non-zero unless the image runs afterwards."""
    from ..board import open_board
    from ..flash.image import ESP_IMAGE_MAGIC
    from ..netrepl.firmware import FirmwareError, image_version

    if args.firmware is None:
        raise HilError("no firmware file given (usocket-hil flash --board NAME --port wipy://IP mcuimg.bin)")
    try:
        image = args.firmware.read_bytes()
    except OSError as exc:
        raise FirmwareError(f"cannot read {args.firmware}: {exc.strerror}") from None
    if image[:1] == bytes([ESP_IMAGE_MAGIC]) and image_version(image) is None:
        # an ESP32 firmware.bin is no mcuimg.bin: refused before any port is opened, as the ESP path
        # refuses a foreign image (a wrong MD5 alone is still sent: the boot manager's rollback is the test)
        raise FirmwareError(f"{args.firmware} is an ESP image (magic {ESP_IMAGE_MAGIC:#04x}), not a WiPy "
                            "mcuimg.bin: nothing was uploaded")
    failed = []
    for port in args.port:
        with open_board(board, port, start=False) as running:
            result = running.update_firmware(image)
        if result.warning:
            print(f"{board.name} {port}: warning: {result.warning}")
        print(f"{board.name} {port}: {result.summary()}")
        if not result.ok:
            failed.append(port)
    if failed:
        raise FirmwareError(f"firmware not running on {', '.join(failed)} (see above)")
    return 0
