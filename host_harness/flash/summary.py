"""The lines `usocket-hil flash` prints per board: the closing summary, the failure line, the progress stage.

One place for the wording, so the summary never says a thing twice or contradicts itself (an identity-only
run states the identity outcome alone, not "identity checked; identity error").
"""

from __future__ import annotations

from .bootcheck import BOOTING_STATES, boot_line
from .writer import FlashResult

_DONE = {"written": "written {bytes} bytes and verified",
         "skipped": "already in flash, write skipped",
         "verified": "flash matches the image"}


def _identity(r: FlashResult) -> str:
    ident = r.identity or {}
    return f"identity {ident.get('status')}: {ident.get('reason')}"


def _boot_failed(r: FlashResult) -> bool:
    return bool(r.boot) and r.boot["status"] not in BOOTING_STATES


def progress_stage(r: FlashResult) -> str:
    """The final stage shown on the board's progress line."""
    if r.error is not None:
        return "failed"
    if r.outcome == "checked":  # --identity-only: the identity step was all there was
        return f"identity {(r.identity or {}).get('status')}"
    if _boot_failed(r):
        return f"{r.outcome}, {r.boot['status']}"
    if r.identity and r.identity["status"] not in ("ok", "skipped"):
        return f"{r.outcome}, identity {r.identity['status']}"
    return r.outcome


def summary_line(r: FlashResult) -> str:
    """`BOARD PORT: what happened [duration, log]`, one line per board on stdout."""
    head = f"{r.board} {r.port}: "
    if r.error:
        return head + f"FAILED ({r.error}) log: {r.log_path}"
    if r.outcome == "checked":
        parts = _identity(r)
    else:
        parts = _DONE.get(r.outcome, r.outcome).format(bytes=r.bytes_written)
        if len(r.attempts) > 1:
            parts += f" (after {len(r.attempts)} attempts: {', '.join(r.attempts)})"
        if r.boot:  # what the board printed after the reset (bootcheck.py)
            parts += f"; {boot_line(r.boot['status'], r.boot['reason'])}"
        if r.identity:
            parts += "; " + _identity(r)
    return head + parts + f" [{r.duration:.1f} s, log: {r.log_path}]"


def failure_line(r: FlashResult) -> str:
    """Why a board counts as failed (its error, else its boot, else its identity outcome), for the one
    error line."""
    if r.error:
        return r.error
    if _boot_failed(r):
        return f"{r.board} on {r.port}: {r.boot['status']} after flashing: {r.boot['reason']}"
    return f"{r.board} on {r.port}: identity check {_identity(r).removeprefix('identity ')}"
