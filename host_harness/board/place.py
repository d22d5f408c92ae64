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

A pool of places by tag (`acquired_places({"board": "virtual-esp32"}, 2)`, `usocket-hil test --place-tag
board=virtual-esp32 --pool 2`) is the same machinery with the tags as the reservations' filter: labgrid's
scheduler picks which places; the suite is then shared over them by pytest-xdist (plugin/pool.py).
"""

from __future__ import annotations

import contextlib
import os
import random
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from ..errors import HilError
from ..farm.labgrid import CLIENT_TIMEOUT_S, LabgridError, client, labgrid_bin

COORDINATOR_ENV = "LG_COORDINATOR"  # labgrid's own variable for the coordinator address
WATCH_INTERVAL_S = 5.0  # how often a held place is checked (one `labgrid-client show`)
WATCH_MISSES = 2  # unanswered checks in a row before the coordinator counts as lost
CLIENT_JOIN_S = 15.0  # a check in flight ends within its client call's deadline
ALLOCATE_S = 5.0  # a tag pool without --place-wait: this long for every place at once (a few attempts)
BACKOFF_S = (0.3, 1.5)  # random pause between a tag pool's attempts
# Past its deadline the oldest run still waits this long for places allocated to younger runs: they are bound
# to die (cancel) at their next check, which under load can take a few labgrid-client calls.
YIELD_GRACE_S = 2 * CLIENT_TIMEOUT_S


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
    lost: str | None = None  # set by the watch when the place stops being usable mid-run (why)
    still_ours: bool = False  # lost, but still acquired by us (its exporter went away): released at the end
    taken: bool = False  # lost to someone else (kicked, acquired by another): the board was not only ours


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


def _busy_holder(busy: LabgridError, coordinator: str, name: str, user: str | None) -> str:
    """Who holds place `name`, from labgrid's refusal.  labgrid-client names the holder when its own place
    list already shows it acquired (labgrid/remote/client.py, ClientSession._acquire_place); when two runs race, the
    coordinator refuses with no name (labgrid/remote/coordinator.py, AcquirePlace), so it is asked."""
    found = re.search(r"acquired by (\S+?)\.?(?:\s|$)", str(busy))
    return found.group(1) if found else _holder(coordinator, name, user)


def _reserve(coordinator: str, filters: list[str], wait: float, user: str | None, busy, *,
             deadline: float | None = None) -> str:
    """A labgrid reservation for a place matching `filters` (KEY=VALUE tags; name=PLACE for one place),
    allocated within `wait` s (by `deadline`, a monotonic time, when given: the wait then includes the
    labgrid-client starts before it); its token.  After that, `busy()` is raised (its reservation cancelled)."""
    deadline = time.monotonic() + wait if deadline is None else deadline
    env = dict(os.environ)
    if user:
        env["LG_USERNAME"] = user
    proc = subprocess.Popen([labgrid_bin("labgrid-client"), "-x", coordinator, "reserve", "--wait", "--shell",
                             *filters], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env, stdin=subprocess.DEVNULL, start_new_session=True)
    token = None
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()  # "export LG_TOKEN=..." as soon as the reservation exists
        found = re.search(r"LG_TOKEN=(\w+)", line)
        if not found:
            proc.wait(10)
            raise PlaceError(f"labgrid reservation {' '.join(filters)} failed: "
                             f"{(proc.stderr.read() if proc.stderr else '').strip()[-200:]}")
        token = found.group(1)
        try:
            # the client polls the coordinator until the reservation is allocated
            proc.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            raise busy() from None
        if proc.returncode != 0:
            raise PlaceError(f"labgrid reservation {token} ({' '.join(filters)}) ended with exit {proc.returncode}")
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
        if "Could not connect to coordinator" in str(exc):  # (labgrid's words name no address)
            raise PlaceError(f"cannot acquire place {name}: no labgrid coordinator answers at {coordinator} "
                             "(--coordinator HOST:PORT or $LG_COORDINATOR)") from None
        if "already acquired" not in str(exc):
            raise PlaceError(f"cannot acquire place {name}: {exc}") from None
        if wait <= 0:
            if "You have already acquired" in str(exc):  # labgrid's words for a place we hold ourselves
                raise PlaceBusyError(
                    f"place {name} is busy: it is already acquired by you ({user or 'this user'}: another run, "
                    f"or one that did not release it: `labgrid-client -p {name} release` frees it)") from None
            holder = _busy_holder(exc, coordinator, name, user)
            raise PlaceBusyError(f"place {name} is busy: it is acquired by {holder} "
                                 "(wait for it with --place-wait SECONDS)") from None
        busy = exc
    started = time.monotonic()
    holder = _busy_holder(busy, coordinator, name, user)  # now: no lookup after the deadline
    # (a CI log would otherwise show nothing for up to --place-wait seconds)
    print(f"usocket-hil: place {name} is held by {holder}: waiting up to {wait:.0f} s for it "
          "(a labgrid reservation)", file=sys.stderr, flush=True)

    def busy_error() -> PlaceBusyError:
        return PlaceBusyError(f"place {name} is still acquired by {holder} "
                              f"after waiting {wait:.0f} s (its reservation is cancelled)")

    token = _reserve(coordinator, [f"name={name}"], wait, user, busy_error, deadline=deadline)
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


def _resolve(coordinator: str, name: str, user: str | None) -> tuple[str, dict[str, str], str]:
    """(RFC2217 URL, tags, who holds it) of place `name`: its `env` and `show`, asked side by side."""
    import yaml  # labgrid's dependency: only a place needs it

    answers = _side_by_side(lambda i: client(coordinator, "-p", name, ("env", "show")[i], user=user), 2,
                            2 * CLIENT_TIMEOUT_S)
    for answer in answers:
        if isinstance(answer, BaseException):
            raise answer
    env_text, show = answers
    env = yaml.safe_load(env_text) or {}
    resources = next(iter((env.get("targets") or {}).values()), {}).get("resources") or []
    ports = [r["NetworkSerialPort"] for r in resources if "NetworkSerialPort" in r]
    if not ports:
        raise PlaceError(f"place {name} has no NetworkSerialPort (is its exporter running?)")
    port = ports[0]
    if port.get("protocol", "rfc2217") != "rfc2217":
        raise PlaceError(f"place {name}: its serial port speaks {port['protocol']}, not rfc2217 "
                         "(no reset lines for esptool)")
    found = re.search(r"^\s*tags: (.*)$", show, re.M)
    tags = dict(t.split("=", 1) for t in found.group(1).split(", ") if "=" in t) if found else {}
    holder = re.search(r"^\s*acquired: (\S+)", show, re.M)
    return f"rfc2217://{port['host']}:{port['port']}", tags, holder.group(1) if holder else "None"


class _LeaseWatch(threading.Thread):
    """Checks every `interval` s that the place is still acquired by us and its resources are still there:
    someone may `release --kick` it, the coordinator may go away, or the exporter that publishes its serial
    port may (labgrid then keeps the place acquired with an orphaned resource, labgrid/remote/coordinator.py
    ExporterSession.set_resource, and `labgrid-client show` lists it as "Orphaned resource").  The first loss
    is written to stderr at once and kept in `lease.lost`."""

    def __init__(self, lease: PlaceLease, user: str | None, interval: float,
                 on_lost: Callable[[str], None] | None, holder: str) -> None:
        super().__init__(name=f"place-watch-{lease.name}", daemon=True)
        self.lease, self.user, self.interval, self.on_lost = lease, user, interval, on_lost
        self.stop = threading.Event()
        self.holder = holder  # us, as the coordinator names us

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
            orphaned = re.search(r"^Orphaned resource '[^']*' \((([^/\s]+)/[^)]*)\)", show, re.M)
            if now != self.holder:
                self._lose("released by someone else" if now == "None" else f"now acquired by {now}", taken=True)
            elif orphaned:
                self._lose(f"its exporter {orphaned.group(2)} went away (labgrid: resource {orphaned.group(1)} "
                           "orphaned)", still_ours=True)

    def _lose(self, why: str, *, still_ours: bool = False, taken: bool = False) -> None:
        if self.stop.is_set():  # our own release at the end of the block
            return
        self.lease.still_ours, self.lease.taken = still_ours, taken
        self.lease.lost = why
        print(f"usocket-hil: place {self.lease.name} lost mid-run: {why}", file=sys.stderr, flush=True)
        if self.on_lost is not None:
            self.on_lost(why)


def after_loss(leases: list[PlaceLease]) -> str:
    """What the loss of these leases means for a run's results: the end of its one error line."""
    if any(lease.taken for lease in leases):
        return "the results above may come from a board someone else was using"
    return "the run stopped, the clauses not run are untested"  # nobody else got the board meanwhile


