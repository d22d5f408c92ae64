"""Running a port model the way docs/fidelity.md's rows are pinned: a MicroPython program over the model alone
(`model_rows`), or source sent through a virtual board's raw REPL (`vboard_exec`), which is where the
interpreter features of each firmware (float, async, hidden modules, errno folding) are enforced."""

from __future__ import annotations

import ast
import os
import socket
import subprocess
from pathlib import Path
from typing import Any

from test_core_direct import MICROPYTHON
from test_port_models import MODELS, mp_path, run_mp

from host_harness.virtual.interpreter import VBOARD_PY

# MicroPython helpers prepended to every row program: err(fn) -> ("ok", result) or the OSError's number;
# read_only(s), write_args(s), readall(s): the stream rows (E20/E21, W25) on a socket connected to an echo;
# limit(new, exc) -> (sockets opened, args[0] of what the firmware raised at the next one), all closed again.
HELPERS = r"""
def err(fn):
    try:
        return ("ok", fn())
    except OSError as e:
        return e.args[0]
def read_only(s):
    # readinto() of read-only buffers (a view of bytes and empty bytes too): what each raised
    out = []
    for ro in (b"abcd", memoryview(b"abcd"), b""):
        try:
            s.readinto(ro)
        except TypeError:
            out.append("TypeError")
    return out
def write_args(s):
    # write(buf, max_len), write(buf, off, max_len) and max_len -1 to an echo: the counts, and the echo
    n = (s.write(b"abcdef", 3), s.write(b"0123456789", 4, 2), s.write(b"xy", -1))
    got = b""
    while len(got) < 7:
        got += s.recv(16)
    return n, got
def readall(s):
    # read() without a size on a non-blocking socket the echo sends 1000 bytes: all that arrived, then None
    s.write(bytes(1000))
    import time
    time.sleep_ms(300)
    return (len(s.read()), s.read())
def limit(new, exc=OSError):
    keep = []
    try:
        for i in range(40):
            keep.append(new())
    except exc as x:
        return (len(keep), x.args[0])
    finally:
        for k in keep:
            k.close()
"""


def model_rows(target: str, code: str, tmp: Path, *args: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run `code` over the model (plus glue and core) and return the dict it printed after '@@'."""
    r = run_mp(target, HELPERS + RESET_PROBE + code, tmp, *args, env=env)
    row = next((ln[2:] for ln in r.stdout.splitlines() if ln.startswith("@@")), None)
    assert row, r.stdout + r.stderr
    return ast.literal_eval(row)


def vboard_exec(target: str, code: str, tmp: Path, heapsize: str = "512k") -> tuple[str, str]:
    """(stdout, exception text) of `code` run through the raw REPL of a virtual board with the target's model."""
    assert MICROPYTHON is not None
    flash = tmp / f"flash-{target}"
    flash.mkdir(exist_ok=True)
    env = {**os.environ, "VBOARD_MODE": "raw", "VBOARD_FS": str(flash), "VBOARD_MODEL": str(MODELS / target)}
    r = subprocess.run([MICROPYTHON, "-X", f"heapsize={heapsize}", str(VBOARD_PY)], input=code.encode() + b"\x04",
                       capture_output=True, timeout=60, env=env)
    out = r.stdout.decode(errors="replace")
    assert "OK" in out, out + r.stderr.decode(errors="replace")
    body = out.split("OK", 1)[1].split("\x04")
    return body[0].replace("\r\n", "\n"), body[1].replace("\r\n", "\n")


def closed_port() -> int:
    """A loopback port where nothing listens (bound, then closed)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# MicroPython: the errno (or the first data) of recv on a socket whose peer answered 8 bytes with an RST;
# `sock` is connected to a host_harness.peers.ResetAfter(n=8).
RESET_PROBE = r"""
def after_reset(sock, recv):
    sock.send(b"12345678")
    got = 0
    while got < 8:
        got += len(recv(8 - got))
    import time
    time.sleep(0.3)
    try:
        return ("data", recv(8))
    except OSError as e:
        return e.args[0]
"""


def hosts_name() -> str | None:
    """A name other than localhost that /etc/hosts gives an IPv4 address (the resolver answers it from the file,
    no query leaves the host), else None."""
    for line in Path("/etc/hosts").read_text().splitlines():
        f = line.split("#", 1)[0].split()
        if len(f) > 1 and f[0].count(".") == 3:
            for name in f[1:]:
                if name != "localhost" and "localhost" not in name:
                    return name
    return None


def resolve_here_and_in_a_namespace(target: str, code: str, tmp: Path) -> tuple[str, str]:
    """What `code` (over the model; it looks up sys.argv[1], a name of /etc/hosts) prints after '@@': run in this
    (root) namespace, then as a networked virtual board runs, inside a namespace pair made here (VBOARD_IP set).
    Skips where this machine has no such name or no namespaces."""
    import pytest

    from host_harness.netns import create_pair, netns_mode

    name = hosts_name()
    if name is None or netns_mode()[0] is None:
        pytest.skip("needs a name in /etc/hosts besides localhost, and network namespaces")
    assert MICROPYTHON is not None
    prog = tmp / f"resolve_{target}.py"
    prog.write_text(code)
    env = {k: v for k, v in os.environ.items() if k != "VBOARD_IP"}
    env["MICROPYPATH"] = mp_path(target)
    argv = [MICROPYTHON, str(prog), name]
    got = []
    pair = create_pair()
    try:
        for run, extra in ((argv, {}), (pair.board_argv(argv), {"VBOARD_IP": pair.board_ip})):
            r = subprocess.run(run, capture_output=True, text=True, timeout=60, cwd=tmp, env={**env, **extra})
            row = next((ln[2:] for ln in r.stdout.splitlines() if ln.startswith("@@")), None)
            assert row, r.stdout + r.stderr
            got.append(row)
    finally:
        pair.close()
    return got[0], got[1]
