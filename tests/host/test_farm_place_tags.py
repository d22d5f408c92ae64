"""Pools of labgrid places by tag on loopback: two exported virtual ESP32s tagged board=virtual-esp32, matched
by labgrid reservations, the suite shared over them (CLI --place-tag, plugin --place-tag -n 2), and the farm's
faults on that path: a place lost mid-run, the exporter dying, two runs racing for the same places."""

from __future__ import annotations

import re
import subprocess
import sys
import threading
import time

import pytest
from farm_helpers import CLI, CliRun

from host_harness.board.place import (
    ALLOCATE_S,
    PlaceBusyError,
    PlaceError,
    acquired_place,
    acquired_places,
    parse_tags,
)
from host_harness.farm.labgrid import Exporter, SerialExport, client
from host_harness.farm.local import LocalFarm
from host_harness.flash import testimage
from host_harness.resources import device_tests_dir

TAGS = {"board": "virtual-esp32"}


@pytest.fixture(scope="module")
def farm():
    with LocalFarm(2, prefix="tags-esp32") as f:
        yield f


@pytest.fixture(scope="module")
def firmware(tmp_path_factory):
    path = tmp_path_factory.mktemp("fw") / "good.bin"
    path.write_bytes(testimage.build(version="v1.25.0"))
    return path


def _held(farm) -> list[str]:
    return client(farm.address, "who").strip().splitlines()[1:]


def _reservations(farm) -> str:
    return client(farm.address, "reservations").strip()


def _nothing_left(farm) -> bool:
    return _held(farm) == [] and _reservations(farm) == ""


def test_a_tag_pool_holds_distinct_matching_places_and_gives_all_back(farm):
    with acquired_places(TAGS, 2, coordinator=farm.address) as leases:
        assert sorted(lease.name for lease in leases) == sorted(farm.places)
        assert sorted(lease.url for lease in leases) == sorted(d.url for d in farm.devices)
        assert {lease.board for lease in leases} == {"virtual-esp32"}
        assert len(_held(farm)) == 2
    assert _nothing_left(farm)


def test_more_places_than_are_tagged_is_a_named_error_and_holds_nothing(farm):
    started = time.monotonic()
    with pytest.raises(PlaceBusyError, match=r"2 place\(s\) are tagged board=virtual-esp32 .*3 wanted"):
        with acquired_places(TAGS, 3, coordinator=farm.address):
            pass
    assert time.monotonic() - started < ALLOCATE_S  # at once: waiting could not help (trial 5 F11: 7-11 s)
    assert _nothing_left(farm)
    started = time.monotonic()
    with pytest.raises(PlaceBusyError, match="0 place"):
        with acquired_places({"board": "no-such-board"}, 1, coordinator=farm.address, wait=30):
            pass
    assert time.monotonic() - started < ALLOCATE_S and _nothing_left(farm)  # not after the 30 s


def test_bad_tags_are_refused_before_anything_is_asked():
    with pytest.raises(PlaceError, match="KEY=VALUE"):
        parse_tags(["board"])
    with pytest.raises(PlaceError, match="KEY=VALUE"):
        parse_tags(["Board=x y"])
    assert parse_tags(["board=virtual-esp32", "target=esp32"]) == {"board": "virtual-esp32", "target": "esp32"}


def test_a_busy_place_makes_a_pool_of_all_fail_in_time_and_leaves_the_holder_alone(farm):
    with acquired_place(farm.places[0], coordinator=farm.address, user="alice"):
        started = time.monotonic()
        with pytest.raises(PlaceBusyError, match=rf"{farm.places[0]} by \S*alice.*nothing is held"):
            with acquired_places(TAGS, 2, coordinator=farm.address, user="bob"):
                pass
        assert time.monotonic() - started < ALLOCATE_S + 30
        assert len(_held(farm)) == 1 and "alice" in _held(farm)[0]
        with acquired_places(TAGS, 1, coordinator=farm.address, user="bob") as leases:  # the free one
            assert [lease.name for lease in leases] == [farm.places[1]]
    assert _nothing_left(farm)


