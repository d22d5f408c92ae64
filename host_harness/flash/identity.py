"""After-flash identity check: does the board now run the firmware its board file expects?

Two halves, so each can be used (and tested) alone:
- `check_identity(board, identity)`: pure comparison of what the board reported with the board file's
  `expect_implementation` / `expect_machine`.
- `read_identity(url)`: asks a running board over its raw REPL (the real mpremote SerialTransport)
  for sys.implementation, sys.version, os.uname().machine and sys.platform.

It is a separate step from writing: right after a socket:// flash nothing has booted (no reset line,
and esp32-mock-bootloader runs no firmware at all), so `flash` skips it there and says why.
"""

from __future__ import annotations

import ast
import time
from dataclasses import dataclass

from ..boards import Board
from ..errors import HilError
from .ports import is_socket


class IdentityError(HilError):
    """The board did not answer on its REPL, or answered as different firmware."""


@dataclass(frozen=True)
class Identity:
    implementation: str  # sys.implementation.name: micropython | circuitpython | cpython
    version: str  # sys.version
    machine: str  # os.uname().machine, else sys.implementation._machine
    platform: str  # sys.platform


@dataclass(frozen=True)
class IdentityResult:
    status: str  # ok | mismatch | skipped | error
    reason: str
    identity: Identity | None = None


# One line the REPL prints back; works on MicroPython, CircuitPython and the cc3200 port (no f-strings).
_PROBE = (
    "import sys\n"
    "try:\n import os\n _m = os.uname().machine\n"
    "except Exception:\n _m = getattr(sys.implementation, '_machine', '')\n"
    "print(repr((sys.implementation.name, sys.version, _m, sys.platform)))\n"
)


def check_identity(board: Board, identity: Identity) -> list[str]:
    """Problems with `identity` for `board` (empty list: it matches)."""
    problems = []
    want_impl = board.expect_implementation
    if want_impl and identity.implementation != want_impl:
        problems.append(f"sys.implementation.name is {identity.implementation!r}, expected {want_impl!r}")
    want_machine = board.expect_machine
    if want_machine and want_machine.lower() not in identity.machine.lower():
        problems.append(f"machine {identity.machine!r} does not contain {want_machine!r}")
    return problems


def judge(board: Board, identity: Identity) -> IdentityResult:
    problems = check_identity(board, identity)
    if problems:
        return IdentityResult("mismatch", "; ".join(problems), identity)
    return IdentityResult("ok", f"{identity.implementation} on {identity.machine!r}", identity)


def skip_reason_after_flash(url: str) -> str | None:
    """Why the post-flash identity step cannot run on this port, or None when it can."""
    if is_socket(url):
        return ("socket:// port: no reset line to boot the new firmware (and esp32-mock-bootloader runs "
                "no firmware); reset the board, then run `usocket-hil flash --identity-only`")
    return None


def parse_probe_output(raw: bytes) -> Identity:
    """Turn the probe's printed tuple into an Identity; IdentityError on anything else."""
    text = raw.decode("utf-8", "replace").strip()
    try:
        value = ast.literal_eval(text.splitlines()[-1] if text else "")
    except (ValueError, SyntaxError):
        raise IdentityError(f"unexpected identity reply: {text[:120]!r}") from None
    if not (isinstance(value, tuple) and len(value) == 4 and all(isinstance(v, str) for v in value)):
        raise IdentityError(f"unexpected identity reply: {text[:120]!r}")
    return Identity(*value)


def read_identity(url: str, *, timeout: float = 15.0, baudrate: int = 115200) -> Identity:
    """Ask the board on `url` who it is, within `timeout` seconds (retrying the open while it boots).

    BoardSession supplies the deadlines mpremote lacks (its reads on /dev/pts/* never time out)."""
    from ..errors import TransportError
    from ..transport import BoardSession

    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while (remaining := deadline - time.monotonic()) > 0:
        try:
            with BoardSession(url, open_timeout=remaining, baudrate=baudrate) as session:
                res = session.exec(_PROBE, timeout=max(1.0, deadline - time.monotonic()))
        except TransportError as exc:  # port re-enumerating after reset, or no REPL answer yet
            last = exc
            time.sleep(min(0.3, max(0.0, deadline - time.monotonic())))
            continue
        if not res.ok:
            detail = (res.error or res.outcome).strip().splitlines()[-1]
            raise IdentityError(f"could not read the board's identity on {url}: {detail}")
        return parse_probe_output(res.stdout)
    detail = str(last).splitlines()[0] if last else "timed out"
    raise IdentityError(f"could not read the board's identity on {url}: {detail}")


def identify(board: Board, url: str, *, timeout: float = 15.0) -> IdentityResult:
    """read_identity + judge, with errors folded into the result (status 'error')."""
    try:
        identity = read_identity(url, timeout=timeout)
    except IdentityError as exc:
        return IdentityResult("error", str(exc))
    return judge(board, identity)
