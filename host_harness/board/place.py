"""A labgrid place as the board layer's resource provider: acquire → (board file, RFC2217 URL) → open_board
→ release, also on failure and Ctrl-C.

    with acquired_place("esp32-a", coordinator="127.0.0.1:20408") as lease:
        lease.board   # the place's `board` tag: a board file name (boards/NAME.toml)
        lease.url     # rfc2217://host:port of its NetworkSerialPort

    with open_place_board("esp32-a", coordinator=...) as board:   # a RunningBoard, brought up
        board.exec(...)

The CLI (`usocket-hil test --place`) holds the lease around its suites, which open_board the lease's URL; the
pytest plugin (pytest_place.py, `--place`) holds it for its session and hands the URL to the board plugin.
Labgrid programs themselves (coordinator, exporter, client calls) are farm/labgrid.py.

A busy place (acquired by someone else) fails at once with labgrid's "already acquired by USER" — unless
`wait` seconds are given: then a labgrid reservation (`labgrid-client reserve --wait name=PLACE`) queues
for it, the coordinator allocates it when it is released, and it is acquired with the reservation's token;
after `wait` seconds the reservation is cancelled and PlaceBusyError names who holds the place.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from ..errors import HilError
from ..farm.labgrid import LabgridError, client, labgrid_bin

COORDINATOR_ENV = "LG_COORDINATOR"  # labgrid's own variable for the coordinator address
WATCH_INTERVAL_S = 5.0  # how often a held place is checked (one `labgrid-client show`)
WATCH_MISSES = 2  # unanswered checks in a row before the coordinator counts as lost
CLIENT_JOIN_S = 15.0  # a check in flight ends within its client call's deadline


class PlaceError(HilError):
    """The place does not exist, has no RFC2217 port or no board tag, or the coordinator is unreachable."""


class PlaceBusyError(PlaceError):
    """Someone else holds the place (and it was not released within the wait)."""

    exit_code = 3


class PlaceLostError(PlaceError):
    """The place stopped being ours during the run (kicked, or the coordinator went away)."""


@dataclass
class PlaceLease:
    name: str
    coordinator: str
    url: str
    board: str
    tags: dict[str, str] = field(default_factory=dict)
    token: str | None = None
    lost: str | None = None  # set by the watch when the place stops being ours mid-run (why)


def coordinator_address(given: str | None) -> str:
    address = given or os.environ.get(COORDINATOR_ENV)
    if not address:
        raise PlaceError(f"no labgrid coordinator: pass --coordinator HOST:PORT or set {COORDINATOR_ENV}")
    return address


def _holder(coordinator: str, name: str, user: str | None) -> str:
    with contextlib.suppress(LabgridError):
        found = re.search(r"^\s*acquired: (\S+)", client(coordinator, "-p", name, "show", user=user), re.M)
        if found and found.group(1) != "None":
            return found.group(1)
    return "another user"


def _reserve(coordinator: str, name: str, wait: float, user: str | None, *, deadline: float | None = None,
             holder: str | None = None) -> str:
    """A reservation for place `name`, allocated within `wait` s (by `deadline`, a monotonic time, when given:
    the wait then includes the labgrid-client starts before it); its token.  PlaceBusyError after that,
    naming `holder` when the caller already knows it."""
    deadline = time.monotonic() + wait if deadline is None else deadline
    env = dict(os.environ)
    if user:
        env["LG_USERNAME"] = user
    proc = subprocess.Popen([labgrid_bin("labgrid-client"), "-x", coordinator, "reserve", "--wait", "--shell",
                             f"name={name}"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env, stdin=subprocess.DEVNULL, start_new_session=True)
    token = None
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()  # "export LG_TOKEN=..." as soon as the reservation exists
        found = re.search(r"LG_TOKEN=(\w+)", line)
        if not found:
            proc.wait(10)
            raise PlaceError(f"labgrid reservation for place {name} failed: "
                             f"{(proc.stderr.read() if proc.stderr else '').strip()[-200:]}")
        token = found.group(1)
        try:
            # the client polls the coordinator until the reservation is allocated
            proc.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            holder = holder or _holder(coordinator, name, user)
            raise PlaceBusyError(f"place {name} is still acquired by {holder} after waiting {wait:.0f} s "
                                 "(its reservation is cancelled)") from None
        if proc.returncode != 0:
            raise PlaceError(f"labgrid reservation {token} for place {name} ended with exit {proc.returncode}")
        return token
    except BaseException:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
        if token:
            with contextlib.suppress(LabgridError):
                client(coordinator, "cancel-reservation", token, user=user)
        raise
    finally:
        for pipe in (proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()


def _acquire(coordinator: str, name: str, *, wait: float, user: str | None) -> str | None:
    deadline = time.monotonic() + wait  # --place-wait S: S seconds from now, labgrid-client starts included
    try:
        client(coordinator, "-p", name, "acquire", user=user)
        return None
    except LabgridError as exc:
        if "already acquired" not in str(exc):
            raise PlaceError(f"cannot acquire place {name}: {exc}") from None
        if wait <= 0:
            raise PlaceBusyError(f"place {name} is busy: {str(exc).split('. ')[0]} "
                                 "(wait for it with --place-wait SECONDS)") from None
        busy = str(exc)
    started = time.monotonic()
    found = re.search(r"acquired by (\S+?)\.?(?:\s|$)", busy)
    token = _reserve(coordinator, name, wait, user, deadline=deadline, holder=found.group(1) if found else None)
    try:
        client(coordinator, "-p", "+", "acquire", user=user, token=token)
    except BaseException as exc:
        with contextlib.suppress(LabgridError):
            client(coordinator, "cancel-reservation", token, user=user)
        if isinstance(exc, LabgridError):
            raise PlaceError(f"place {name} was allocated after {time.monotonic() - started:.0f} s but "
                             f"could not be acquired: {exc}") from None
        raise
    return token


def _resolve(coordinator: str, name: str, user: str | None) -> tuple[str, dict[str, str]]:
    import yaml  # labgrid's dependency: only a place needs it

    env = yaml.safe_load(client(coordinator, "-p", name, "env", user=user)) or {}
    resources = next(iter((env.get("targets") or {}).values()), {}).get("resources") or []
    ports = [r["NetworkSerialPort"] for r in resources if "NetworkSerialPort" in r]
    if not ports:
        raise PlaceError(f"place {name} has no NetworkSerialPort (is its exporter running?)")
    port = ports[0]
    if port.get("protocol", "rfc2217") != "rfc2217":
        raise PlaceError(f"place {name}: its serial port speaks {port['protocol']}, not rfc2217 "
                         "(no reset lines for esptool)")
    show = client(coordinator, "-p", name, "show", user=user)
    found = re.search(r"^\s*tags: (.*)$", show, re.M)
    tags = dict(t.split("=", 1) for t in found.group(1).split(", ") if "=" in t) if found else {}
    return f"rfc2217://{port['host']}:{port['port']}", tags


class _LeaseWatch(threading.Thread):
    """Checks every `interval` s that the place is still acquired by us: someone may `release --kick` it, or
    the coordinator may go away.  The first loss is written to stderr at once and kept in `lease.lost`."""

    def __init__(self, lease: PlaceLease, user: str | None, interval: float,
                 on_lost: Callable[[str], None] | None) -> None:
        super().__init__(name=f"place-watch-{lease.name}", daemon=True)
        self.lease, self.user, self.interval, self.on_lost = lease, user, interval, on_lost
        self.stop = threading.Event()
        self.holder = _holder(lease.coordinator, lease.name, user)  # us, as the coordinator names us

    def run(self) -> None:
        misses = 0
        while not self.stop.wait(self.interval) and self.lease.lost is None:
            try:
                show = client(self.lease.coordinator, "-p", self.lease.name, "show", user=self.user,
                              timeout=max(self.interval, 10.0))
            except LabgridError as exc:
                misses += 1
                if misses >= WATCH_MISSES:
                    self._lose(f"the coordinator {self.lease.coordinator} stopped answering ({exc})")
                continue
            misses = 0
            found = re.search(r"^\s*acquired: (\S+)", show, re.M)
            now = found.group(1) if found else "None"
            if now != self.holder:
                self._lose("released by someone else" if now == "None" else f"now acquired by {now}")

    def _lose(self, why: str) -> None:
        if self.stop.is_set():  # our own release at the end of the block
            return
        self.lease.lost = why
        print(f"usocket-hil: place {self.lease.name} lost mid-run: {why}", file=sys.stderr, flush=True)
        if self.on_lost is not None:
            self.on_lost(why)


@contextlib.contextmanager
def acquired_place(name: str, *, coordinator: str | None = None, wait: float = 0.0, user: str | None = None,
                   watch: float | None = WATCH_INTERVAL_S,
                   on_lost: Callable[[str], None] | None = None) -> Iterator[PlaceLease]:
    """Hold place `name` for the block; it is released whatever ends the block (error, Ctrl-C).  With `watch`
    (seconds) a thread checks the place stays ours: `lease.lost` says why when it did not (see _LeaseWatch),
    and `on_lost(why)` is called from that thread (e.g. to stop what runs on the board)."""
    address = coordinator_address(coordinator)
    try:
        token = _acquire(address, name, wait=wait, user=user)
    except LabgridError as exc:
        raise PlaceError(f"place {name}: {exc}") from None
    lease = None
    try:
        url, tags = _resolve(address, name, user)
        if "board" not in tags:
            raise PlaceError(f"place {name} has no 'board' tag naming its board file "
                             f"(labgrid-client -p {name} set-tags board=NAME)")
        lease = PlaceLease(name=name, coordinator=address, url=url, board=tags["board"], tags=tags, token=token)
        watcher = _LeaseWatch(lease, user, watch, on_lost) if watch else None
        if watcher is not None:
            watcher.start()
        try:
            yield lease
        finally:
            if watcher is not None:
                watcher.stop.set()
                watcher.join(CLIENT_JOIN_S)
    finally:
        if lease is not None and lease.lost:  # not ours any more: only our reservation is left to end
            release_token(address, token, user=user)
        else:
            release(address, name, user=user, token=token)


def release(coordinator: str, name: str, *, user: str | None = None, token: str | None = None) -> None:
    """Release (and end our reservation); an already-released place is fine, others are reported."""
    try:
        client(coordinator, "-p", name, "release", user=user)
    except LabgridError as exc:
        if "not acquired" not in str(exc):
            raise PlaceError(f"could not release place {name}: {exc}") from None
    finally:
        release_token(coordinator, token, user=user)


def release_token(coordinator: str, token: str | None, *, user: str | None = None) -> None:
    if token:
        with contextlib.suppress(LabgridError):
            client(coordinator, "cancel-reservation", token, user=user)


@contextlib.contextmanager
def open_place_board(name: str, *, coordinator: str | None = None, wait: float = 0.0, user: str | None = None,
                     **open_args) -> Iterator:
    """Acquire place `name`, open_board() its board on its URL (open_args as for open_board), and on the way
    out close the board, then release the place (whatever ends the block)."""
    from . import loopback_peer_host, open_board

    with acquired_place(name, coordinator=coordinator, wait=wait, user=user) as lease:
        if "peer_host" not in open_args:
            host = loopback_peer_host(lease.board, lease.url)
            if host:
                open_args.update(peer_host=host, board_ip=host)
        board = open_board(lease.board, lease.url, **open_args)
        try:
            yield board
        finally:
            board.close()