def _hold(stack: contextlib.ExitStack, address: str, name: str, token: str | None, user: str | None,
          watch: float | None, on_lost: Callable[[str], None] | None) -> PlaceLease:
    """Our acquired place `name` as a lease, watched; `stack` releases it (and ends `token`) on the way out."""
    lease: PlaceLease | None = None

    def give_back() -> None:
        if lease is not None and lease.lost and not lease.still_ours:  # only our reservation is left to end
            release_token(address, token, user=user)
        else:
            release(address, name, user=user, token=token)

    stack.callback(give_back)
    url, tags, holder = _resolve(address, name, user)
    if "board" not in tags:
        raise PlaceError(f"place {name} has no 'board' tag naming its board file "
                         f"(labgrid-client -p {name} set-tags board=NAME)")
    lease = PlaceLease(name=name, coordinator=address, url=url, board=tags["board"], tags=tags, token=token)
    if watch:
        watcher = _LeaseWatch(lease, user, watch, on_lost, holder)
        watcher.start()

        def stop_watch() -> None:  # before the release: our own release is no loss
            watcher.stop.set()
            watcher.join(CLIENT_JOIN_S)

        stack.callback(stop_watch)
    return lease


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
    with contextlib.ExitStack() as stack:
        yield _hold(stack, address, name, token, user, watch, on_lost)


