"""Benchmark: real applications through usocket_port.install() against the same libraries on the native
socket module, on the virtual board's interpreter, measured in the same run.

  mqtt  micropython-umqtt.simple 1.3.4 against a real mosquitto (host_harness/peers/mosquitto.py): publish
        64 bytes (QoS 0) to a topic the client subscribed to, wait for the message to come back: the time
        of one publish -> receive round trip, --mqtt times.
  http  micropython-urequests 0.9.1 against the application HTTP peer (host_harness/peers/app_http.py):
        GET of the 100 KB /big body (read to EOF by the library), --gets times: bytes per second.
Both libraries come pinned from PyPI (host_harness/applibs.py).  Rounds alternate native/port (the
libraries are re-imported each round, with or without install()); the best round counts.
Goal: usocket_port's time <= 1.1 x native for both.  Only MicroPython: the libraries are MicroPython
programs (CPython has no `usocket`, and urequests formats bytes with str).

Not a test: prints the table and exits 0 unless a measurement could not be made (one line, exit 1).
Run: `.venv/bin/python bench/apps.py [--mqtt 200] [--gets 20] [--rounds 3]`.  Everything it starts
(the interpreter, mosquitto, peers, the namespace pair) is closed on exit, also on Ctrl-C / SIGTERM.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from datapath import HEAPSIZE, BenchError, Net, Nets, build_lib, run_bench, run_child  # noqa: E402

from host_harness.applibs import ensure  # noqa: E402
from host_harness.micropython import find_micropython, micropython_env  # noqa: E402
from host_harness.peers import AppHttp  # noqa: E402
from host_harness.peers.mosquitto import Mosquitto  # noqa: E402

GOAL = 1.1

CLIENT = r"""
import sys, json, time
import usocket_port
P = json.load(open(sys.argv[1]))
LIBS = ("umqtt", "umqtt.simple", "urequests")
NAMES = ("socket", "usocket", "ssl", "ussl", "tls")
saved = {}
for n in NAMES:
    if n in sys.modules:
        saved[n] = sys.modules[n]


def fresh(port):
    for n in LIBS + NAMES:
        sys.modules.pop(n, None)
    sys.modules.update(saved)
    if port:
        usocket_port.install()


def mqtt(n):
    from umqtt.simple import MQTTClient
    got = []
    c = MQTTClient("bench-%d" % time.ticks_ms(), P["mqtt"][0], P["mqtt"][1], keepalive=60)
    c.set_callback(lambda t, m: got.append(m))
    c.connect()
    c.sock.settimeout(10)
    topic = b"usocket-hil/bench"
    c.subscribe(topic)
    msg = b"x" * 64
    for i in range(n + 10):
        if i == 10:
            t0 = time.ticks_us()
        c.publish(topic, msg)
        k = len(got)
        while len(got) == k:
            c.wait_msg()
    dt = time.ticks_diff(time.ticks_us(), t0)
    c.disconnect()
    return dt


def http(n):
    import urequests
    url = "http://%s:%d/big" % tuple(P["http"])
    total = 0
    t0 = time.ticks_us()
    for i in range(n):
        r = urequests.get(url)
        total += len(r.content)
        r = None
    return time.ticks_diff(time.ticks_us(), t0), total


for rnd in range(P["rounds"]):
    for mode in (("native", "port") if rnd % 2 == 0 else ("port", "native")):
        fresh(mode == "port")
        m = mqtt(P["mqtt_n"])
        h, nbytes = http(P["gets"])
        print("@@" + json.dumps({"mode": mode, "mqtt_us": m, "http_us": h, "http_bytes": nbytes}))
"""


def measure(net: Net, tmp: Path, args: argparse.Namespace) -> dict[str, dict[str, int]]:
    lib = build_lib(tmp / "lib", mpy=True)
    apps = ensure()
    fac = net.factory()
    with Mosquitto(net.host_ip, socket_factory=fac) as broker, AppHttp(net.host_ip, socket_factory=fac) as web:
        params = {"mqtt": broker.address, "http": web.address, "mqtt_n": args.mqtt, "gets": args.gets,
                  "rounds": args.rounds}
        (tmp / "params.json").write_text(json.dumps(params))
        (tmp / "client.py").write_text(CLIENT)
        argv = [find_micropython(), "-X", f"heapsize={HEAPSIZE}", str(tmp / "client.py"), str(tmp / "params.json")]
        lines = run_child(net.argv(argv), micropython_env(lib, apps, frozen=True), tmp, "apps client")
    rows = [json.loads(ln) for ln in lines]
    if len(rows) != 2 * args.rounds:
        raise BenchError(f"apps client reported {len(rows)} of {2 * args.rounds} rounds")
    best: dict[str, dict[str, int]] = {}
    for r in rows:
        if r["http_bytes"] != args.gets * web.big.__len__():
            raise BenchError(f"{r['mode']}: HTTP bodies were {r['http_bytes']} bytes, not {args.gets} x 100 KB")
        b = best.setdefault(r["mode"], {"mqtt_us": r["mqtt_us"], "http_us": r["http_us"]})
        b["mqtt_us"] = min(b["mqtt_us"], r["mqtt_us"])
        b["http_us"] = min(b["http_us"], r["http_us"])
    return best


def report(note: str, best: dict[str, dict[str, int]], args: argparse.Namespace) -> None:
    nat, port = best["native"], best["port"]
    rows = []
    n_rt, p_rt = nat["mqtt_us"] / args.mqtt, port["mqtt_us"] / args.mqtt
    rows.append(("MQTT publish->receive round trip (umqtt.simple, mosquitto)", f"{n_rt:9.1f} us", f"{p_rt:9.1f} us",
                 p_rt / n_rt))
    nbytes = args.gets * 100 * 1024
    n_t, p_t = nbytes / nat["http_us"], nbytes / port["http_us"]  # bytes/us == MB/s
    rows.append((f"HTTP GET 100 KB x{args.gets} (urequests)", f"{n_t:9.2f} MB/s", f"{p_t:9.2f} MB/s",
                 port["http_us"] / nat["http_us"]))
    print()
    print(note)
    print(f"micropython (virtual board interpreter, heapsize {HEAPSIZE}); best of {args.rounds} rounds")
    head = ("metric", "native", "usocket_port", "time ratio", "goal")
    table = [(m, n, p, f"{r:5.2f}x", f"<= {GOAL}x {'met' if r <= GOAL else 'NOT MET'}") for m, n, p, r in rows]
    widths = [max(len(x[i]) for x in [*table, head]) for i in range(5)]
    line = "  ".join(h.ljust(w) for h, w in zip(head, widths, strict=True))
    print(line)
    print("-" * len(line))
    for r in table:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mqtt", type=int, default=200, help="MQTT round trips per round (default 200)")
    ap.add_argument("--gets", type=int, default=20, help="HTTP GETs of 100 KB per round (default 20)")
    ap.add_argument("--rounds", type=int, default=3, help="alternating native/port rounds, best counts")
    args = ap.parse_args(argv)
    if not (1 <= args.mqtt <= 10000 and 1 <= args.gets <= 1000 and 1 <= args.rounds <= 20):
        print("apps: --mqtt 1-10000, --gets 1-1000, --rounds 1-20", file=sys.stderr)
        return 2
    return run_bench("apps", lambda tmp, nets: _run(tmp, nets, args))


def _run(tmp: Path, nets: Nets, args: argparse.Namespace) -> None:
    net = nets.open()
    print(f"apps ({net.note}) ...", flush=True)
    report(net.note, measure(net, tmp, args), args)


if __name__ == "__main__":
    sys.exit(main())