def test_two_runs_racing_for_every_place_one_gets_all_the_other_is_told(farm):
    outcomes: dict[str, str] = {}
    go = threading.Barrier(2)
    told = threading.Event()

    def run(user: str) -> None:
        go.wait()
        try:
            with acquired_places(TAGS, 2, coordinator=farm.address, user=user) as leases:
                outcomes[user] = f"got {len(leases)}"
                # held until the other run has its answer: released sooner, the other could still get them
                # within its own budget, which is no race lost (a fast CI machine did so once)
                told.wait(2 * ALLOCATE_S + 60)
        except PlaceBusyError as exc:
            outcomes[user] = f"busy: {exc}"
            told.set()

    threads = [threading.Thread(target=run, args=(u,)) for u in ("alice", "bob")]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert sorted(v.split(":")[0] for v in outcomes.values()) == ["busy", "got 2"], outcomes
    assert time.monotonic() - started < 2 * ALLOCATE_S + 60
    assert _nothing_left(farm)


def _reserve_as(farm, user: str) -> str:
    out = client(farm.address, "reserve", "--shell", "board=virtual-esp32", user=user)
    return re.search(r"LG_TOKEN=(\w+)", out).group(1)


def test_the_older_run_outwaits_a_younger_one_that_is_slow_to_die(farm):
    """Wait-die under load: the younger run (bob, by hand here) holds one place's allocation and waits for the
    other behind alice's reservation, so it must die, but it takes longer than alice's whole budget to notice
    (its labgrid-client calls are slow).  Alice, the older, must not give up at her deadline while a younger
    run still holds an allocation: she gets both places once bob's cancels land."""
    first = _reserve_as(farm, "bob")  # allocated: one place
    outcome: dict[str, str] = {}

    def alice() -> None:
        try:
            with acquired_places(TAGS, 2, coordinator=farm.address, user="alice") as leases:
                outcome["alice"] = f"got {len(leases)}"
        except PlaceBusyError as exc:
            outcome["alice"] = f"busy: {exc}"

    started = time.monotonic()
    thread = threading.Thread(target=alice)
    thread.start()
    try:
        while _reservations(farm).count("Reservation '") < 3:  # alice's two: one allocated, one waiting
            assert time.monotonic() - started < 60 and thread.is_alive(), outcome
            time.sleep(0.2)
        second = _reserve_as(farm, "bob")  # bob's newest is younger than alice's waiting one: bob must die
        time.sleep(max(0.0, started + ALLOCATE_S + 3 - time.monotonic()))  # ...but is slow about it
        assert thread.is_alive(), outcome  # alice still waits, past her ALLOCATE_S
    finally:
        for token in (first, locals().get("second")):
            if token:
                client(farm.address, "cancel-reservation", token, user="bob")
        thread.join(120)
    assert outcome == {"alice": "got 2"}
    assert _nothing_left(farm)


def _test_cli(farm, *args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, "test", "--coordinator", farm.address, *args], capture_output=True, text=True,
                          timeout=timeout)


def test_test_place_tag_shares_the_suite_over_the_matching_places(farm, firmware, tmp_path):
    r = _test_cli(farm, "--place-tag", "board=virtual-esp32", "--pool", "2", "--firmware", str(firmware),
                  "--report-dir", str(tmp_path), "-k", "udp or stream")
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-2000:]
    for place, dev in zip(farm.places, farm.devices, strict=True):
        assert f"== place {place} acquired: virtual-esp32 on {dev.url}" in r.stdout
        # each place's board flashed (all at once, one progress view) and its boot judged before the suite
        assert re.search(rf"^== virtual-esp32 {re.escape(dev.url)}: .*boot: booted", r.stdout, re.M), r.stdout
    assert re.search(r"virtual-esp32: [1-9]\d* clauses pass, 0 fail", r.stdout), r.stdout[-3000:]
    assert _nothing_left(farm)


