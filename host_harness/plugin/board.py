"""The `board` fixture's object: run code on the board with a deadline and get values back, not stdout.

`board.call("cases.tcp", "case_echo", ip, port)` imports the module on the board, calls the function and
returns its value: the board prints `repr(value)` between a per-call random marker, and the host turns it
back into a Python value with ast.literal_eval (tuples, bytes and dicts survive; json would lose them).
Arguments travel the same way (as literals in the code sent), so they must be literals.
Exceptions on the board become BoardError with the board traceback, annotated with source lines.
"""

from __future__ import annotations

import ast
import re
import secrets
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..transport.result import BoardCrashed, BoardError, BoardHung, BoardTransportError, parse_traceback
from .backends import Backend
from .tracebacks import annotate_traceback

_MARK = "\x1eHILRET:"
_IDENT = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")
_MIN_TIMEOUT = 0.5  # a call always gets at least this long, even when the test budget is nearly spent


class BoardRepr(str):
    """A return value that has no literal form on the host (e.g. an object): its board-side repr."""


class ExecOutput:
    """What `board.exec` returns when the code succeeded."""

    def __init__(self, stdout: bytes, duration: float) -> None:
        self.stdout = stdout
        self.duration = duration

    @property
    def text(self) -> str:
        return self.stdout.decode("utf-8", "replace").replace("\r\n", "\n")

    def __repr__(self) -> str:
        return f"ExecOutput({self.text!r}, {self.duration:.3f}s)"


def _literal(value: Any, what: str) -> str:
    text = repr(value)
    try:
        same = ast.literal_eval(text) == value
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        same = False
    if not same:
        raise TypeError(f"{what} must be literals (int, str, bytes, tuple, list, dict, bool, None): "
                        f"{text[:80]}")
    return text


