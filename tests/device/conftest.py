"""The conformance suite's own bookkeeping: which clauses each test covers, written for the report.

`--clause-report PATH` writes one JSON list of {"test", "outcome", "clauses", "reason"} records, read by
host_harness.report (`usocket-hil test` builds the clause × target table from it).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

# pytest_runtest_logreport gets no config object: the records of this (one) session live here.
_records: list[dict] = []


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--clause-report", metavar="PATH", default=None,
                     help="write per-test clause coverage and outcome as JSON (for the conformance table)")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "clauses(*ids): the seed clauses (tests/device/clauses.py) a test covers")
    # The application tier's third-party libraries (pinned, from PyPI), deployed next to usocket_port.
    from host_harness.applibs import AppLibError, ensure
    try:
        lib = ensure()
    except AppLibError as exc:
        raise pytest.UsageError(f"usocket-hil: application-tier libraries: {exc}") from None
    libs = config.option.board_lib
    if str(lib) not in map(str, libs):
        libs.append(str(lib))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # At collection, so a test that errors in setup or is skipped still reports what it covers.
    for item in items:
        marker = item.get_closest_marker("clauses")
        if marker is not None:
            item.user_properties.append(("clauses", list(marker.args)))


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    props = dict(report.user_properties)
    clauses = props.get("clauses")
    if clauses is None:
        return
    if "link_lost" in props:  # the board went away under this test (plugin/hooks.py): not run, not failed
        mine = [r for r in _records if r["test"] == report.nodeid]
        if mine:
            mine[-1].update(outcome="lost", reason=props["link_lost"])
        else:
            _records.append({"test": report.nodeid, "outcome": "lost", "clauses": list(clauses),
                             "reason": props["link_lost"]})
        return
    # One record per test: the call phase, or setup when it never got that far (skip or error).
    if report.when == "call" or (report.when == "setup" and report.outcome != "passed"):
        reason = ""
        if report.skipped and isinstance(report.longrepr, tuple):
            reason = report.longrepr[2].removeprefix("Skipped: ")
        elif report.failed:
            lines = report.longreprtext.strip().splitlines()
            reason = lines[-1][:200] if lines else "failed"
        _records.append({"test": report.nodeid, "outcome": report.outcome, "clauses": list(clauses),
                         "reason": reason})


def pytest_sessionfinish(session: pytest.Session) -> None:
    path = session.config.getoption("--clause-report")
    # Under pytest-xdist (usocket-hil test --pool N) the controller gets every report; workers do not write.
    if path and not hasattr(session.config, "workerinput"):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(json.dumps(_records, indent=1))
