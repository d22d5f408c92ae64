"""Benchmark: the usocket_port datapath and heap against the native socket module, measured in the same run.

Sections (one table at the end):
  datapath  On the virtual board's interpreter (`micropython -X heapsize=512k`) and on CPython, each run as
            a subprocess inside the board side of a network-namespace pair (loopback if namespaces are not
            available, with a note): bulk TCP throughput (write / readinto, 8 MiB each direction) and
            64-byte round-trip latency, through `usocket_port` and through the native `socket` module of
            the same interpreter (the baseline).  Rounds alternate native/port; the best round counts.
            Peers are host_harness.peers in this process (TcpSource, TcpEcho, and an acknowledging sink so
            a write is timed until the peer has every byte, not until the kernel buffered it).
  heap      MicroPython only: gc.mem_alloc() delta of `import usocket_port` with EVERY target's glue as
            deployed (.mpy, -s names; bench/import_heap.py, the measurement tests/host/test_import_heap.py
            shares), with the unix glue as .py; heap per socket; and, for information, the heap once every
            lazily loaded part of the core has been pulled in.
Goals: throughput >= 0.9 x native, latency <= 1.25 x native, import <= 8 KiB, <= 200 B per socket.

Not a test: it prints the table and exits 0 unless a measurement could not be made (then a one-line error
and exit 1).  Run: `.venv/bin/python bench/datapath.py [--mib 8] [--rtts 2000] [--rounds 3] [--chunk 4096]`.
Everything it starts (subprocesses, peers, namespaces) is closed on exit, also on Ctrl-C / SIGTERM.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from host_harness.errors import HilError  # noqa: E402
from host_harness.micropython import find_micropython, micropython_env  # noqa: E402
from host_harness.mpy import mpy_cross_command  # noqa: E402
from host_harness.netns import create_pair, netns_support  # noqa: E402
from host_harness.peers import TcpEcho, TcpSource, registry  # noqa: E402
from host_harness.peers.base import Connection, StreamPeer  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
import import_heap  # noqa: E402  (bench/import_heap.py: the one import-heap measurement, every target's glue)

CORE = ROOT / "usocket_port"
GLUE = {"micropython": ROOT / "ports" / "unix", "cpython": ROOT / "ports" / "cpython"}
HEAPSIZE = "512k"  # as the virtual-unix board
RUN_DEADLINE_S = 300.0  # per interpreter subprocess; the whole datapath section is a few seconds normally
GOAL_TPUT = 0.9
GOAL_LAT = 1.25
GOAL_IMPORT = 8 * 1024
GOAL_SOCKET = 200


class BenchError(HilError):
    """A measurement could not be made (subprocess failed, peer saw wrong data)."""


# ---- device side: one script for both interpreters ------------------------------------------------------
# Parameters come in a JSON file (long argv strings crash this micropython build); results go to stdout as
# "@@{json}" lines.  Blocking sockets with a 30 s timeout on both sides, so nothing can hang forever.
CLIENT = r"""
import sys, json
import socket as nat
import usocket_port as us
try:
    from time import ticks_us, ticks_diff
except ImportError:
    from time import perf_counter_ns
    def ticks_us():
        return perf_counter_ns() // 1000
    def ticks_diff(a, b):
        return a - b
MP = sys.implementation.name == "micropython"
with open(sys.argv[1]) as f:
    P = json.loads(f.read())
TIMEOUT = 30

def nat_connect(addr):
    s = nat.socket()
    s.settimeout(TIMEOUT)
    if MP:
        s.connect(nat.getaddrinfo(addr[0], addr[1])[0][-1])  # the unix port wants raw sockaddr bytes
    else:
        s.connect((addr[0], addr[1]))
    return s

def port_connect(addr):
    s = us.socket()
    s.settimeout(TIMEOUT)
    s.connect((addr[0], addr[1]))
    return s

def nat_sendall(s, b):
    if MP:
        s.write(b)
    else:
        s.sendall(b)

def nat_fill(s, mv):
    # read exactly len(mv) bytes (short only at EOF): the native counterpart of usocket_port.readinto
    if MP:
        n = s.readinto(mv)
        return n if n else 0
    got = 0
    while got < len(mv):
        n = s.recv_into(mv[got:])
        if not n:
            break
        got += n
    return got

