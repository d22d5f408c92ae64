"""labgrid as the farm engine on loopback: places of virtual ESP32s, acquire/release, reservations, --place."""

from __future__ import annotations

import contextlib
import re
import subprocess
import sys
import threading
import time

import pytest
from farm_helpers import CLI, CliRun

from host_harness.board.place import PlaceBusyError, PlaceError, _busy_holder, acquired_place
from host_harness.farm.labgrid import LabgridError, client
from host_harness.farm.local import LocalFarm
from host_harness.flash import testimage


@pytest.fixture(scope="module")
def farm():
    with LocalFarm(2) as f:
        yield f


@pytest.fixture(scope="module")
def firmware(tmp_path_factory):
    d = tmp_path_factory.mktemp("fw")
    (d / "good.bin").write_bytes(testimage.build(version="v1.25.0"))
    (d / "corrupt.bin").write_bytes(testimage.build(version="v1.25.0", corrupt="partition-table"))
    return d


def _holders(farm) -> str:
    """labgrid-client who: one row per acquired place (empty table: nothing is held)."""
    rows = client(farm.address, "who").strip().splitlines()[1:]
    return "\n".join(rows)


def test_a_place_resolves_to_its_board_tag_and_rfc2217_port_and_is_released(farm):
    with acquired_place(farm.places[0], coordinator=farm.address) as lease:
        assert lease.board == "virtual-esp32"
        assert lease.url == farm.devices[0].url
        assert farm.places[0] in _holders(farm)
    assert _holders(farm) == ""


def test_a_busy_place_fails_at_once_naming_the_holder(farm):
    with acquired_place(farm.places[0], coordinator=farm.address, user="alice"):
        started = time.monotonic()
        with pytest.raises(PlaceBusyError, match=r"is busy: it is acquired by \S+/alice \(wait for it"):
            with acquired_place(farm.places[0], coordinator=farm.address, user="bob"):
                pass
        assert time.monotonic() - started < 20
    assert _holders(farm) == ""


def test_a_refusal_from_the_coordinator_itself_still_names_the_holder(farm):
    """Two runs racing: both clients saw the place free, so the coordinator refuses the loser in its own words,
    which name nobody (labgrid/remote/coordinator.py, AcquirePlace); the holder is then asked for."""
    refusal = LabgridError(f"Server error: Error: Place {farm.places[0]} is already acquired")
    with acquired_place(farm.places[0], coordinator=farm.address, user="alice"):
        assert re.fullmatch(r"\S+/alice", _busy_holder(refusal, farm.address, farm.places[0], "bob"))
    assert _busy_holder(refusal, farm.address, farm.places[0], "bob") == "another user"  # released meanwhile


def test_a_place_the_same_user_already_holds_says_so_in_our_words(farm):
    with acquired_place(farm.places[0], coordinator=farm.address, user="alice"):
        with pytest.raises(PlaceBusyError) as busy:
            with acquired_place(farm.places[0], coordinator=farm.address, user="alice"):
                pass
        assert "already acquired by you (alice" in str(busy.value), busy.value
        assert "You have already" not in str(busy.value) and "release` frees it" in str(busy.value)
    assert _holders(farm) == ""


def test_place_wait_gives_up_at_its_deadline_naming_the_holder(farm, capsys):
    """--place-wait S counts from the start (labgrid-client starts included); after S only the reservation's
    cancellation remains.  Before: the S seconds began after two client starts and a holder lookup followed
    (5 s took 12.6 s): ~3.5 calls on top.  One client call, timed in the same run, is the unit."""
    calls = []
    for _ in range(3):
        started = time.monotonic()
        client(farm.address, "who")
        calls.append(time.monotonic() - started)
    one_call = sorted(calls)[1]
    wait = 3.0
    with acquired_place(farm.places[0], coordinator=farm.address, user="alice"):
        started = time.monotonic()
        with pytest.raises(PlaceBusyError, match=r"alice.*after waiting 3 s"):
            with acquired_place(farm.places[0], coordinator=farm.address, user="bob", wait=wait):
                pass
        took = time.monotonic() - started
    assert took - wait < 2.5 * one_call, (took, one_call)  # the cancellation (~1 call) and the client's kill
    assert _holders(farm) == ""
    # said when the wait began, not only when it ended (a CI log is otherwise silent for --place-wait seconds)
    assert f"place {farm.places[0]} is held by" in capsys.readouterr().err


def test_waiting_for_a_busy_place_gets_it_through_a_reservation_when_released(farm):
    held = threading.Event()
    release = threading.Event()

    def alice() -> None:
        with acquired_place(farm.places[1], coordinator=farm.address, user="alice"):
            held.set()
            release.wait(30)

    t = threading.Thread(target=alice)
    t.start()
    try:
        assert held.wait(30)
        threading.Timer(2.0, release.set).start()
        with acquired_place(farm.places[1], coordinator=farm.address, user="bob", wait=60) as lease:
            assert lease.token  # allocated by the coordinator's reservation scheduler
            assert re.search(rf"{farm.places[1]}.*bob|bob.*{farm.places[1]}", _holders(farm))
    finally:
        release.set()
        t.join(30)
    assert _holders(farm) == ""
    assert "Reservation" not in client(farm.address, "reservations")


def test_waiting_too_long_cancels_the_reservation(farm):
    with acquired_place(farm.places[0], coordinator=farm.address, user="alice"):
        with pytest.raises(PlaceBusyError, match="still acquired by .*alice after waiting 2 s"):
            with acquired_place(farm.places[0], coordinator=farm.address, user="bob", wait=2):
                pass
    assert "Reservation" not in client(farm.address, "reservations")


