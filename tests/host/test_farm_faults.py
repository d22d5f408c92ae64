"""The farm's faults end in named errors within a deadline, leave nothing locked, and the next run passes."""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import pytest

from host_harness.board.place import PlaceBusyError, PlaceError, acquired_place
from host_harness.farm.labgrid import Exporter, SerialExport, client
from host_harness.farm.local import LocalFarm
from host_harness.flash import testimage

CLI = [sys.executable, "-m", "host_harness.cli"]


@pytest.fixture
def farm():
    with LocalFarm(1, prefix="faults-esp32") as f:
        yield f


def _nothing_held(farm) -> bool:
    return client(farm.address, "who").strip().splitlines()[1:] == []


def test_two_runs_racing_for_one_place_one_wins_the_other_is_told(farm):
    outcomes: dict[str, str] = {}
    go = threading.Barrier(2)

    def run(user: str) -> None:
        go.wait()
        try:
            with acquired_place(farm.places[0], coordinator=farm.address, user=user):
                outcomes[user] = "acquired"
                time.sleep(1.0)
        except PlaceBusyError as exc:
            outcomes[user] = f"busy: {exc}"

    threads = [threading.Thread(target=run, args=(u,)) for u in ("alice", "bob")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(v.split(":")[0] for v in outcomes.values()) == ["acquired", "busy"], outcomes
    assert _nothing_held(farm)


def test_the_exporter_dying_while_a_place_is_held_leaves_nothing_locked(farm):
    with acquired_place(farm.places[0], coordinator=farm.address) as lease:
        url = lease.url
        farm.exporter.kill()
    assert _nothing_held(farm)  # the release reached the coordinator
    with pytest.raises(PlaceError, match="has no matching remote resource"):
        with acquired_place(farm.places[0], coordinator=farm.address):
            pass  # labgrid refuses: its resources went away with the exporter
    assert _nothing_held(farm)
    # A new exporter for the same boards: the place is usable again.
    farm.exporter = Exporter(farm.address, farm.exporter_name, [SerialExport(farm.places[0], url)]).start()
    with acquired_place(farm.places[0], coordinator=farm.address) as lease:
        assert lease.url == url


def test_the_board_dropping_off_its_port_during_a_flash_is_a_named_error(tmp_path):
    from host_harness.virtual.esp32_serial.device import VirtualEsp32

    fw = tmp_path / "fw.bin"
    fw.write_bytes(testimage.build())
    dev = VirtualEsp32().start()
    try:
        proc = subprocess.Popen([*CLI, "flash", "--board", "virtual-esp32", "--port", dev.url, str(fw),
                                 "--log-dir", str(tmp_path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)
        time.sleep(1.0)  # connecting / in download mode
        dev.kill()
        started = time.monotonic()
        out, err = proc.communicate(timeout=180)
        assert time.monotonic() - started < 170
    finally:
        dev.close()
    assert proc.returncode != 0
    assert "usocket-hil: error:" in err and dev.url in err and "Traceback" not in err
    # The next run on a fresh board passes.
    with VirtualEsp32() as again:
        r = subprocess.run([*CLI, "flash", "--board", "virtual-esp32", "--port", again.url, str(fw),
                            "--log-dir", str(tmp_path / "2")], capture_output=True, text=True, timeout=240)
    assert r.returncode == 0, r.stdout + r.stderr