def port_fill(s, mv):
    n = s.readinto(mv)
    return n if n else 0

def up(s, send, fill, nbytes, chunk):
    buf = bytearray(chunk)
    mv = memoryview(buf)
    ack = bytearray(1)
    t0 = ticks_us()
    left = nbytes
    while left > 0:
        if left >= chunk:
            send(s, buf)
            left -= chunk
        else:
            send(s, mv[:left])
            left = 0
    if fill(s, memoryview(ack)) != 1:  # the sink acknowledges once it holds every byte
        raise OSError(0, "no ack from sink")
    return ticks_diff(ticks_us(), t0)

def down(s, fill, nbytes, chunk):
    buf = bytearray(chunk)
    mv = memoryview(buf)
    t0 = ticks_us()
    got = 0
    while True:
        n = fill(s, mv)
        got += n
        if n < chunk:
            break
    dt = ticks_diff(ticks_us(), t0)
    if got != nbytes:
        raise OSError(0, "short download %d of %d" % (got, nbytes))
    return dt

def rtt(s, send, fill, count):
    msg = bytes(range(64))
    buf = bytearray(64)
    mv = memoryview(buf)
    for i in range(20):  # warm-up: first packets, lazy paths, caches
        send(s, msg)
        fill(s, mv)
    t0 = ticks_us()
    for i in range(count):
        send(s, msg)
        if fill(s, mv) != 64:
            raise OSError(0, "short echo")
    dt = ticks_diff(ticks_us(), t0)
    if bytes(buf) != msg:
        raise OSError(0, "echo differs")
    return dt

for rnd in range(P["rounds"]):
    for mode in ("native", "port") if rnd % 2 == 0 else ("port", "native"):
        if mode == "native":
            conn, send, fill = nat_connect, nat_sendall, nat_fill
        else:
            conn, send, fill = port_connect, (lambda s, b: s.write(b)), port_fill
        out = {"round": rnd, "mode": mode}
        s = conn(P["sink"])
        out["up_us"] = up(s, send, fill, P["nbytes"], P["chunk"])
        s.close()
        s = conn(P["source"])
        out["down_us"] = down(s, fill, P["nbytes"], P["chunk"])
        s.close()
        s = conn(P["echo"])
        out["rtt_us"] = rtt(s, send, fill, P["rtts"])
        s.close()
        print("@@" + json.dumps(out))
"""

# Heap probe (micropython only).  Baselines: `import socket` (a builtin) costs nothing, so the delta of
# `import usocket_port` is the layer itself (core + glue).  Per socket: 8 of them averaged.
HEAP_PROBE = r"""
import gc, sys
gc.collect()
a = gc.mem_alloc()
import usocket_port as us
gc.collect()
b = gc.mem_alloc()
import socket as nat
slots = [None] * 8
gc.collect()
c = gc.mem_alloc()
for i in range(8):
    slots[i] = us.socket()
gc.collect()
d = gc.mem_alloc()
for i in range(8):
    slots[i].close()
    slots[i] = None
gc.collect()
e = gc.mem_alloc()
for i in range(8):
    slots[i] = nat.socket()
gc.collect()
f = gc.mem_alloc()
for i in range(8):
    slots[i].close()
    slots[i] = None
# Pull in every lazily loaded part: touch every public method once (attribute lookup is enough).
s = us.socket()
for name in ("bind", "listen", "accept", "connect", "send", "sendall", "recv", "recv_into", "sendto",
             "recvfrom", "recvfrom_into", "setsockopt", "settimeout", "setblocking", "makefile", "read",
             "readinto", "readline", "write", "close", "fileno", "ioctl"):
    getattr(s, name)