class BoardHandle:
    """One board for the duration of a test (the object may be reused by later tests on the same board)."""

    def __init__(
        self,
        backend: Backend,
        *,
        sink: Callable[[bytes], None],
        budget: Callable[[], float],
        roots: list[Path],
        on_reset: Callable[[], None],
    ) -> None:
        self._backend = backend
        self._sink = sink
        self._budget = budget  # seconds left of the test's board_timeout
        self._roots = roots
        self._on_reset = on_reset
        self._lock = threading.Lock()
        self._pending: CallHandle | None = None

    # -- facts ------------------------------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self._backend.definition.name

    @property
    def definition(self):
        """The host_harness.boards.Board read from boards/<name>.toml."""
        return self._backend.definition

    @property
    def target(self) -> str:
        return self._backend.definition.target

    @property
    def ip(self) -> str | None:
        """Address the host reaches the board at (None when unknown, e.g. a serial board off-network)."""
        return self._backend.ip

    @property
    def host_ip(self) -> str | None:
        """Address the board reaches host peers at."""
        return self._backend.host_ip

    def has(self, capability: str) -> bool:
        return self._backend.definition.has(capability)

    def install_ca(self, pem: str) -> bool:
        """The board layer installs a TLS CA the board's REPL cannot write (a WiPy over FTP); False if it
        need not (the case writes it on the board)."""
        return self._backend.install_ca(pem)

    def host_socket(self, family: int = socket.AF_INET, type: int = socket.SOCK_STREAM) -> socket.socket:
        """A host socket that can reach the board (inside the host namespace for a virtual board)."""
        return self._backend.socket_factory(family, type)

    # -- running code -----------------------------------------------------------------------------------
    def _timeout(self, timeout: float | None) -> float:
        left = self._budget()
        t = left if timeout is None else min(timeout, left)
        return max(t, _MIN_TIMEOUT)

    def _run(self, code: str, timeout: float | None, *, what: str, inline: dict[str, str],
             line_map=None) -> tuple[bytes, float]:
        __tracebackhide__ = True
        pending = self._pending
        if pending is not None and not pending.done() and threading.current_thread() is not pending._thread:
            raise RuntimeError(f"the board is busy with the background call {pending.what}; "
                               "get its .result() before using the board again")
        t = self._timeout(timeout)
        with self._lock:
            res = self._backend.exec(code, t)
        out = bytes(res.stdout)
        shown = _strip_marks(out)
        self._sink(shown)
        if res.outcome == "ok":
            return out, res.duration
        text = shown.decode("utf-8", "replace").replace("\r\n", "\n")
        if res.outcome == "error":
            self._sink(res.error.encode() if isinstance(res.error, str) else bytes(res.error))
            tb = annotate_traceback(res.error.replace("\r\n", "\n").strip(), roots=self._roots,
                                    inline_sources=inline, line_map=line_map)
            exc = (parse_traceback(res.error).exc_type or "").rsplit(".", 1)[-1]
            last = tb.splitlines()[-1] if tb else "(no traceback)"
            raise BoardError(f"{what} raised on board {self.name}: {last}\n{tb}", result=res,
                             board_traceback=tb, exc_type=exc, output=text)
        note = f"; recovered by {res.recovered_by}" if res.recovered_by else ""
        self._sink(f"\n[usocket-hil] {res.outcome}: {res.error}\n".encode())
        if res.outcome in ("hung", "crashed"):
            self._on_reset()  # the board is fresh: redo per-test setup (sync channel) before the next call
        if res.outcome == "hung":
            raise BoardHung(f"board hung: {what} did not finish within {t:.1f} s on {self.name} "
                            f"({res.error}{note})", result=res, output=text)
        if res.outcome == "crashed":
            raise BoardCrashed(f"board crashed: {what} on {self.name}: {res.error}{note}", result=res,
                               output=text)
        raise BoardTransportError(f"board link lost: {what} on {self.name}: {res.error}", result=res,
                                  output=text)

    def exec(self, code: str, timeout: float | None = None) -> ExecOutput:
        """Run `code` (statements); return its output, raise BoardError/BoardHung/BoardCrashed otherwise."""
        __tracebackhide__ = True
        out, dur = self._run(code, timeout, what="exec", inline={"<stdin>": code})
        return ExecOutput(_strip_marks(out), dur)

    def eval(self, expr: str, timeout: float | None = None) -> Any:
        """Evaluate one expression on the board and return its value."""
        __tracebackhide__ = True
        code, nonce = _with_return(f"_hil_r = ({expr})\n")
        out, _ = self._run(code, timeout, what=f"eval({expr[:40]!r})", inline={}, line_map=_drop_stdin)
        return _result(out, nonce)

    def call(self, module: str, func: str, *args: Any, timeout: float | None = None, **kwargs: Any) -> Any:
        """Import `module` on the board, call `func(*args, **kwargs)`, return its value."""
        __tracebackhide__ = True
        code, nonce = self._call_code(module, func, args, kwargs)
        out, _ = self._run(code, timeout, what=f"{module}.{func}()", inline={}, line_map=_drop_stdin)
        return _result(out, nonce)

    def run(self, source: str, func: str | None = None, *args: Any, timeout: float | None = None) -> Any:
        """Run `source` on the board; with `func`, then call that function and return its value."""
        __tracebackhide__ = True
        if not source.endswith("\n"):
            source += "\n"
        n_src = source.count("\n")
        call = (f"_hil_r = {_check_ident(func, 'func')}(*{_literal(args, 'arguments')})\n"
                if func else "_hil_r = None\n")
        code, nonce = _with_return(call, prefix=source)

        def line_map(fname: str, line: int):
            if fname != "<stdin>":
                return fname, line
            return ("<source>", line) if line <= n_src else None

        out, _ = self._run(code, timeout, what=f"{func or 'source'}()", inline={"<source>": source},
                           line_map=line_map)
        return _result(out, nonce)

    def _call_code(self, module: str, func: str, args: tuple, kwargs: dict) -> tuple[str, str]:
        _check_ident(module, "module")
        _check_ident(func, "func")
        lines = (f"import {module}\n"
                 f"_hil_r = {module}.{func}(*{_literal(args, 'arguments')}, "
                 f"**{_literal(kwargs, 'keyword arguments')})\n")
        return _with_return(lines)

    # -- background calls -------------------------------------------------------------------------------
    def start_call(self, module: str, func: str, *args: Any, timeout: float | None = None,
                   **kwargs: Any) -> CallHandle:
        """Start board.call in the background (e.g. the board serves while the host test is the client)."""
        if self._pending is not None and not self._pending.done():
            raise RuntimeError("a background board call is still running; get its .result() first")
        # Resolve the deadline now: the budget keeps running while the call is in the background.
        t = self._timeout(timeout)
        handle = CallHandle(lambda: self.call(module, func, *args, timeout=t, **kwargs),
                            f"{module}.{func}()", t)
        self._pending = handle
        return handle

    def join_pending(self, timeout: float) -> str | None:
        """At teardown: wait for a forgotten background call; a description if it had to be abandoned."""
        h, self._pending = self._pending, None
        if h is None:
            return None
        h._thread.join(timeout)
        if h._thread.is_alive():
            return f"background call {h.what} still running at teardown"
        return None

    # -- resets -----------------------------------------------------------------------------------------
    def reset(self, hard: bool = False) -> None:
        """Soft reset (fresh interpreter state, deployed files kept); hard=True power-cycles/restarts."""
        with self._lock:
            self._backend.reset("hard" if hard else "soft")
        self._sink(f"\n[usocket-hil] {'hard' if hard else 'soft'} reset\n".encode())
        self._on_reset()

    def __repr__(self) -> str:
        return f"<board {self.name} ip={self.ip} host_ip={self.host_ip}>"


