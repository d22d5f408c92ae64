"""`usocket-hil boards`: list board definitions (discovery of attached boards extends this)."""

from __future__ import annotations

import argparse
import json

from ..boards import all_boards


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("boards", help="list known boards", description="List board definitions.")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    boards = all_boards()
    if args.json:
        print(json.dumps([{"name": b.name, "kind": b.kind, "target": b.target} for b in boards], indent=2))
    else:
        for b in boards:
            print(f"{b.name:28} {b.kind:8} {b.target:14} {b.description}")
    return 0
