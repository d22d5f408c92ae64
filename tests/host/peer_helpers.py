"""Helpers shared by the peer test modules (test_peers_netns.py, test_peers_tls.py).

Import the fixture into a test module to make it active there:
``from peer_helpers import no_listener_survives  # noqa: F401``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from host_harness import peers
from host_harness.micropython import micropython_path


@pytest.fixture(autouse=True)
def no_listener_survives() -> Iterator[None]:
    """After each test, every peer is closed; a test that left one open fails."""
    yield
    survivors = peers.registry.close_all()
    assert not survivors, f"peers left open: {survivors}"


def micropython_or_skip() -> str:
    """The micropython interpreter (host_harness.micropython), or skip the test with the reason."""
    exe = micropython_path()
    if not exe:
        pytest.skip("no micropython interpreter (set MICROPYTHON=/path/to/micropython)")
    return exe