class CallHandle:
    """A board.call running in a thread; `.result(timeout)` returns its value or raises its error."""

    def __init__(self, fn: Callable[[], Any], what: str, call_timeout: float) -> None:
        self.what = what
        self._call_timeout = call_timeout
        self._value: Any = None
        self._exc: BaseException | None = None
        self._thread = threading.Thread(target=self._work, args=(fn,), name="hil-board-call", daemon=True)
        self._started = time.monotonic()
        self._thread.start()

    def _work(self, fn: Callable[[], Any]) -> None:
        try:
            self._value = fn()
        except BaseException as exc:  # handed to result()
            self._exc = exc

    def done(self) -> bool:
        return not self._thread.is_alive()

    def result(self, timeout: float | None = None) -> Any:
        __tracebackhide__ = True
        # Default: as long as the call itself may take, plus time for a hung board's recovery.
        limit = self._call_timeout + 30.0 if timeout is None else timeout
        self._thread.join(limit)
        if self._thread.is_alive():
            raise BoardHung(f"board hung: {self.what} still running after {limit:g} s (result() timeout)")
        if self._exc is not None:
            raise self._exc
        return self._value


def _check_ident(name: str | None, what: str) -> str:
    if not name or not _IDENT.match(name):
        raise ValueError(f"{what} must be a dotted Python name, got {name!r}")
    return name


def _drop_stdin(fname: str, line: int):
    return None if fname == "<stdin>" else (fname, line)


def _with_return(body: str, prefix: str = "") -> tuple[str, str]:
    nonce = secrets.token_hex(6)
    code = (prefix + body + f"print('{_MARK}{nonce}:' + repr(_hil_r) + '\\x1e')\n"
            "del _hil_r\n")
    return code, nonce


def _strip_marks(out: bytes) -> bytes:
    return re.sub(rb"\x1eHILRET:[0-9a-f]+:.*?\x1e\r?\n?", b"", out, flags=re.S)


def _result(out: bytes, nonce: str) -> Any:
    __tracebackhide__ = True
    m = re.search(rb"\x1eHILRET:" + nonce.encode() + rb":(.*?)\x1e", out, flags=re.S)
    if m is None:
        raise BoardError(f"the board returned no value (output: {out[-200:]!r})")
    text = m.group(1).decode("utf-8", "replace")
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return BoardRepr(text)