repr(s)
s.close()
s = None
name = None
gc.collect()
g = gc.mem_alloc()
print("@@" + "%d %d %d %d" % (b - a, (d - c) // 8, (f - e) // 8, g - a))
"""


# ---- host side --------------------------------------------------------------------------------------------


class AckSink(StreamPeer):
    """Reads and discards `nbytes` per connection, then sends one byte: the writer's clock stops there."""

    def __init__(self, bind_host: str, *, nbytes: int, socket_factory: Any = socket.socket) -> None:
        self.nbytes = nbytes
        super().__init__(bind_host, socket_factory=socket_factory, max_connections=4)

    def handle(self, rec: Connection, conn: socket.socket) -> None:
        while rec.bytes_in < self.nbytes:
            if not self.recv_some(rec, conn, 262144):
                return  # client went away early: the client side reports the failure
        self.send_all(rec, conn, b"!")
        while self.recv_some(rec, conn):  # until the client closes
            pass


def build_lib(dest: Path, *, mpy: bool) -> Path:
    """/lib as a board gets it: usocket_port/ (every module of the package) + the unix glue, .mpy or .py."""
    (dest / "usocket_port").mkdir(parents=True)
    sources = [(p, f"usocket_port/{p.name}") for p in sorted(CORE.glob("*.py"))]
    sources.append((GLUE["micropython"] / "usocket_target.py", "usocket_target.py"))
    for src, rel in sources:
        if mpy:
            out = dest / (rel[: -len(".py")] + ".mpy")
            # -s: the short name, as host_harness.deploy does (the source name is a qstr kept in RAM)
            r = subprocess.run([*mpy_cross_command(), "-s", rel, "-o", str(out), str(src)], capture_output=True,
                               text=True, timeout=60)
            if r.returncode != 0:
                raise BenchError(f"mpy-cross failed on {src}: {r.stderr.strip()[-300:]}")
        else:
            shutil.copy(src, dest / rel)
    return dest


def run_child(argv: list[str], env: dict[str, str], cwd: Path, what: str) -> list[str]:
    """Run a benchmark subprocess with a deadline; return its "@@" payload lines."""
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=cwd,
                            start_new_session=True)  # own group: killed as a whole below
    try:
        out, err = proc.communicate(timeout=RUN_DEADLINE_S)
    except BaseException:  # deadline, Ctrl-C, SIGTERM: the child must not outlive us
        _kill(proc)
        raise
    if proc.returncode != 0:
        tail = err.decode(errors="replace").strip().splitlines()[-1:] or [f"exit status {proc.returncode}"]
        raise BenchError(f"{what} failed: {tail[0]}")
    return [ln[2:] for ln in out.decode(errors="replace").splitlines() if ln.startswith("@@")]


def _kill(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        proc.kill()
    try:
        proc.communicate(timeout=10)
    except (subprocess.TimeoutExpired, ValueError):
        pass


@dataclass
class Net:
    """Where the interpreters run and where the peers listen."""

    pair: Any  # NetnsPair | UserNetnsPair | None
    note: str

    @property
    def host_ip(self) -> str:
        return self.pair.host_ip if self.pair else "127.0.0.1"

    def argv(self, argv: list[str]) -> list[str]:
        return self.pair.board_argv(argv) if self.pair else argv

    def factory(self) -> Any:
        return self.pair.host_socket if self.pair else socket.socket


def open_net() -> Net:
    ok, why = netns_support()
    if ok:
        try:
            pair = create_pair()
            return Net(pair, f"network namespaces: board {pair.board_ip} <-> host {pair.host_ip} (veth /30)")
        except HilError as exc:
            why = str(exc)
    return Net(None, f"NOTE: no network namespaces ({why}); measuring over loopback 127.0.0.1")


def datapath(net: Net, tmp: Path, lib: Path, args: argparse.Namespace) -> dict[str, dict[str, dict]]:
    nbytes = args.mib * 1024 * 1024
    client = tmp / "client.py"
    client.write_text(CLIENT)
    peers: list[StreamPeer] = []
    results: dict[str, dict[str, dict]] = {}
    try:
        fac = net.factory()
        sink = AckSink(net.host_ip, nbytes=nbytes, socket_factory=fac)
        peers.append(sink)
        source = TcpSource(net.host_ip, nbytes=nbytes, chunk=262144, socket_factory=fac)
        peers.append(source)
        echo = TcpEcho(net.host_ip, socket_factory=fac)
        peers.append(echo)
        params = {"sink": sink.address, "source": source.address, "echo": echo.address, "nbytes": nbytes,
                  "chunk": args.chunk, "rtts": args.rtts, "rounds": args.rounds}
        pfile = tmp / "params.json"
        pfile.write_text(json.dumps(params))
        runs = {
            "micropython": ([find_micropython(), "-X", f"heapsize={HEAPSIZE}", str(client), str(pfile)],
                            micropython_env(lib, frozen=True)),
            "cpython": ([sys.executable, str(client), str(pfile)],
                        {**os.environ, "PYTHONPATH": os.pathsep.join([str(GLUE["cpython"]), str(ROOT)])}),
        }
        for interp, (argv, env) in runs.items():
            print(f"  running {interp} ...", flush=True)
            lines = run_child(net.argv(argv), env, tmp, f"{interp} datapath client")
            rows = [json.loads(ln) for ln in lines]
            if len(rows) != 2 * args.rounds:
                raise BenchError(f"{interp} datapath client reported {len(rows)} of {2 * args.rounds} rounds")
            best: dict[str, dict] = {}
            for r in rows:
                b = best.setdefault(r["mode"], {"up_us": None, "down_us": None, "rtt_us": None})
                for k in b:
                    b[k] = r[k] if b[k] is None else min(b[k], r[k])
            results[interp] = best
        # The peers saw what the clients claim: every upload complete, no peer-side errors.
        bad = [c for p in peers for c in p.connections if c.error]
        if bad:
            raise BenchError(f"a peer connection failed: {bad[0].error}")
        short = [c.bytes_in for c in sink.connections if c.bytes_in != nbytes]
        if short:
            raise BenchError(f"sink received {short[0]} bytes instead of {nbytes}")
    finally:
        for p in peers:
            p.close()
    return results


def heap(tmp: Path) -> dict[str, Any]:
    probe = tmp / "heap_probe.py"
    probe.write_text(HEAP_PROBE)
    out: dict[str, Any] = {}
    for kind in ("mpy", "py"):
        lib = build_lib(tmp / f"heap-{kind}", mpy=kind == "mpy")
        lines = run_child([find_micropython(), "-X", f"heapsize={HEAPSIZE}", str(probe)],
                          micropython_env(lib), tmp, f"heap probe ({kind})")
        if not lines:
            raise BenchError(f"heap probe ({kind}) printed no result")
        imp, per_sock, native, full = map(int, lines[0].split())
        out[kind] = {"import": imp, "per_socket": per_sock, "native_socket": native, "all_loaded": full}
        if kind == "mpy":
            out["mpy_bytes"] = {str(p.relative_to(lib)): p.stat().st_size for p in sorted(lib.rglob("*.mpy"))}
    try:
        out["targets"] = import_heap.all_targets(tmp / "import-heap")
    except import_heap.HeapProbeError as exc:
        raise BenchError(str(exc)) from exc
    return out


# ---- report -----------------------------------------------------------------------------------------------


def _verdict(ok: bool) -> str:
    return "met" if ok else "NOT MET"


def report(net_note: str, dp: dict[str, dict[str, dict]], hp: dict[str, Any], args: argparse.Namespace) -> None:
    nbytes = args.mib * 1024 * 1024
    rows: list[tuple[str, str, str, str, str, str]] = []
    for interp, res in dp.items():
        nat, port = res["native"], res["port"]
        for key, label in (("up_us", "write"), ("down_us", "readinto")):
            n_mbs = nbytes / nat[key]  # bytes/us == MB/s
            p_mbs = nbytes / port[key]
            ratio = p_mbs / n_mbs
            rows.append((interp, f"throughput {label} {args.mib} MiB", f"{n_mbs:8.1f} MB/s", f"{p_mbs:8.1f} MB/s",
                         f"{ratio:5.2f}x", f">= {GOAL_TPUT}x  {_verdict(ratio >= GOAL_TPUT)}"))
        n_rtt = nat["rtt_us"] / args.rtts
        p_rtt = port["rtt_us"] / args.rtts
        ratio = p_rtt / n_rtt
        rows.append((interp, f"round trip 64 B (x{args.rtts})", f"{n_rtt:8.1f} us", f"{p_rtt:8.1f} us",
                     f"{ratio:5.2f}x", f"<= {GOAL_LAT}x {_verdict(ratio <= GOAL_LAT)}"))
    for target, n in hp["targets"].items():
        rows.append(("micropython", f"heap: import usocket_port + {target} glue (.mpy, model loaded)", "0 B",
                     f"{n} B", "", f"<= {GOAL_IMPORT} B  {_verdict(n <= GOAL_IMPORT)}"))
    rows.append(("micropython", "heap: import usocket_port + unix glue (.py)", "0 B", f"{hp['py']['import']} B",
                 "", "(info)"))
    h = hp["mpy"]
    rows.append(("micropython", "heap: per socket (incl. native)", f"{h['native_socket']} B",
                 f"{h['per_socket']} B", f"{h['per_socket'] / max(1, h['native_socket']):5.2f}x",
                 f"<= {GOAL_SOCKET} B  {_verdict(h['per_socket'] <= GOAL_SOCKET)}"))
    rows.append(("micropython", "heap: import + every lazy part", "", f"{h['all_loaded']} B", "", "(info)"))
    head = ("interpreter", "metric", "native", "usocket_port", "ratio", "goal")
    widths = [max(len(r[i]) for r in [*rows, head]) for i in range(6)]
    print()
    print(net_note)
    print(f"best of {args.rounds} rounds (native/port alternating), write/readinto chunk {args.chunk} B")
    line = "  ".join(h.ljust(w) for h, w in zip(head, widths, strict=True))
    print(line)
    print("-" * len(line))
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)))
    sizes = ", ".join(f"{k} {v} B" for k, v in hp["mpy_bytes"].items())
    print(f"\n.mpy files: {sizes} (total {sum(hp['mpy_bytes'].values())} B)")