def parse_tags(pairs: list[str]) -> dict[str, str]:
    """KEY=VALUE strings (as `labgrid-client reserve` takes them) -> {KEY: VALUE}; PlaceError on a bad one."""
    tags: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not re.fullmatch(r"[a-z][a-z0-9_]*", key) or not re.fullmatch(r"[a-z0-9_.\-]+", value, re.I):
            raise PlaceError(f"place tag {pair!r}: want KEY=VALUE (key: lower-case letters, digits, _)")
        tags[key] = value
    return tags


def _tagged_places(address: str, tags: dict[str, str], user: str | None, *, strict: bool = False) -> dict[str, str]:
    """{place: who acquired it ("None": nobody)} for the places whose tags include `tags` (for messages; with
    `strict`, a coordinator that does not answer is a LabgridError instead of no places)."""
    found: dict[str, str] = {}
    with contextlib.suppress(*(() if strict else (LabgridError,))):
        for block in re.split(r"^(?=Place ')", client(address, "-v", "places", user=user), flags=re.M):
            name = re.match(r"Place '([^']+)'", block)
            line = re.search(r"^\s*tags: (.*)$", block, re.M)
            have = dict(t.split("=", 1) for t in line.group(1).split(", ") if "=" in t) if line else {}
            if name and tags.items() <= have.items():
                holder = re.search(r"^\s*acquired: (\S+)", block, re.M)
                found[name.group(1)] = holder.group(1) if holder else "None"
    return found