def test_the_plugin_spreads_the_suite_over_one_place_per_worker(farm, firmware, tmp_path):
    for dev in farm.devices:  # the boards boot what their flash holds
        flashed = subprocess.run([*CLI, "flash", "--board", "virtual-esp32", "--port", dev.url, str(firmware),
                                  "--log-dir", str(tmp_path / "flash")], capture_output=True, text=True, timeout=300)
        assert flashed.returncode == 0, flashed.stdout + flashed.stderr
    tests = device_tests_dir()
    r = subprocess.run([sys.executable, "-m", "pytest", str(tests), "--rootdir", str(tests), "-p", "no:cacheprovider",
                        "-v", "--place-tag", "board=virtual-esp32", "--coordinator", farm.address, "-n", "2",
                        "--dist", "worksteal", "-k", "udp or stream", f"--board-log-dir={tmp_path / 'logs'}"],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-2000:]
    workers = set(re.findall(r"\[(gw\d)\] .*PASSED", r.stdout))
    assert workers == {"gw0", "gw1"}, r.stdout[-3000:]  # both places' boards ran tests
    assert _nothing_left(farm)


def test_ctrl_c_during_a_tag_pool_run_gives_every_place_back(farm, tmp_path):
    acquired = []
    with CliRun(["test", "--coordinator", farm.address, "--place-tag", "board=virtual-esp32", "--pool", "2",
                 "--report-dir", str(tmp_path)]) as run:
        run.until(lambda line: bool(acquired.append(line) if "acquired:" in line else None) or len(acquired) == 2)
        time.sleep(1.0)  # the suite has started
        run.interrupt()
        code, _ = run.finish(90)
    assert len(acquired) == 2 and code != 0
    assert _nothing_left(farm)


def test_a_place_of_the_pool_kicked_mid_run_stops_the_run_and_says_so(farm, firmware, tmp_path):
    victim = farm.places[1]
    with CliRun(["test", "--coordinator", farm.address, "--place-tag", "board=virtual-esp32", "--pool", "2",
                 "--firmware", str(firmware), "--report-dir", str(tmp_path)]) as run:
        run.until(lambda line: "boot: booted" in line)  # both places are ours, their boards flashed
        # Someone kicks us off one board (its reservation is ours, so they cannot acquire it themselves).
        client(farm.address, "-p", victim, "release", "--kick", user="mallory")
        code, text = run.finish(240)
    assert code not in (0, 1), text[-3000:]
    assert f"place {victim} lost mid-run: released by someone else" in text, text[-3000:]
    assert f"{victim} (" in text and "lost mid-run: the results above" in text, text[-3000:]
    assert "Traceback" not in text, text[-6000:]
    assert "KeyboardInterrupt" not in text and "did not come up" not in text, text[-3000:]
    assert _nothing_left(farm)


def test_the_exporter_dying_under_a_tag_pool_leaves_nothing_locked_and_the_next_pool_works():
    with LocalFarm(2, prefix="tagfault-esp32", exporter_name="bench-f") as farm:
        urls = [d.url for d in farm.devices]
        with acquired_places(TAGS, 2, coordinator=farm.address) as leases:
            assert len(leases) == 2
            farm.exporter.kill()
        assert _nothing_left(farm)  # every release reached the coordinator
        with pytest.raises(PlaceError, match="has no matching remote resource|not be acquired"):
            with acquired_places(TAGS, 2, coordinator=farm.address):
                pass  # labgrid refuses: the places' resources went away with the exporter
        assert _nothing_left(farm)
        farm.exporter = Exporter(farm.address, farm.exporter_name,
                                 [SerialExport(p, u) for p, u in zip(farm.places, urls, strict=True)]).start()
        with acquired_places(TAGS, 2, coordinator=farm.address) as leases:
            assert sorted(lease.url for lease in leases) == sorted(urls)
        assert _nothing_left(farm)
