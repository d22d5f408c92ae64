"""Board output per test: a log file per test, a report section per phase, and JUnit <system-out>.

pytest's junit_logging is "no" by default, so captured output never reaches the XML on its own; the plugin
adds its own <system-out> element to the test's JUnit record (unless junit_logging already copies stdout
sections there, in which case the "Captured stdout (board)" sections get there the standard way).
"""

from __future__ import annotations

import re
import threading
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

SECTION_KEY = "stdout (board)"  # title "Captured stdout (board) <phase>": counted as stdout by pytest


def log_name(nodeid: str) -> str:
    name = re.sub(r"[^A-Za-z0-9_.=-]+", "_", nodeid.replace("::", "__")).strip("_")
    return (name or "test")[:180] + ".log"


class TestLog:
    """Bytes the board printed during one test, split by phase (setup/call/teardown)."""

    def __init__(self, nodeid: str) -> None:
        self.nodeid = nodeid
        self._lock = threading.Lock()
        self._data = bytearray()
        self._reported = 0  # bytes already put in a report section
        self.path: Path | None = None

    def write(self, data: bytes) -> None:
        if data:
            with self._lock:
                self._data += data

    def take_new(self) -> str:
        with self._lock:
            new = bytes(self._data[self._reported:])
            self._reported = len(self._data)
        return new.decode("utf-8", "replace").replace("\r\n", "\n")

    def save(self, directory: Path) -> Path:
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / log_name(self.nodeid)
        with self._lock:
            self.path.write_bytes(bytes(self._data))
        return self.path


class SessionLog:
    """Output outside any test (bring-up, deploy, resets between tests): <log dir>/session.log."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._lock = threading.Lock()
        self._opened = False

    def write(self, data: bytes) -> None:
        if not data:
            return
        with self._lock:
            self.directory.mkdir(parents=True, exist_ok=True)
            mode = "ab" if self._opened else "wb"
            with open(self.directory / "session.log", mode) as f:
                f.write(data)
            self._opened = True


def add_section(item: pytest.Item, when: str, log: TestLog) -> None:
    text = log.take_new()
    if text:
        item.add_report_section(when, SECTION_KEY, text)


def junit_system_out(config: pytest.Config, report: pytest.TestReport, text: str) -> None:
    """Append the board log to the JUnit record of `report`'s test (called before junitxml finalizes it)."""
    try:
        # Stable since pytest 7; the only way to reach the test's JUnit record from a plugin.
        from _pytest.junitxml import bin_xml_escape, xml_key
    except ImportError:  # pragma: no cover - a future pytest: fall back to properties only
        return
    xml = config.stash.get(xml_key, None)
    if xml is None or not text:
        return
    if getattr(xml, "logging", "no") in ("system-out", "out-err", "all"):
        return  # junitxml copies our "Captured stdout (board)" sections itself
    reporter = xml.node_reporter(report)
    el = ET.Element("system-out")
    el.text = bin_xml_escape(f"----- board output ({report.nodeid}) -----\n{text}")
    reporter.append(el)
