"""A pool of identical virtual boards for pytest-xdist: `pytest tests/device -n N --board virtual-esp32`
(what `usocket-hil test --pool N` runs).  The suite is shared over N boards by xdist's scheduler; this
module only decides where each worker's board comes from.

Without it every xdist worker would bring up its own board after its own start-up (interpreter, pytest,
plugins, collection): N bring-ups on the critical path, after N start-ups, N deploys competing for the cores.
Instead the controller brings the boards up as soon as it is configured (hooks.py pytest_configure), while
xdist makes the session and spawns its workers, with the plugin's own deploy set (make_backend: booted,
deployed, import-checked, online).  The boards are identical, so none is deployed over its REPL: the deploy set
(backends.deploy_set: the files a REPL deploy writes, compiled once) is written on the host as one filesystem
image, and each board's blank flash folder is flashed with it before its first boot -- as identical boards are
flashed from one image.  All N then power up side by side (namespace pair, supervisor, interpreter), and each
one's deploy step is the hash check alone (every file's sha256 compared on the board, the set imported: one
round trip), which proves what the image put there.  When the image cannot be made (say, mpy-cross fails) each
board deploys itself over its REPL instead, as without a pool.  Each board's REPL session is then closed and the
board left running.
Each worker gets a slot (pytest_configure_node) and, at its first board test, waits for that slot's board
and attaches to it by its port (board/virtual.py AttachedVirtual: its namespace pair, no second deploy).
The controller stops every board at the end, also after a failure or Ctrl-C.

The hand-off is one small JSON file per slot (`{"port": URL}` or `{"error": TEXT}`), written atomically.
It also carries the run's TLS keys (peers/keystore.py): RSA-2048 generation is ~0.1 CPU s a key and every
worker needs four, so the controller takes them once from the state folder (making them there the first time),
beside the bring-ups, and each worker's TLS peers use them.
Only for virtual boards without --port, in root-named network namespaces (a worker cannot enter another
process's anonymous namespaces): otherwise each worker brings up its own board as before.
A pool board's power rung (restart its supervisor) belongs to the controller: in a worker the reset ladder
stops at hard (restart the interpreter).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path

import pytest

from ..boards import Board
from ..errors import HilError

WORKER_KEY = "usocket_hil_pool_slot"  # workerinput: the slot file a worker's board is handed over in
DIST_KEY = "usocket_hil_dist"  # workerinput: the controller's --dist (xdist sets a worker's own to "no")
BRINGUP_DEADLINE_S = 120.0  # one pool board from nothing to online (under load: N boards share the cores)
POLL_S = 0.02


class PoolError(HilError):
    """A pool board did not come up (the controller's reason), or its hand-off did not arrive in time."""


def pool_size(config: pytest.Config) -> int:
    """xdist's worker count when xdist distributes this session (0 without -n, in a worker, and with
    --collect-only, which xdist runs in the controller alone); xdist has resolved `-n auto` by configure time."""
    if hasattr(config, "workerinput"):
        return 0
    # (xdist's options exist when its plugin is loaded, under whichever name: "xdist" autoloaded, "xdist.plugin"
    # named with -p as `usocket-hil test` does)
    n = getattr(config.option, "numprocesses", None) or 0
    distributes = getattr(config.option, "dist", "no") != "no" and not config.getvalue("collectonly")
    return n if isinstance(n, int) and distributes else 0


def wanted(config: pytest.Config, board: Board) -> bool:
    from ..netns import netns_mode

    if pool_size(config) < 2 or config.getoption("--port"):
        return False
    if config.getoption("--pool-port"):
        return True
    return board.is_virtual and (not board.has("network") or netns_mode()[0] == "named")


class BoardPool:
    """The controller's N boards (slot i: a virtual board, board/virtual.py start_detached, brought up in its
    own thread), or the N ports it was given."""

    def __init__(self, config: pytest.Config, board: Board, size: int, log_dir: Path,
                 ports: list[str] | None = None) -> None:
        self.config, self.board, self.size, self.log_dir = config, board, size, log_dir
        self.ports = ports  # boards that are somewhere already (--pool-port: a tag pool's places)
        self.dir = Path(tempfile.mkdtemp(prefix="usocket-hil-pool-"))
        self.boards: list = [None] * size
        self.threads: list[threading.Thread] = []
        self.closers: list[threading.Thread] = []  # boards being stopped
        self.handed: set[int] = set()  # slots whose bring-up is over (handed to their worker)
        self.assigned: dict[str, int] = {}  # worker id -> slot
        self.closing = threading.Event()
        self.image_ready = threading.Event()  # the deploy set's image written (or its making failed)
        self.tls_keys: list[str] = []  # PEM, made once for every worker's peers (_make_keys)
        self.keys_ready = threading.Event()
        self.image_error = ""  # why there is no image, if there is none
        self.errors: list[str] = []  # bring-ups that failed: said once by the controller at the end
        self._lock = threading.Lock()

    def slot_file(self, slot: int) -> Path:
        return self.dir / f"slot-{slot}.json"

    def flash_copy(self, slot: int) -> Path:
        return self.dir / f"flash-{slot}"

    @property
    def image(self) -> Path:
        return self.dir / "image"  # the deploy set as a flash folder: what every board is flashed with

    def start(self) -> BoardPool:
        if self.ports:  # each worker brings its own up (deploy included) on its port: nothing to wait for
            for slot, port in enumerate(self.ports):
                self._hand_over(slot, {"port": port, "deployed": False})
            return self
        # What the threads below import, imported here first: a thread importing a package (virtual/__init__
        # imports its manager) while another imports that submodule directly deadlocks on Python's module
        # locks ("deadlock detected by _ModuleLock"), and the bring-up of both boards fails.
        from ..board import steps, virtual  # noqa: F401
        from ..peers import keystore  # noqa: F401
        from ..virtual import manager  # noqa: F401
        from . import backends, logs  # noqa: F401

        for target, name in ((self._make_keys, "pool-tls-keys"), (self._make_image, "pool-image")):
            t = threading.Thread(target=target, name=name, daemon=True)
            t.start()
            self.threads.append(t)
        for slot in range(self.size):
            t = threading.Thread(target=self._bring_up, args=(slot,), name=f"pool-board-{slot}", daemon=True)
            t.start()
            self.threads.append(t)
        return self

    def _make_image(self) -> None:
        from .backends import deploy_set

        try:
            for f in deploy_set(self.config, self.board):
                path = self.image / f.remote.lstrip("/")
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(f.data)
        except Exception as exc:  # noqa: BLE001 - the boards deploy themselves over their REPLs instead
            shutil.rmtree(self.image, ignore_errors=True)
            self.image_error = f"{exc}"
        finally:
            self.image_ready.set()

    def _make_keys(self) -> None:
        try:
            from ..peers.keystore import KEYS_PER_PROCESS, stored_keys

            self.tls_keys = stored_keys(KEYS_PER_PROCESS)
        except Exception:  # noqa: BLE001 - without shared keys each worker makes its own, as without a pool
            self.tls_keys = []
        finally:
            self.keys_ready.set()

    def _bring_up(self, slot: int) -> None:
        from .logs import SessionLog

        log = SessionLog(self.log_dir / f"pool-{slot}")
        try:
            answer = {"port": self._start_board(slot, log.write), "deployed": True}
        except Exception as exc:  # noqa: BLE001 - handed to the worker, which reports it as its bring-up error
            answer = {"error": f"pool board {slot} ({self.board.name}) did not come up: {exc}"}
            log.write(f"[usocket-hil] {answer['error']}\n".encode())
            if not self.closing.is_set():  # (a session stopped mid bring-up is no bring-up failure)
                self.errors.append(answer["error"])
        self.keys_ready.wait(BRINGUP_DEADLINE_S)
        if self.tls_keys and "port" in answer:
            answer["tls_keys"] = self.tls_keys
        self._hand_over(slot, answer)

    def _hand_over(self, slot: int, answer: dict) -> None:
        tmp = self.slot_file(slot).with_suffix(".tmp")
        tmp.write_text(json.dumps(answer))
        os.replace(tmp, self.slot_file(slot))
        with self._lock:
            self.handed.add(slot)

    def _start_board(self, slot: int, log) -> str:
        from ..board.virtual import start_detached
        from .backends import make_backend

        vb = start_detached(self.board, flash_dir=self.flash_copy(slot), start_timeout=BRINGUP_DEADLINE_S)
        with self._lock:
            if self.closing.is_set():
                raise PoolError("the session ended first")
            self.boards[slot] = vb
        flashed = self._flash_image(vb.flash_dir)
        vb.start()
        backend = make_backend(self.config, self.board, log=log, port=vb.port_url)
        why = self.image_error or (f"not made within {BRINGUP_DEADLINE_S:.0f} s" if not self.image_ready.is_set()
                                   else "the deploy set is empty")
        how = "flashed with the deploy set's image" if flashed else f"no image ({why}): deployed"
        log(f"[usocket-hil] pool slot {slot}: bringing up {backend.describe()}, {how}\n".encode())
        backend.start()  # booted, deployed (on an image only the hash check), online
        backend.close()  # its REPL session only: the board keeps running for its worker
        return vb.port_url

    def _flash_image(self, flash_dir: Path) -> bool:
        """The image written onto this board's blank flash folder before its first boot; False when there is
        none (this board then deploys itself)."""
        if not self.image_ready.wait(BRINGUP_DEADLINE_S) or not self.image.is_dir():
            return False
        if self.closing.is_set():
            raise PoolError("the session ended first")
        shutil.copytree(self.image, flash_dir, dirs_exist_ok=True)
        return True

    # -- xdist hooks (registered only when xdist runs the session) ---------------------------------------
    def pytest_configure_node(self, node) -> None:
        with self._lock:
            taken = set(self.assigned.values())
            # (a replacement may be configured before its crashed predecessor is reported down)
            slot = next((s for s in range(self.size) if s not in taken), len(self.assigned) % self.size)
            self.assigned[node.gateway.id] = slot
        node.workerinput[WORKER_KEY] = str(self.slot_file(slot))

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        """A worker whose board never came up stops (pytest.exit), which xdist shows only as an interrupted
        node: the reason is said here, once, and the exit status is the plugin's BRINGUP_FAILED."""
        if not self.errors:
            return
        from ..board.steps import BRINGUP_FAILED

        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        for error in self.errors:
            if reporter is not None:
                reporter.write_line(f"usocket-hil: {error}", red=True)
        session.exitstatus = BRINGUP_FAILED

    def pytest_testnodedown(self, node, error) -> None:
        with self._lock:  # a worker xdist replaces after a crash takes the slot over
            slot = self.assigned.pop(node.gateway.id, None)
            # (only a board whose bring-up is over: a worker may finish before it ever waited for its board)
            vb = self.boards[slot] if slot in self.handed and error is None else None
            if vb is not None:
                self.boards[slot] = None
        if vb is not None:  # its worker finished (its board released in its session teardown): stop it now,
            self._close_later(slot, vb)  # beside the workers still running, not after the last one

    def _close_later(self, slot: int, vb) -> None:
        t = threading.Thread(target=vb.close, name=f"pool-close-{slot}")  # (its supervisor, its namespaces)
        t.start()
        self.closers.append(t)

    def close(self) -> None:
        self.closing.set()
        for t in self.threads:
            t.join(BRINGUP_DEADLINE_S)  # every step of a bring-up has its own deadline
        with self._lock:  # side by side with the ones closed as their workers finished
            for slot, vb in enumerate(self.boards):
                if vb is not None:
                    self._close_later(slot, vb)
            self.boards = [None] * self.size
        for t in self.closers:
            t.join()
        shutil.rmtree(self.dir, ignore_errors=True)


_POOL = pytest.StashKey[BoardPool]()


class WorkerDist:
    """Controller side of any xdist run: tells each worker the run's --dist, which xdist resets to "no" in
    the worker (and order_items needs: the spread is for worksteal's initial split)."""

    def __init__(self, dist: str) -> None:
        self.dist = dist

    def pytest_configure_node(self, node) -> None:
        node.workerinput[DIST_KEY] = self.dist


def configure(config: pytest.Config, board: Board, log_dir: Path) -> None:
    """Controller side: start the pool when the session is an xdist run that wants one."""
    config.pluginmanager.register(WorkerDist(config.option.dist), "usocket-hil-worker-dist")
    if not wanted(config, board):
        return
    ports = config.getoption("--pool-port")
    if ports and len(ports) != pool_size(config):
        raise pytest.UsageError(f"usocket-hil: {len(ports)} --pool-port for {pool_size(config)} xdist workers "
                                "(one port per worker)")
    pool = BoardPool(config, board, pool_size(config), log_dir, ports=ports or None).start()
    config.stash[_POOL] = pool
    config.pluginmanager.register(pool, "usocket-hil-pool")


def unconfigure(config: pytest.Config) -> None:
    pool = config.stash.get(_POOL, None)
    if pool is not None:
        del config.stash[_POOL]
        pool.close()


def worker_port(config: pytest.Config, deadline: float = BRINGUP_DEADLINE_S) -> tuple[str | None, bool]:
    """Worker side: (the port of this worker's pool board once the controller has it up, whether the
    controller deployed it); (None, False) without a pool."""
    slot = getattr(config, "workerinput", {}).get(WORKER_KEY)
    if slot is None:
        return None, False
    path, end = Path(slot), time.monotonic() + deadline
    while not path.exists():
        if time.monotonic() > end:
            raise PoolError(f"the controller did not hand over pool board {path.stem} within {deadline:.0f} s")
        time.sleep(POLL_S)
    answer = json.loads(path.read_text())
    if "error" in answer:
        raise PoolError(answer["error"])
    if answer.get("tls_keys"):  # the run's keys (see above): this worker's peers generate none of their own
        from ..peers.keystore import seed_keys  # (as PEM: cryptography loads with this worker's first TLS peer)

        seed_keys(answer["tls_keys"])
    return answer["port"], bool(answer.get("deployed"))


# -- the order of a pool's tests: long ones spread over the workers ---------------------------------------
# Run with `--dist worksteal` (usocket-hil test --pool does): xdist hands each worker one contiguous range of
# the collection, then idle workers steal from the tail of the longest queue.  A long case (a TLS deadline,
# 16 MiB each way) that lands at the end of one range, or several long ones in one range, keeps the whole run
# waiting.  With the durations of an earlier run (--board-durations, written by the controller at the end of
# every run) the collection is ordered so that each range holds about the same seconds, longest first; the
# ranges' sizes are worksteal's initial split (xdist 3.8 WorkStealingScheduling.check_schedule: worker i of k
# gets len(pending) // (k - i)).  Tests without a recorded duration count as the median.  Workers compute the
# same order (same file, same worker count), as xdist requires.
# The unit placed is a case module's tests (ids `test_case[module.case]`), kept together where the counts allow:
# on a board with a small heap every change of case module is a soft reset and a fresh import of the core
# (tests/device/test_conformance.py _fresh_heap), so tests interleaved one by one would cost one reset each
# (a virtual ESP32: 52 resets for the suite instead of 20).

def addoption(parser: pytest.Parser) -> None:
    parser.getgroup("usocket-hil").addoption(
        "--pool-port", metavar="URL", action="append", default=[],
        help="with pytest-xdist -n N: the N boards of the pool (one port each, e.g. the RFC2217 ports of N "
             "labgrid places); each worker brings up and deploys its own")
    parser.getgroup("usocket-hil").addoption(
        "--board-durations", metavar="PATH", default=None,
        help="JSON of test durations: written at the end of the run; read at the start of a pool run "
             "(pytest-xdist --dist worksteal) to spread long tests over the workers")


def _read_durations(path: str | None) -> dict[str, float]:
    if not path:
        return {}
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return {}
    return {k: float(v) for k, v in data.items() if isinstance(v, (int, float))} if isinstance(data, dict) else {}


def range_sizes(total: int, workers: int) -> list[int]:
    sizes, left = [], total
    for i in range(workers):
        sizes.append(left // (workers - i))
        left -= sizes[-1]
    return sizes


def case_module(nodeid: str) -> str:
    """The group a test belongs to for the spread: `x.py::test_case[apps.mqtt]` -> `x.py::test_case[apps`
    (the case module); any other test is a group of its own."""
    head, bracket, param = nodeid.partition("[")
    return head + bracket + param.split(".", 1)[0] if bracket and "." in param else nodeid


def spread(items: list, seconds: dict[str, float], workers: int) -> list:
    """`items` reordered into `workers` contiguous ranges of about equal total duration.  Case modules are
    placed whole, longest first, on the range with the least seconds that has room for all of them (else on
    the one with the most room, the rest then placed the same way); each range runs its modules by their
    longest test, each module's tests longest first."""
    known = sorted(seconds.get(i.nodeid) for i in items if i.nodeid in seconds)
    default = known[len(known) // 2] if known else 0.0
    cost = {i.nodeid: seconds.get(i.nodeid, default) for i in items}
    groups: dict[str, list] = {}
    for item in items:
        groups.setdefault(case_module(item.nodeid), []).append(item)
    sizes = range_sizes(len(items), workers)
    ranges: list[list[list]] = [[] for _ in sizes]  # each range: its parts of groups
    filled, totals = [0] * len(sizes), [0.0] * len(sizes)
    for group in sorted(groups.values(), key=lambda g: -sum(cost[i.nodeid] for i in g)):  # stable: ties keep order
        rest = sorted(group, key=lambda i: -cost[i.nodeid])
        while rest:
            room = [r for r in range(len(sizes)) if filled[r] < sizes[r]]
            whole = [r for r in room if sizes[r] - filled[r] >= len(rest)]
            if whole:
                r = min(whole, key=lambda r: (totals[r], r))
            else:
                r = max(room, key=lambda r: (sizes[r] - filled[r], -r))
            part, rest = rest[:sizes[r] - filled[r]], rest[sizes[r] - filled[r]:]
            ranges[r].append(part)
            filled[r] += len(part)
            totals[r] += sum(cost[i.nodeid] for i in part)
    return [item for parts in ranges for part in sorted(parts, key=lambda p: -cost[p[0].nodeid]) for item in part]


def order_items(config: pytest.Config, items: list) -> None:
    """In an xdist worker of a worksteal run with known durations: spread the long tests (see above)."""
    workerinput = getattr(config, "workerinput", {})
    workers = workerinput.get("workercount", 0)
    if workers < 2 or workerinput.get(DIST_KEY) != "worksteal":
        return
    seconds = _read_durations(config.getoption("--board-durations"))
    if seconds:
        items[:] = spread(items, seconds, workers)


class DurationLog:
    """Controller (or a run without xdist): each test's call duration, merged into --board-durations."""

    def __init__(self, path: str) -> None:
        self.path = Path(path)
        self.seconds: dict[str, float] = {}

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when == "call":
            self.seconds[report.nodeid] = round(report.duration, 3)

    def pytest_sessionfinish(self) -> None:
        if not self.seconds:
            return
        merged = {**_read_durations(str(self.path)), **self.seconds}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(merged, indent=0, sort_keys=True))
        os.replace(tmp, self.path)


def record_durations(config: pytest.Config) -> None:
    path = config.getoption("--board-durations")
    if path and not hasattr(config, "workerinput"):
        config.pluginmanager.register(DurationLog(path), "usocket-hil-durations")
