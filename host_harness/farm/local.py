"""A whole farm on this machine's loopback: labgrid coordinator, N virtual ESP32s, one exporter, N places.

    with LocalFarm(2) as farm:      # places farm-esp32-a, farm-esp32-b tagged board=virtual-esp32
        usocket-hil test --coordinator farm.coordinator.address --place farm-esp32-a --firmware fw.bin

`LocalFarm(N, ser2net=True)` puts a real ser2net in front of each board, as on an exporter machine (README.md
"Two machines"): each place's NetworkSerialPort is then ser2net's port, which relays to the board's.
`farm.dead()` names the parts (coordinator, exporter, ser2net, boards) that exited while the farm ran.

`python -m host_harness.farm.local --boards 2 [--ser2net]` runs one until Ctrl-C or SIGTERM (printing
LG_COORDINATOR and the places; exit 0; 2 if a part does not start), to try the two-machine set-up of README.md
on one machine.  If one of its parts exits meanwhile (killed, crashed), it says so on stderr in one line naming
the part and how it ended, stops the rest and exits 1 (DIED): a farm with a dead part would only fail its
users' runs later.
"""

from __future__ import annotations

import argparse
import signal
import string
import sys
import time

from ..errors import HilError
from ..process import ManagedProcess
from ..virtual.esp32_serial.device import VirtualEsp32
from .labgrid import Coordinator, Exporter, SerialExport, create_place
from .ser2net import Export, Ser2Net, rfc2217_device

BOARD = "virtual-esp32"
DIED = 1  # exit status of `python -m host_harness.farm.local` when a part of the farm exited under it
WATCH_S = 0.5  # how often the running farm checks its parts


class LocalFarm:
    def __init__(self, boards: int = 1, *, exporter_name: str = "bench-1", prefix: str = "farm-esp32",
                 ser2net: bool = False) -> None:
        if not 1 <= boards <= len(string.ascii_lowercase):
            raise ValueError(f"boards must be 1..{len(string.ascii_lowercase)}")
        self.count = boards
        self.exporter_name = exporter_name
        # Letters, not numbers: labgrid matches -p PATTERN as a substring (farm-esp32-1 in farm-esp32-10).
        self.places = [f"{prefix}-{string.ascii_lowercase[i]}" for i in range(boards)]
        self.with_ser2net = ser2net
        self.coordinator: Coordinator | None = None
        self.exporter: Exporter | None = None
        self.ser2net: Ser2Net | None = None
        self.devices: list[VirtualEsp32] = []
        self.urls: list[str] = []  # each place's NetworkSerialPort: ser2net's port, or the board's own

    @property
    def address(self) -> str:
        assert self.coordinator is not None
        return self.coordinator.address

    def start(self) -> LocalFarm:
        try:
            self.coordinator = Coordinator().start()
            for _ in self.places:
                self.devices.append(VirtualEsp32().start())
            self.urls = [dev.url for dev in self.devices]
            if self.with_ser2net:
                self.ser2net = Ser2Net([Export(place, rfc2217_device(dev.url))
                                        for place, dev in zip(self.places, self.devices, strict=True)]).start()
                self.urls = [self.ser2net.url(place) for place in self.places]
            exports = [SerialExport(place, url) for place, url in zip(self.places, self.urls, strict=True)]
            self.exporter = Exporter(self.address, self.exporter_name, exports).start()
            for place in self.places:
                create_place(self.address, place, exporter=self.exporter_name, group=place,
                             tags={"board": BOARD, "target": "esp32"})
        except BaseException:
            self.close()
            raise
        return self

    def parts(self) -> list[tuple[str, ManagedProcess]]:
        """(what, process) of every part started and not closed, named as dead() reports them."""
        named: list[tuple[str, ManagedProcess | None]] = [
            (f"labgrid-coordinator {self.coordinator.address}" if self.coordinator else "", self.coordinator),
            (f"labgrid-exporter {self.exporter_name}", self.exporter),
            (f"ser2net ({', '.join(self.urls)})", self.ser2net),
            *((f"virtual ESP32 of {place} ({dev.url})", dev)
              for place, dev in zip(self.places, self.devices, strict=False))]
        return [(what, part) for what, part in named if part is not None and part.proc is not None]

    def dead(self) -> list[str]:
        """The parts that exited since they started ("labgrid-exporter bench-1 (killed by SIGKILL)")."""
        found = []
        for what, part in self.parts():
            code = part.proc.poll() if part.proc is not None else None
            if code is not None:
                how = f"killed by {signal.Signals(-code).name}" if code < 0 else f"exit {code}"
                found.append(f"{what} ({how})")
        return found

    def close(self) -> None:
        for part in (self.exporter, self.ser2net, *self.devices, self.coordinator):
            if part is not None:
                part.close()
        self.exporter = self.coordinator = self.ser2net = None
        self.devices = []

    def __enter__(self) -> LocalFarm:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


def _interrupted(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def run_until_stopped(farm: LocalFarm, poll: float = WATCH_S) -> int:
    """Watch a started farm until Ctrl-C/SIGTERM (0) or until a part exits (one line on stderr, DIED)."""
    try:
        while True:
            dead = farm.dead()
            if dead:
                print(f"usocket-hil: farm stopped: {'; '.join(dead)} exited while the farm ran; the rest is "
                      "stopped too", file=sys.stderr, flush=True)
                return DIED
            time.sleep(poll)
    except KeyboardInterrupt:
        return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m host_harness.farm.local",
                                description="Run a labgrid farm of virtual ESP32s on loopback until Ctrl-C. "
                                            f"Exit 0 when stopped, {DIED} when one of its parts exited first.")
    p.add_argument("--boards", type=int, default=2)
    p.add_argument("--ser2net", action="store_true", help="export each board through a real ser2net")
    args = p.parse_args(argv)
    # `kill PID` as well as Ctrl-C stops the farm cleanly: its programs run in their own sessions and would
    # otherwise outlive it.
    signal.signal(signal.SIGTERM, _interrupted)
    try:
        with LocalFarm(args.boards, ser2net=args.ser2net) as farm:
            print(f"export LG_COORDINATOR={farm.address}")
            for place, url in zip(farm.places, farm.urls, strict=True):
                print(f"place {place}: board={BOARD} {url}")
            sys.stdout.flush()
            return run_until_stopped(farm)
    except KeyboardInterrupt:  # while starting: what started is stopped
        return 0
    except HilError as exc:  # a part did not start (its error names it); the rest is stopped
        print(f"usocket-hil: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