def _side_by_side(fn: Callable[[int], object], count: int, cap: float) -> list:
    """fn(0..count-1) in threads (each a few labgrid-client calls of ~0.5 s); their results or exceptions.
    Ctrl-C in the caller waits for them first (each call has its deadline), so nothing they got is lost."""
    results: list = [None] * count

    def work(i: int) -> None:
        try:
            results[i] = fn(i)
        except BaseException as exc:  # noqa: BLE001 - handed to the caller
            results[i] = exc

    threads = [threading.Thread(target=work, args=(i,), name=f"place-{i}", daemon=True) for i in range(count)]
    for t in threads:
        t.start()
    try:
        for t in threads:
            while t.is_alive():  # a plain join() would not see Ctrl-C
                t.join(0.2)
    except BaseException:
        for t in threads:
            t.join(cap)
        raise
    return results


def _tag_pool_busy(address: str, tags: dict[str, str], filters: list[str], count: int, budget: float,
                   user: str | None) -> PlaceBusyError:
    matching = _tagged_places(address, tags, user)
    if len(matching) < count:
        return PlaceBusyError(f"{len(matching)} place(s) are tagged {' '.join(filters)} "
                              f"({', '.join(matching) or 'none'}), {count} wanted")
    held = ", ".join(f"{n} by {h}" for n, h in matching.items() if h != "None")
    return PlaceBusyError(f"fewer than {count} of the places tagged {' '.join(filters)} were free within "
                          f"{budget:.0f} s (acquired: {held or 'none'}; reserved: see `labgrid-client "
                          "reservations`); nothing is held")


def _reservation_states(address: str, user: str | None) -> dict[str, tuple[str, str | None, str]]:
    """{token: (state, allocated place or None, created)} from `labgrid-client reservations`."""
    states: dict[str, tuple[str, str | None, str]] = {}
    for block in re.split(r"^(?=Reservation ')", client(address, "reservations", user=user), flags=re.M):
        token = re.match(r"Reservation '([^']+)'", block)
        state = re.search(r"^\s*state: (\w+)", block, re.M)
        place = re.search(r"^\s*allocations:\s*\n\s*main: (\S+)", block, re.M)
        created = re.search(r"^\s*created: (.+)$", block, re.M)
        if token and state:
            states[token.group(1)] = (state.group(1), place.group(1) if place else None,
                                      created.group(1).strip() if created else "")
    return states


def _grab(address: str, filters: list[str], count: int, deadline: float,
          user: str | None) -> list[tuple[str, str]] | None:
    """One attempt: `count` reservations with `filters`; [(token, place)] once the coordinator allocated
    every one, or None (all cancelled) when another run's waiting reservation is older than our newest
    (wait-die: the younger run backs off at once, the older one gets the places it frees), or at the deadline
    (past it, the older run waits up to YIELD_GRACE_S more while younger runs still hold reservations)."""
    def reserve(_i: int) -> str:
        out = client(address, "reserve", "--shell", *filters, user=user)
        found = re.search(r"LG_TOKEN=(\w+)", out)
        if not found:
            raise PlaceError(f"labgrid reservation {' '.join(filters)}: no token in {out.strip()[:80]!r}")
        return found.group(1)

    made = _side_by_side(reserve, count, 2 * CLIENT_TIMEOUT_S)
    tokens = [t for t in made if isinstance(t, str)]
    states: dict[str, tuple[str, str | None, str]] = {}
    try:
        errors = [e for e in made if isinstance(e, BaseException)]
        if errors:
            raise errors[0]
        while True:
            states = _reservation_states(address, user)
            got = [(t, states[t][1]) for t in tokens if t in states and states[t][0] == "allocated"]
            if len(got) == count and all(place for _t, place in got):
                tokens = []  # ours to acquire now
                return got  # type: ignore[return-value]
            newest = max((states[t][2] for t in tokens if t in states), default="")
            others = [(st, created) for t, (st, _p, created) in states.items() if t not in tokens]
            if any(st == "waiting" and created < newest for st, created in others):
                return None  # the younger run: die at once, whatever the time
            # The older run waits to its deadline, and past it while younger runs are still there (bound to
            # die at their next check: the scheduler then hands us what they free) or allocations are about
            # to be acquired.
            now = time.monotonic()
            pending = any(st == "allocated" or (st == "waiting" and created > newest) for st, created in others)
            if now > deadline and (now > deadline + YIELD_GRACE_S or not pending):
                return None
            time.sleep(0.5)
    finally:
        _cancel(address, tokens, states, user)


