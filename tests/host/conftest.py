"""Shared fixtures for host-side tests.  Keep generic; group fixtures by topic with clear names."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

# --- virtual boards -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def virtual_board_offline() -> Iterator[object]:
    """A VirtualBoard (virtual-unix) without a network namespace, shared by one test module."""
    from host_harness.boards import load_board
    from host_harness.virtual import VirtualBoard

    with VirtualBoard(load_board("virtual-unix"), network=False, tcp=True) as vb:
        yield vb


@pytest.fixture(scope="module")
def virtual_board_networked() -> Iterator[object]:
    """A VirtualBoard in its own namespace pair (board_ip/host_ip, netns.host_socket)."""
    from host_harness.boards import load_board
    from host_harness.netns import netns_support
    from host_harness.virtual import VirtualBoard

    ok, why = netns_support()
    if not ok:
        pytest.skip(f"network namespaces unavailable: {why}")
    with VirtualBoard(load_board("virtual-unix"), network=True) as vb:
        yield vb
