"""pytest hooks: configure, select tests by board, per-test deadline and logs, JUnit board output."""

from __future__ import annotations

import pytest

from ..board.steps import LINK_LOST, StepError
from ..transport.result import BoardCrashed, BoardHung, BoardTransportError
from . import logs, options, pool
from .fixtures import REPORTS, RESET_NOW, TEST_STATE, hil
from .manager import HIL_KEY, HilSession, TestState
from .peers import PEER_FIXTURES

# Every fixture of ours depends on `board`, so "board" in a test's fixture closure means the test uses our
# board (a test module's own fixture named e.g. tcp_echo shadows ours and does not pull "board" in).
BOARD_FIXTURES = frozenset({"board"})
# How much longer than the board budget pytest-timeout (if installed) lets the whole test run.
_WATCHDOG_MARGIN = 60.0


def pytest_addoption(parser: pytest.Parser) -> None:
    options.pytest_addoption(parser)
    pool.addoption(parser)


def pytest_configure(config: pytest.Config) -> None:
    options.register_markers(config)
    config.stash[HIL_KEY] = HilSession(config)
    config.pluginmanager.register(JunitBoardOutput(config), "usocket-hil-junit")
    pool.record_durations(config)
    if config.getoption("--board") or config.getoption("--port"):
        # Explicit choice: check it now so a typo is one line, before any test runs.
        board = options.resolve_board(config)
        options.check_options(config, board)
    if pool.pool_size(config) > 1 and not config.option.help:
        # An xdist controller: a pool of boards for its workers (pool.py), brought up from here on, while the
        # session is made and xdist starts the workers (its DSession.pytest_sessionstart).
        pool.configure(config, options.resolve_board(config), hil(config).log_dir)


def pytest_unconfigure(config: pytest.Config) -> None:
    pool.unconfigure(config)
    hs = config.stash.get(HIL_KEY, None)
    if hs is not None:
        hs.release()  # normally done by the fixture; this covers an interrupted session
    if hasattr(config, "workerinput"):
        # An xdist worker exits once the session is over, and its controller waits for every worker to exit
        # before the run ends: frozen, the objects the session made are not walked once more by the exit's
        # collection (~0.07 s a worker).  (Only a worker: an in-process session's caller lives on.)
        import gc

        gc.freeze()


def _uses_board(item: pytest.Item) -> bool:
    return bool(BOARD_FIXTURES.intersection(getattr(item, "fixturenames", ())))


@pytest.hookimpl(trylast=True)  # after -k/-m deselection: a pool's order is of the tests that run
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    pool.order_items(config, items)
    hs: HilSession = hil(config)
    relevant = [i for i in items if _uses_board(i) or i.get_closest_marker("board_has")
                or i.get_closest_marker("board_target")]
    if not relevant:
        return
    board = hs.board
    options.check_options(config, board)
    peer_tests = []
    for item in relevant:
        reason = options.marker_skip_reason(item, board)
        peers = [f for f in item.fixturenames if f in PEER_FIXTURES or f == "sync"]
        if reason is None and peers and not board.has("network"):
            reason = f"board {board.name} lacks capability 'network' (needed by fixture {peers[0]})"
        if reason is not None:
            item.add_marker(pytest.mark.skip(reason=reason))
            continue
        if peers:
            peer_tests.append(item)
        if _uses_board(item):
            options.test_timeout(item)  # validate the marker at collection: a typo is a usage error
            if config.pluginmanager.hasplugin("timeout") and item.get_closest_marker("timeout") is None:
                # A host-side hang (not the board's) is cut by pytest-timeout, well after the board budget.
                item.add_marker(pytest.mark.timeout(options.test_timeout(item) + _WATCHDOG_MARGIN))
    if peer_tests and options.needs_peer_host(config, board) and not config.getoption("--peer-host"):
        raise pytest.UsageError(
            f"usocket-hil: {len(peer_tests)} test(s) use host peers, but for board {board.name} the host "
            "address the board reaches is unknown: pass --peer-host IP (an address of this host on the "
            "board's network)"
        )


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item):
    if _uses_board(item):
        if hil(item.config).link_lost:  # a test's reset found the board unreachable: stop, once
            pytest.exit(hil(item.config).link_lost, returncode=LINK_LOST)
        item.stash[TEST_STATE] = TestState(item.nodeid, options.test_timeout(item))
        item.stash[REPORTS] = {}
    return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    state = item.stash.get(TEST_STATE, None)
    if state is not None:
        logs.add_section(item, call.when, state.log)
        if call.when == "teardown" and state.used:
            path = state.log.save(hil(item.config).log_dir)
            item.user_properties.append(("board_log", str(path)))
    report = yield
    if state is not None:
        item.stash[REPORTS][report.when] = report
        failure = call.excinfo.value if call.excinfo is not None else None
        if call.when == "call" and isinstance(failure, (BoardCrashed, BoardHung, BoardTransportError)):
            item.stash[RESET_NOW] = True  # (the board fixture's teardown tries the reset at once)
        if isinstance(failure, StepError) and failure.link_gone and not hil(item.config).link_lost:
            hil(item.config).lose_link(failure)  # the test's own reset (the next test's set-up stops)
            # This test did not fail: its board went away under it.  Said in its report, so that its clauses
            # are untested (the link's loss named), not a FAIL (tests/device/conftest.py, report.py).
            lost = ("link_lost", "the link to the board was lost during this test")
            item.user_properties.append(lost)
            report.user_properties.append(lost)
    return report


class JunitBoardOutput:
    """Registered per config: puts each test's board output into its JUnit <system-out>."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config

    @pytest.hookimpl(tryfirst=True)  # before junitxml finalizes the test's record
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when != "teardown":
            return
        text = "".join(c for title, c in report.sections if title.startswith(f"Captured {logs.SECTION_KEY}"))
        if text:
            logs.junit_system_out(self.config, report, text)
