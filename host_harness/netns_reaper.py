"""Detached watcher: deletes a namespace pair once its owner process has died.

Run as ``python -m host_harness.netns_reaper OWNER_PID OWNER_START NAME...`` (NetnsPair.create does it,
in a new session).  Why a process and not a thread: the owner may be killed with SIGKILL, which leaves
no chance for in-process cleanup.  It exits by itself once the names are gone (normal close()).
"""

from __future__ import annotations

import os
import select
import sys
import time

from host_harness.netns import NETNS_DIR, delete_names, owner_alive

POLL_S = 0.5  # bounded wait per round; a pidfd wakes us at once on exit anyway


def watch(owner: int, start: int, names: list[str]) -> int:
    try:
        pidfd: int | None = os.pidfd_open(owner)
    except (ProcessLookupError, OSError, AttributeError):
        pidfd = None  # already gone, or no pidfd support: fall back to polling /proc
    poller = select.poll()
    if pidfd is not None:
        poller.register(pidfd, select.POLLIN)
    try:
        while True:
            if not owner_alive(owner, start):
                left = delete_names(names)
                return 1 if left else 0
            if not any((NETNS_DIR / n).exists() for n in names):
                return 0  # closed normally by someone
            if pidfd is not None:
                poller.poll(int(POLL_S * 1000))
                # A readable pidfd means exit; owner_alive() above confirms (zombie counts as dead).
                time.sleep(0.01)
            else:
                time.sleep(POLL_S / 2)
    finally:
        if pidfd is not None:
            os.close(pidfd)


def main(argv: list[str]) -> int:
    if len(argv) < 3:
        print("usage: python -m host_harness.netns_reaper OWNER_PID OWNER_START NAME...", file=sys.stderr)
        return 2
    return watch(int(argv[0]), int(argv[1]), argv[2:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