def test_unknown_place_and_missing_coordinator_are_named_errors(farm, monkeypatch):
    with pytest.raises(PlaceError, match="no-such-place"):
        with acquired_place("no-such-place", coordinator=farm.address):
            pass
    monkeypatch.delenv("LG_COORDINATOR", raising=False)
    with pytest.raises(PlaceError, match="--coordinator"):
        with acquired_place(farm.places[0]):
            pass
    with pytest.raises(PlaceError, match=r"no labgrid coordinator answers at 127\.0\.0\.1:1 \(--coordinator"):
        with acquired_place(farm.places[0], coordinator="127.0.0.1:1"):  # (labgrid's words name no address)
            pass


def _test_cli(farm, *args: str, **kw) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, "test", "--coordinator", farm.address, *args], capture_output=True, text=True,
                          timeout=kw.get("timeout", 900))


def test_test_place_flashes_deploys_tests_and_releases(farm, firmware, tmp_path):
    r = _test_cli(farm, "--place", farm.places[0], "--firmware", str(firmware / "good.bin"),
                  "--report-dir", str(tmp_path), "-k", "udp")
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-2000:]
    assert f"== place {farm.places[0]} acquired: virtual-esp32 on {farm.devices[0].url}" in r.stdout
    assert re.search(r"virtual-esp32: [1-9]\d* clauses pass, 0 fail", r.stdout)
    flash_logs = tmp_path / "board-logs" / "virtual-esp32" / "flash"  # the bring-up's flashed step
    assert "boot: booted MicroPython v1.25.0" in next(flash_logs.glob("*.log")).read_text()
    assert _holders(farm) == ""
    assert r.stdout.rstrip().endswith(f"== place {farm.places[0]} released"), r.stdout[-500:]


def test_test_place_releases_the_place_when_the_run_fails(farm, firmware, tmp_path):
    r = _test_cli(farm, "--place", farm.places[1], "--firmware", str(firmware / "corrupt.bin"),
                  "--report-dir", str(tmp_path))
    assert r.returncode != 0
    assert "not-booting" in r.stderr and "partition" in r.stderr
    assert _holders(farm) == ""


def test_test_place_on_a_busy_place_fails_clearly(farm, tmp_path):
    with acquired_place(farm.places[1], coordinator=farm.address, user="alice"):
        r = _test_cli(farm, "--place", farm.places[1], "--report-dir", str(tmp_path), timeout=60)
    assert r.returncode == PlaceBusyError.exit_code
    assert "busy" in r.stderr and "alice" in r.stderr and "Traceback" not in r.stderr


def test_ctrl_c_during_a_place_run_releases_the_place(farm, tmp_path):
    with CliRun(["test", "--coordinator", farm.address, "--place", farm.places[0],
                 "--report-dir", str(tmp_path)]) as run:
        run.until(lambda line: "acquired:" in line, deadline=60)
        time.sleep(1.0)  # the suite has started
        run.interrupt()
        code, _ = run.finish(60)
    assert code != 0
    assert _holders(farm) == ""


def test_a_place_kicked_mid_run_stops_the_run_and_says_so(farm, firmware, tmp_path):
    place = farm.places[0]
    try:
        with CliRun(["test", "--coordinator", farm.address, "--place", place, "--firmware",
                     str(firmware / "good.bin"), "--report-dir", str(tmp_path)]) as run:
            run.until(lambda line: "acquired:" in line)
            client(farm.address, "-p", place, "release", "--kick", user="mallory")  # someone takes the board
            client(farm.address, "-p", place, "acquire", user="mallory")
            code, text = run.finish(180)
    finally:
        with contextlib.suppress(Exception):
            client(farm.address, "-p", place, "release", user="mallory")
    assert code not in (0, 1), text[-3000:]
    # the watch sees the kick, or already mallory's acquire after it
    assert re.search(rf"place {place} lost mid-run: (now acquired by \S*mallory|released by someone else)",
                     text), text[-3000:]
    assert f"place {place} was lost mid-run" in text and "Traceback" not in text
    # only that: not pytest's interrupt banner, the transport's interrupted frame, nor "did not come up"
    assert "KeyboardInterrupt" not in text and "did not come up" not in text, text[-3000:]
    assert _holders(farm) == ""


def test_the_pytest_plugin_holds_a_place_for_a_session(farm, firmware, tmp_path):
    flashed = subprocess.run([*CLI, "flash", "--board", "virtual-esp32", "--port", farm.devices[1].url,
                              str(firmware / "good.bin"), "--log-dir", str(tmp_path / "flash")],
                             capture_output=True, text=True, timeout=300)
    assert flashed.returncode == 0, flashed.stdout + flashed.stderr
    from host_harness.resources import device_tests_dir

    tests = device_tests_dir()
    r = subprocess.run([sys.executable, "-m", "pytest", str(tests), "--rootdir", str(tests), "-p", "no:cacheprovider",
                        "-q", "--place", farm.places[1], "--coordinator", farm.address, "-k", "udp",
                        f"--board-log-dir={tmp_path / 'logs'}"], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-2000:]
    assert re.search(r"[1-9]\d* passed", r.stdout)
    assert _holders(farm) == ""


def test_open_place_board_brings_up_the_places_board_and_releases_it(farm, firmware, tmp_path):
    from host_harness.board.place import open_place_board

    with open_place_board(farm.places[0], coordinator=farm.address, firmware=firmware / "good.bin",
                          deploy=False, online=False, flash_log_dir=tmp_path) as board:
        assert farm.places[0] in _holders(farm)
        assert [o.step for o in board.record[-2:]] == ["flashed", "booted"]
        assert board.exec("print(6 * 7)", 10).text().strip() == "42"
    assert _holders(farm) == ""
