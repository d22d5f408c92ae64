"""A board's serial link lost mid-suite (its RFC2217 server killed): the run stops with one named error and
the clauses not run are untested, not a set-up ERROR and a FAIL row for every test left."""

from __future__ import annotations

import re
import time

from farm_helpers import CliRun

from host_harness.flash import testimage
from host_harness.virtual.esp32_serial.device import VirtualEsp32


def test_a_serial_link_lost_mid_suite_stops_the_run_and_names_it(tmp_path):
    fw = tmp_path / "fw.bin"
    fw.write_bytes(testimage.build(version="v1.25.0"))
    with VirtualEsp32() as dev:
        with CliRun(["test", "--board", "virtual-esp32", "--port", dev.url, "--firmware", str(fw),
                     "--report-dir", str(tmp_path / "r")]) as run:
            run.until(lambda line: line.startswith("== virtual-esp32") and "boot" not in line, deadline=240)
            time.sleep(8)  # some tests have run, many have not
            dev.kill()
            killed = time.monotonic()
            code, text = run.finish(300)
        stopped_in = time.monotonic() - killed
    assert code == 2, text[-3000:]
    assert "link to the board lost on virtual-esp32 mid-suite" in text, text[-3000:]
    found = re.search(r"virtual-esp32: (\d+) clauses pass, (\d+) fail, \d+ not on this target, (\d+) untested",
                      text)
    assert found, text[-3000:]
    passed, failed, untested = map(int, found.groups())
    # the test the link went under is no failed clause either (a farm's fault, not the firmware's)
    assert untested >= 10 and failed == 0 and "| FAIL" not in text, text[-3000:]
    assert "untested: " in text and "the link to the board was lost during this test" in text, text[-3000:]
    assert stopped_in < 120, stopped_in
    assert "ERROR at setup" not in text, text[-3000:]