def _cancel(address: str, tokens: list[str], states: dict[str, tuple[str, str | None, str]],
            user: str | None) -> None:
    """End a dying attempt's reservations at once: side by side, the allocated ones first.  The coordinator
    hands a freed place on only at its next scheduling (labgrid/remote/coordinator.py schedule_reservations
    still counts the place as reserved in the pass of the cancel that freed it), which the later cancels
    trigger; otherwise the older run would wait for the coordinator's 15 s poll."""
    first = [t for t in tokens if states.get(t, ("",))[0] == "allocated"]
    for batch in (first, [t for t in tokens if t not in first]):
        _side_by_side(lambda i, batch=batch: release_token(address, batch[i], user=user), len(batch),
                      2 * CLIENT_TIMEOUT_S)


@contextlib.contextmanager
def acquired_places(tags: dict[str, str], count: int, *, coordinator: str | None = None, wait: float = 0.0,
                    user: str | None = None, watch: float | None = WATCH_INTERVAL_S,
                    on_lost: Callable[[str], None] | None = None) -> Iterator[list[PlaceLease]]:
    """Hold `count` places whose tags include `tags` for the block (a pool of identical boards), each
    released whatever ends the block.  labgrid matches them: one reservation per place with the tags as its
    filter (`labgrid-client reserve KEY=VALUE...`), the coordinator's scheduler allocates distinct free
    places, we acquire each with its reservation's token.

    All or nothing, within `wait` s (at least ALLOCATE_S): two runs that each want every place could each be
    allocated some and wait for the rest forever.  So a run whose newest reservation is younger than another
    run's waiting one cancels all of its own and tries again after a random pause (wait-die); the older run
    keeps its reservations, and labgrid's scheduler (oldest first) gives it the places the younger freed; it
    does not give up at the deadline while a younger run is still dying (slow under load).
    Past the deadline: PlaceBusyError (how many places match, who holds them), nothing held."""
    if count < 1:
        raise PlaceError("a pool of places needs a count >= 1")
    if not tags:
        raise PlaceError("no place tags given (KEY=VALUE, e.g. board=virtual-esp32)")
    address = coordinator_address(coordinator)
    filters = [f"{k}={v}" for k, v in tags.items()]
    budget = max(wait, ALLOCATE_S)
    deadline = time.monotonic() + budget
    with contextlib.ExitStack() as stack:
        try:
            tagged = len(_tagged_places(address, tags, user, strict=True))
        except LabgridError:
            tagged = count  # (no answer now: the reservations below say what the coordinator does)
        if tagged < count:  # waiting cannot help: said now, not at the end
            raise _tag_pool_busy(address, tags, filters, count, budget, user)
        while (got := _grab(address, filters, count, deadline, user)) is None:
            if time.monotonic() + BACKOFF_S[1] > deadline:
                raise _tag_pool_busy(address, tags, filters, count, budget, user)
            time.sleep(random.uniform(*BACKOFF_S))
        # Each place's own stack joins ours at once (its reservation first), so whatever one thread got is
        # given back when another failed, or on Ctrl-C.
        stacks = [stack.enter_context(contextlib.ExitStack()) for _ in got]
        for sub, (token, _name) in zip(stacks, got, strict=True):
            sub.callback(release_token, address, token, user=user)

        def take(i: int) -> PlaceLease:
            token, name = got[i]
            try:
                client(address, "-p", name, "acquire", user=user, token=token)
            except LabgridError as exc:
                raise PlaceError(f"place {name} was allocated to us but could not be acquired: {exc}") from None
            return _hold(stacks[i], address, name, token, user, watch, on_lost)

        results = _side_by_side(take, count, 4 * CLIENT_TIMEOUT_S)
        errors = [r for r in results if isinstance(r, BaseException)]
        if errors:
            raise errors[0]
        yield results


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
