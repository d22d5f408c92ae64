"""pytest plugin (entry point pytest11 `usocket_hil_place`): `--place NAME` holds a labgrid place for the
session; `--place-tag KEY=VALUE` a pool of places matching the tags.

    pytest tests/device --place esp32-a [--coordinator HOST:PORT] [--place-wait S]
    pytest tests/device --place-tag board=virtual-esp32 -n 2 --dist worksteal

It acquires the place(s) before the usocket-hil plugin reads its options, sets --board from the places'
`board` tag (one kind of board) and --port from the RFC2217 port, and releases them when pytest ends (failure
and Ctrl-C included).  With pytest-xdist (-n N) --place-tag holds N places (board/place.py acquired_places:
labgrid reservations pick them) and hands one port to each worker (--pool-port, plugin/pool.py); --place is
one board, so not with -n > 1.
"""

from __future__ import annotations

import contextlib

import pytest

from ..errors import HilError

# The place machinery (labgrid client calls, yaml) is imported only when --place is given: every pytest
# process loads this plugin, every xdist worker included.
_LEASE = pytest.StashKey[contextlib.ExitStack]()
_HELD = pytest.StashKey[list]()  # place.PlaceLease, one per board
_WORKER_KEY = "usocket_hil_places"  # workerinput: the options the places set


def pytest_addoption(parser: pytest.Parser) -> None:
    g = parser.getgroup("usocket-hil")
    g.addoption("--place", metavar="NAME", default=None,
                help="labgrid place to hold for the session: its 'board' tag and RFC2217 port")
    g.addoption("--coordinator", metavar="HOST:PORT", default=None,
                help="labgrid coordinator for --place (default $LG_COORDINATOR)")
    g.addoption("--place-wait", metavar="S", type=float, default=0.0,
                help="wait up to S seconds for a busy place (a labgrid reservation)")
    g.addoption("--place-tag", metavar="KEY=VALUE", action="append", default=[],
                help="hold labgrid places whose tags match (repeat for several tags): one per xdist worker "
                     "(-n N), which share the suite; one without xdist")


class _Handover:
    """Registered in the controller of an xdist run: each worker gets the board (and peer host) the places
    said -- workers see only the original command line."""

    def __init__(self, options: dict) -> None:
        self.options = options

    def pytest_configure_node(self, node) -> None:
        node.workerinput[_WORKER_KEY] = self.options


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    if hasattr(config, "workerinput"):
        for key, value in config.workerinput.get(_WORKER_KEY, {}).items():
            setattr(config.option, key, value)
        return
    name, tags = config.getoption("--place", None), config.getoption("--place-tag", None)
    if not name and not tags:
        return
    if name and tags:
        raise pytest.UsageError("usocket-hil: --place NAME or --place-tag KEY=VALUE, not both")
    if config.getoption("--port"):
        raise pytest.UsageError("usocket-hil: --place/--place-tag give the board's port; drop --port")
    from ..plugin.pool import pool_size
    from . import loopback_peer_host
    from .place import acquired_place, acquired_places, parse_tags

    workers = pool_size(config)
    if name and workers > 1:
        raise pytest.UsageError(f"usocket-hil: --place {name} is one board for {workers} xdist workers: "
                                f"use --place-tag KEY=VALUE for a pool of {workers} places")
    stack = contextlib.ExitStack()
    config.stash[_LEASE] = stack
    try:
        coordinator, wait = config.getoption("--coordinator"), config.getoption("--place-wait")
        if name:
            leases = [stack.enter_context(acquired_place(name, coordinator=coordinator, wait=wait))]
        else:
            leases = stack.enter_context(acquired_places(parse_tags(tags), max(workers, 1),
                                                         coordinator=coordinator, wait=wait))
    except HilError as exc:
        raise pytest.UsageError(f"usocket-hil: {exc}") from None
    config.stash[_HELD] = leases
    boards = {lease.board for lease in leases}
    wanted = config.option.board
    if len(boards) > 1 or (wanted and {wanted} != boards):
        held = ", ".join(f"{lease.name} holds a {lease.board}" for lease in leases)
        stack.close()
        raise pytest.UsageError(f"usocket-hil: {held}{f', not {wanted}' if wanted else ''}")
    first = leases[0]
    given: dict = {"board": first.board}
    if not config.option.peer_host:
        host = loopback_peer_host(first.board, first.url)
        if host:
            given.update(peer_host=host, board_ip=host)
    for key, value in given.items():
        setattr(config.option, key, value)
    if workers > 1:
        config.option.pool_port = [lease.url for lease in leases]  # plugin/pool.py: one per worker
        config.pluginmanager.register(_Handover(given), "usocket-hil-places")
    else:
        config.option.port = first.url


def pytest_sessionfinish(session: pytest.Session) -> None:
    leases = session.config.stash.get(_HELD, [])
    if any(lease.lost for lease in leases):  # the watch printed why; the run must not count as green
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_unconfigure(config: pytest.Config) -> None:
    stack = config.stash.get(_LEASE, None)
    if stack is not None:
        stack.close()
