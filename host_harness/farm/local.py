"""A whole farm on this machine's loopback: labgrid coordinator, N virtual ESP32s, one exporter, N places.

    with LocalFarm(2) as farm:      # places farm-esp32-a, farm-esp32-b tagged board=virtual-esp32
        usocket-hil test --coordinator farm.coordinator.address --place farm-esp32-a --firmware fw.bin

`python -m host_harness.farm.local --boards 2` runs one until Ctrl-C (printing LG_COORDINATOR and the
places), to try the two-machine set-up of README.md on one machine.
"""

from __future__ import annotations

import argparse
import signal
import string
import sys
import time

from ..virtual.esp32_serial.device import VirtualEsp32
from .labgrid import Coordinator, Exporter, SerialExport, create_place

BOARD = "virtual-esp32"


class LocalFarm:
    def __init__(self, boards: int = 1, *, exporter_name: str = "bench-1", prefix: str = "farm-esp32") -> None:
        if not 1 <= boards <= len(string.ascii_lowercase):
            raise ValueError(f"boards must be 1..{len(string.ascii_lowercase)}")
        self.count = boards
        self.exporter_name = exporter_name
        # Letters, not numbers: labgrid matches -p PATTERN as a substring (farm-esp32-1 in farm-esp32-10).
        self.places = [f"{prefix}-{string.ascii_lowercase[i]}" for i in range(boards)]
        self.coordinator: Coordinator | None = None
        self.exporter: Exporter | None = None
        self.devices: list[VirtualEsp32] = []

    @property
    def address(self) -> str:
        assert self.coordinator is not None
        return self.coordinator.address

    def start(self) -> LocalFarm:
        try:
            self.coordinator = Coordinator().start()
            for _ in self.places:
                self.devices.append(VirtualEsp32().start())
            exports = [SerialExport(place, dev.url) for place, dev in zip(self.places, self.devices, strict=True)]
            self.exporter = Exporter(self.address, self.exporter_name, exports).start()
            for place in self.places:
                create_place(self.address, place, exporter=self.exporter_name, group=place,
                             tags={"board": BOARD, "target": "esp32"})
        except BaseException:
            self.close()
            raise
        return self

    def close(self) -> None:
        for part in (self.exporter, *self.devices, self.coordinator):
            if part is not None:
                part.close()
        self.exporter = self.coordinator = None
        self.devices = []

    def __enter__(self) -> LocalFarm:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


def _interrupted(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m host_harness.farm.local",
                                description="Run a labgrid farm of virtual ESP32s on loopback until Ctrl-C.")
    p.add_argument("--boards", type=int, default=2)
    args = p.parse_args(argv)
    # `kill PID` as well as Ctrl-C stops the farm cleanly: its programs run in their own sessions and would
    # otherwise outlive it.
    signal.signal(signal.SIGTERM, _interrupted)
    with LocalFarm(args.boards) as farm:
        print(f"export LG_COORDINATOR={farm.address}")
        for place, dev in zip(farm.places, farm.devices, strict=True):
            print(f"place {place}: board={BOARD} {dev.url}")
        sys.stdout.flush()
        try:
            while True:
                time.sleep(1)
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
