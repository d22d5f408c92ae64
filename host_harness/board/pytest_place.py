"""pytest plugin (entry point pytest11 `usocket_hil_place`): `--place NAME` holds a labgrid place for the session.

    pytest tests/device --place esp32-a [--coordinator HOST:PORT] [--place-wait S]

It acquires the place before the usocket-hil plugin reads its options, sets --board from the place's `board`
tag and --port from its RFC2217 port, and releases the place when pytest ends (failure and Ctrl-C included).
Not with pytest-xdist: a place is one board (workers would each ask for it).
"""

from __future__ import annotations

import contextlib

import pytest

from ..errors import HilError

# The place machinery (labgrid client calls, yaml) is imported only when --place is given: every pytest
# process loads this plugin, every xdist worker included.
_LEASE = pytest.StashKey[contextlib.ExitStack]()
_HELD = pytest.StashKey[object]()  # a place.PlaceLease


def pytest_addoption(parser: pytest.Parser) -> None:
    g = parser.getgroup("usocket-hil")
    g.addoption("--place", metavar="NAME", default=None,
                help="labgrid place to hold for the session: its 'board' tag and RFC2217 port")
    g.addoption("--coordinator", metavar="HOST:PORT", default=None,
                help="labgrid coordinator for --place (default $LG_COORDINATOR)")
    g.addoption("--place-wait", metavar="S", type=float, default=0.0,
                help="wait up to S seconds for a busy place (a labgrid reservation)")


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    name = config.getoption("--place", None)
    if not name or hasattr(config, "workerinput"):
        return
    if config.getoption("--port"):
        raise pytest.UsageError("usocket-hil: --place gives the board's port; drop --port")
    from . import loopback_peer_host
    from .place import acquired_place

    stack = contextlib.ExitStack()
    try:
        lease = stack.enter_context(acquired_place(name, coordinator=config.getoption("--coordinator"),
                                                   wait=config.getoption("--place-wait")))
    except HilError as exc:
        raise pytest.UsageError(f"usocket-hil: {exc}") from None
    config.stash[_LEASE] = stack
    config.stash[_HELD] = lease
    if config.option.board and config.option.board != lease.board:
        stack.close()
        raise pytest.UsageError(f"usocket-hil: place {name} holds a {lease.board}, not {config.option.board}")
    config.option.board, config.option.port = lease.board, lease.url
    if not config.option.peer_host:
        host = loopback_peer_host(lease.board, lease.url)
        if host:
            config.option.peer_host = config.option.board_ip = host


def pytest_sessionfinish(session: pytest.Session) -> None:
    lease = session.config.stash.get(_HELD, None)
    if lease is not None and lease.lost:  # the watch printed why; the run must not count as green
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_unconfigure(config: pytest.Config) -> None:
    stack = config.stash.get(_LEASE, None)
    if stack is not None:
        stack.close()