def _sigterm(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt  # run the same cleanup as Ctrl-C


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mib", type=int, default=8, help="MiB per throughput direction (default 8)")
    ap.add_argument("--rtts", type=int, default=2000, help="64-byte round trips (default 2000)")
    ap.add_argument("--rounds", type=int, default=3, help="alternating native/port rounds, best counts")
    ap.add_argument("--chunk", type=int, default=4096, help="bytes per write()/readinto() call (default 4096)")
    args = ap.parse_args(argv)
    if not (1 <= args.mib <= 256 and 1 <= args.rtts <= 100000 and 1 <= args.rounds <= 20
            and 64 <= args.chunk <= 65536):
        print("datapath: --mib 1-256, --rtts 1-100000, --rounds 1-20, --chunk 64-65536", file=sys.stderr)
        return 2
    return run_bench("datapath", lambda tmp, nets: _run(tmp, nets, args))


def _run(tmp: Path, nets: Nets, args: argparse.Namespace) -> None:
    print("heap (micropython, .mpy and .py) ...", flush=True)
    hp = heap(tmp)
    lib = build_lib(tmp / "lib", mpy=True)
    net = nets.open()
    print(f"datapath ({net.note}) ...", flush=True)
    dp = datapath(net, tmp, lib, args)
    report(net.note, dp, hp, args)


class Nets:
    """The namespace pair a benchmark opens (at most one), closed by run_bench whatever happens."""

    def __init__(self) -> None:
        self.net: Net | None = None

    def open(self) -> Net:
        self.net = open_net()
        return self.net

    def close(self) -> None:
        if self.net is not None and self.net.pair is not None:
            self.net.pair.close()


def run_bench(name: str, body: Callable[[Path, Nets], None]) -> int:
    """Run body(tmp, nets) with a temp folder and cleanup on any exit (Ctrl-C, SIGTERM, errors): one-line
    errors and the exit codes of the bench scripts (0 ok, 1 no measurement, 130 interrupted)."""
    signal.signal(signal.SIGTERM, _sigterm)
    nets = Nets()
    try:
        with tempfile.TemporaryDirectory(prefix=f"usocket-bench-{name}-") as tmpname:
            tmp = Path(tmpname)
            os.chmod(tmp, 0o755)  # the namespace helpers may run the interpreters as another user
            body(tmp, nets)
    except KeyboardInterrupt:
        print(f"{name}: interrupted; cleaned up", file=sys.stderr)
        return 130
    except (HilError, OSError) as exc:
        print(f"{name}: {exc}", file=sys.stderr)
        return 1
    finally:
        nets.close()
        left = registry.live()
        if left:
            print(f"{name}: peers left open: {left}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
