"""The "board" process of the cpython backend: runs code it is sent in one persistent namespace.

Runs as `python -u -P cpython_agent.py CTL_FD` inside the board's network namespace.  Requests arrive on
stdin as length-prefixed JSON frames; the result frame goes to CTL_FD, never to stdout, so whatever the
code prints (stdout and stderr, merged like a board's console) cannot be mistaken for a result.
Tracebacks are formatted like MicroPython's (no source lines; the plugin adds them from the host files).
Only the standard library is used: this file must not import host_harness.
"""

import json
import os
import struct
import sys
import traceback
import types


def _read_exact(f, n):
    buf = b""
    while len(buf) < n:
        chunk = f.read(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf


def _format_exc(exc):
    # Drop our own frame (the exec() line) so the first entry is the sent code, as on a board.
    frames = traceback.extract_tb(exc.__traceback__)[1:]
    lines = ["Traceback (most recent call last):"]
    for fr in frames:
        lines.append(f'  File "{fr.filename}", line {fr.lineno}, in {fr.name}')
    lines.extend(x.rstrip("\n") for x in traceback.format_exception_only(type(exc), exc))
    return "\n".join(lines) + "\n"


def main():
    ctl = os.fdopen(int(sys.argv[1]), "wb", buffering=0)
    os.dup2(1, 2)  # one console, as on a board
    sys.stderr = sys.stdout
    stdin = sys.stdin.buffer
    # A fresh __main__ module, as on a board's REPL: `import __main__` reaches what exec'd code defined.
    main_mod = types.ModuleType("__main__")
    sys.modules["__main__"] = main_mod
    namespace = main_mod.__dict__
    while True:
        head = _read_exact(stdin, 4)
        if head is None:
            return
        (n,) = struct.unpack(">I", head)
        body = _read_exact(stdin, n)
        if body is None:
            return
        code = json.loads(body)["code"]
        try:
            exec(compile(code, "<stdin>", "exec"), namespace)
            reply = {"outcome": "ok"}
        except SystemExit as exc:  # sys.exit() on a board ends the program, it is not an error
            reply = {"outcome": "ok", "exit": str(exc.code)}
        except BaseException as exc:  # KeyboardInterrupt included: it is how a deadline interrupts us
            reply = {"outcome": "error", "error": _format_exc(exc)}
        sys.stdout.flush()
        data = json.dumps(reply).encode()
        ctl.write(struct.pack(">I", len(data)) + data)


if __name__ == "__main__":
    main()
