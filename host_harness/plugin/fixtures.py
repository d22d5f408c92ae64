"""The `board` and `sync` fixtures.

`_hil_backend` holds the running board for --board-scope (session by default: one bring-up and deploy);
`board` is per test on top of it: it starts the test's deadline and log, resets the board when the
previous test failed or the test asks (@pytest.mark.board_reset), and at teardown fails the test if a
peer listener or a background board call outlived it.
"""

from __future__ import annotations

import secrets

import pytest

from . import options
from .board import BoardHandle
from .manager import HIL_KEY, HilSession, TestState
from .peers import leftover_listeners, live_listener_ids
from .sync import SyncChannel

TEST_STATE = pytest.StashKey[TestState]()


def hil(config: pytest.Config) -> HilSession:
    return config.stash[HIL_KEY]


def _board_scope(fixture_name: str, config: pytest.Config) -> str:
    return config.getoption("--board-scope")


@pytest.fixture(scope=_board_scope)
def _hil_backend(request: pytest.FixtureRequest):
    hs = hil(request.config)
    backend = hs.acquire()
    yield backend
    hs.release()


def _reset(hs: HilSession, state: TestState, hard: bool, why: str) -> None:
    """Reset before a test, climbing the board's reset ladder (soft -> hard -> power) until one works."""
    from ..board import StepError
    from ..board.steps import LINK_LOST

    backend = hs.acquire()
    level = "hard" if hard else "soft"
    state.log.write(f"[usocket-hil] {level} reset before the test ({why})\n".encode())
    try:
        worked = backend.reset(level)
    except StepError as exc:
        hs.needs_reset = True
        if exc.link_gone:  # no rung could even reach the board: every later test would fail on it
            pytest.exit(hs.lose_link(exc), returncode=LINK_LOST)
        pytest.fail(f"usocket-hil: {exc}", pytrace=False)
    if worked.step != level:
        state.log.write(f"[usocket-hil] {worked.line()}\n".encode())


@pytest.fixture
def board(request: pytest.FixtureRequest, _hil_backend) -> BoardHandle:
    """The board under test: .ip, .exec(code), .call(module, func, *args), .start_call(...), .reset()."""
    hs = hil(request.config)
    item = request.node
    state = item.stash.get(TEST_STATE, None)
    if state is None:  # e.g. requested via getfixturevalue outside our hooks' view
        state = item.stash[TEST_STATE] = TestState(item.nodeid, options.test_timeout(item))
    try:
        revived = _hil_backend.ensure_up()
    except Exception as exc:  # noqa: BLE001 - any failure to bring it back fails this test with the reason
        pytest.fail(f"usocket-hil: board {hs.board.name} is gone and could not be restarted: {exc}",
                    pytrace=False)
    if revived:
        state.log.write(f"[usocket-hil] {revived}\n".encode())
        hs.session_log.write(f"[usocket-hil] before {item.nodeid}: {revived}\n".encode())
    mark = item.get_closest_marker("board_reset")
    if mark is not None:
        _reset(hs, state, bool(mark.kwargs.get("hard", False)), "@pytest.mark.board_reset")
    elif hs.needs_reset:
        _reset(hs, state, False, "the previous board test failed")
    hs.needs_reset = False
    state.start_clock()
    state.used = True
    listeners_before = live_listener_ids()
    handle = BoardHandle(_hil_backend, sink=state.log.write, budget=state.remaining,
                         roots=_hil_backend.device_roots, on_reset=state.on_reset)
    yield handle

    problems = []
    stuck = handle.join_pending(timeout=max(state.remaining(), 0) + 35.0)
    if stuck:
        problems.append(stuck)
        hs.needs_reset = True
    leaked = leftover_listeners(listeners_before)
    if leaked:
        problems.append(f"listener(s) still open after the test: {', '.join(leaked)} (closed now; "
                        "close peers you create, or use the peer fixtures)")
    reports = item.stash.get(REPORTS, {})
    if any(r.failed for r in reports.values()):
        hs.needs_reset = True  # next test starts from a soft reset
        if item.stash.get(RESET_NOW, False) and not problems:
            # The test failed on the board itself (its link, a crash, a hang): the reset is tried now, in its own
            # teardown, so that a link gone for good (or frozen) is found while this test is still the one it
            # happened to (its clauses then untested, not failed: hooks.py), not at the next test's set-up.
            from ..board import StepError

            try:
                worked = _hil_backend.reset("soft")
                hs.needs_reset = False
                state.log.write(f"[usocket-hil] after the test failed on the board: {worked.line()}\n".encode())
            except StepError as exc:
                if exc.link_gone:
                    raise  # (hooks.py pytest_runtest_makereport: the session stops before the next test)
    if problems:
        pytest.fail("usocket-hil: " + "; ".join(problems), pytrace=False)


REPORTS = pytest.StashKey[dict]()
RESET_NOW = pytest.StashKey[bool]()  # the test's call failed on the board (BoardTransportError, Crashed, Hung)


@pytest.fixture
def sync(request: pytest.FixtureRequest, board: BoardHandle) -> SyncChannel:
    """Board<->host sync: sync.publish(name, value) / sync.wait(name, timeout); board: import hilsync."""
    hs = hil(request.config)
    server = hs.sync_server()
    state = request.node.stash[TEST_STATE]
    token = secrets.token_hex(8)
    server.begin(token)
    host, port = server.address

    def configure() -> None:
        board.exec(f"import hilsync\nhilsync.configure({host!r}, {port}, {token!r})\n", timeout=10)

    configure()
    state.after_reset.append(configure)
    yield SyncChannel(server, state.remaining)
    state.after_reset.remove(configure)
    server.end()
