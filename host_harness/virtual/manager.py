"""Starting, finding and stopping virtual-board supervisors through their state files.

Layout in the state directory (`$USOCKET_HIL_STATE`, default /tmp/usocket-hil-<uid>/), per board NAME:
  NAME.json   state written by the supervisor once ready (removed when it stops)
  NAME.tty    symlink to the board's pty (removed when it stops)
  NAME.pid    pid of a supervisor started detached (`virtual up`), written before it is ready (removed when it
              stops): what finds it when the command that started it is interrupted before the state file exists
  NAME.log    supervisor log (crash events)
  NAME.flash/ the board's default flash filesystem, and NAME.flash.nwp/ a virtual WiPy's network-processor store
              (services/nwp.py, models/wipy/nwp_fs.py: "<flash dir>.nwp")
The log, the default flash folder and its NWP store live as long as the board: `virtual up` without --flash-dir
starts on an empty flash (a leftover of an earlier board of that name, of any target, is removed), and stopping
the board (`virtual down`, VirtualBoard.close) removes them.  A flash folder the user gives (--flash-dir) is
theirs: it and its .nwp sibling are never removed.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn

from ..boards import Board
from ..errors import HilError
from ..state import state_dir
from .supervisor import STATE_KIND

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$")
_PROJECT = Path(__file__).resolve().parents[2]


def check_name(name: str) -> str:
    if not NAME_RE.match(name):
        raise HilError(f"virtual board name {name!r} is not valid: use letters, digits, '-', '_' or '.' "
                       "(at most 40, starting with a letter or digit)")
    return name


def paths(name: str, directory: Path | None = None) -> dict[str, Path]:
    d = directory or state_dir()
    return {"state": d / f"{name}.json", "tty": d / f"{name}.tty", "log": d / f"{name}.log",
            "flash": d / f"{name}.flash", "pid": d / f"{name}.pid"}


def pid_alive(pid: object) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def owner(name: str) -> int | None:
    """The live process an unnamed board belongs to (t<pid>-<n>: a test run, a bridge such as esp32_serial),
    or None for a board `virtual up` started (it belongs to whoever stops it) and one whose owner is gone."""
    m = re.fullmatch(r"t(\d+)-\d+", name)
    pid = int(m[1]) if m else None
    return pid if pid is not None and pid != os.getpid() and pid_alive(pid) else None


def _is_supervisor(pid: int, name: str) -> bool:
    # Guards against pid reuse: the process must be our supervisor for this board name.
    try:
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return b"host_harness.virtual.supervisor" in cmd and name.encode() in cmd


def read_state(name: str, directory: Path | None = None) -> dict[str, Any] | None:
    try:
        data = json.loads(paths(name, directory)["state"].read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("kind") == STATE_KIND else None


def list_boards(directory: Path | None = None) -> list[dict[str, Any]]:
    """Every virtual board with a state file, with `alive` (its supervisor runs) and `state_file`."""
    d = directory or state_dir()
    out = []
    for path in sorted(d.glob("*.json")) if d.is_dir() else []:
        data = read_state(path.stem, d)
        if data is None:
            continue
        pid = data.get("pid")
        data["alive"] = pid_alive(pid) and _is_supervisor(pid, path.stem)
        data["state_file"] = str(path)
        out.append(data)
    return out


def free_name(directory: Path | None = None) -> str:
    d = directory or state_dir()
    for i in range(1, 1000):
        name = f"vb{i}"
        if not paths(name, d)["state"].exists() and not paths(name, d)["tty"].is_symlink():
            return name
    raise HilError(f"no free virtual board name in {d}; run `usocket-hil virtual down --all`")


def remove_leftovers(name: str, directory: Path | None = None) -> None:
    """State file, pid file and symlink of a supervisor that is gone (killed -9)."""
    p = paths(name, directory)
    for key in ("state", "tty", "pid"):
        path = p[key]
        if path.is_symlink() or path.exists():
            path.unlink()
    tmp = p["state"].with_name(p["state"].name + ".tmp")
    if tmp.exists():
        tmp.unlink()


def nwp_store(flash_dir: Path) -> Path:
    """Where a virtual WiPy keeps its network processor's files for this flash folder (services/nwp.py)."""
    return Path(f"{str(flash_dir).rstrip('/')}.nwp")


def remove_board_files(name: str, directory: Path | None = None, flash_dir: str | Path | None = None) -> None:
    """The log of stopped board `name`, and its default flash folder with that folder's NWP store; `flash_dir`,
    the folder the board ran on, is kept when it is not the default one (the user's --flash-dir)."""
    p = paths(name, directory)
    p["log"].unlink(missing_ok=True)
    if flash_dir is not None and Path(flash_dir).resolve() != p["flash"].resolve():
        return
    _remove_default_flash(p)


def _remove_default_flash(p: dict[str, Path]) -> None:
    for folder in (p["flash"], nwp_store(p["flash"])):
        if folder.is_symlink():
            folder.unlink()
        elif folder.exists():
            shutil.rmtree(folder)


MODELS_DIR = Path(__file__).resolve().parent / "models"


def model_dir_for(board: Board) -> Path | None:
    """host_harness/virtual/models/<board.model>/ for a board file's `[virtual] model`, else None."""
    if not board.model:
        return None
    path = MODELS_DIR / board.model
    if not path.is_dir():
        raise HilError(f"board '{board.name}' names port model '{board.model}', but {path} does not exist")
    return path


def _supervisor_command(board: Board, name: str, *, directory: Path | None, flash_dir: Path | None, tcp: bool,
                        network: bool, netns_argv: list[str] | None = None, netns_info: dict | None = None,
                        parent_pid: int | None = None, model_dir: Path | None = None, fresh_flash: bool = True,
                        ) -> tuple[dict[str, Path], list[str], dict[str, str]]:
    """The files, argv and environment of a new supervisor for board `name` (refused if one runs)."""
    d = directory or state_dir()
    d.mkdir(parents=True, exist_ok=True)
    p = paths(check_name(name), d)
    old = read_state(name, d)
    if old is not None and pid_alive(old.get("pid")) and _is_supervisor(old["pid"], name):
        raise HilError(f"virtual board '{name}' is already running (port {old.get('port_url')})")
    starting = _recorded_pid(name, d)
    if starting is not None and pid_alive(starting) and _is_supervisor(starting, name):
        raise HilError(f"virtual board '{name}' is already starting (supervisor pid {starting})")
    remove_leftovers(name, d)
    if fresh_flash and (flash_dir is None or flash_dir.resolve() == p["flash"].resolve()):
        _remove_default_flash(p)  # a new board on its default flash: empty, whatever an earlier board left there
    argv = [sys.executable, "-m", "host_harness.virtual.supervisor",
            "--board", str(board.source or board.name), "--name", name,
            "--state-dir", str(d), "--flash-dir", str(flash_dir or p["flash"])]
    # The caller's Board object wins over the file (it may be a modified copy).
    if board.heapsize:
        argv += ["--heapsize", board.heapsize]
    argv += ["--description", board.description]
    if tcp:
        argv.append("--tcp")
    if netns_argv:
        argv += ["--netns-argv", json.dumps(netns_argv), "--netns-info", json.dumps(netns_info or {})]
    elif network:
        argv.append("--network")
    if parent_pid:
        argv += ["--parent-pid", str(parent_pid)]
    model_dir = model_dir or model_dir_for(board)
    if model_dir:
        argv += ["--model-dir", str(model_dir)]
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(_PROJECT), env.get("PYTHONPATH", "")]))
    return p, argv, env


def launch(board: Board, name: str, *, directory: Path | None = None, flash_dir: Path | None = None,
           tcp: bool = False, network: bool = False, netns_argv: list[str] | None = None,
           netns_info: dict | None = None, parent_pid: int | None = None, model_dir: Path | None = None,
           fresh_flash: bool = True) -> subprocess.Popen:
    """Start a supervisor as a child that the caller owns and waits for (VirtualBoard: it learns how its board
    ended), in its own session (a terminal's Ctrl-C is not meant for it); log to NAME.log.  `fresh_flash`
    False keeps what the default flash folder holds (a restart of the same board)."""
    p, argv, env = _supervisor_command(board, name, directory=directory, flash_dir=flash_dir, tcp=tcp,
                                       network=network, netns_argv=netns_argv, netns_info=netns_info,
                                       parent_pid=parent_pid, model_dir=model_dir, fresh_flash=fresh_flash)
    with open(p["log"], "ab") as log:
        return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log, cwd="/", env=env,
                                start_new_session=True, close_fds=True)


def launch_detached(board: Board, name: str, *, directory: Path | None = None, flash_dir: Path | None = None,
                    tcp: bool = False, network: bool = False) -> int:
    """Start a supervisor that outlives the caller and is nobody's child here (`virtual up`): a short-lived
    intermediate process makes its own session, spawns the supervisor and exits, so init adopts it; the caller
    keeps no Popen (nothing to warn about or to interrupt at exit) and no zombie.  Returns its pid, also recorded
    in NAME.pid (`stop(name)` finds a board still starting).  SIGINT is held while the supervisor is made; call
    it inside `sigint_held()` to hold it until the pid is in your hands too."""
    p, argv, env = _supervisor_command(board, name, directory=directory, flash_dir=flash_dir, tcp=tcp,
                                       network=network)
    with sigint_held():
        return _fork_supervisor(name, p, argv, env)


@contextlib.contextmanager
def sigint_held() -> Iterator[None]:
    """SIGINT (Ctrl-C) is blocked inside; one that came meanwhile raises KeyboardInterrupt on leaving."""
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)


def _fork_supervisor(name: str, p: dict[str, Path], argv: list[str], env: dict[str, str]) -> int:
    r, w = os.pipe()
    try:
        middle = os.fork()
        if middle == 0:
            _spawn_and_exit(argv, env, p["log"], w)
        os.close(w)
        w = -1
        os.waitpid(middle, 0)  # it exits right after the spawn
        out = b""
        while chunk := os.read(r, 64):
            out += chunk
        if not out.isdigit():
            raise HilError(f"virtual board '{name}' could not be started: {log_error(p['log'])} "
                           f"(log: {p['log']})")
        pid = int(out)
        tmp = p["pid"].with_name(p["pid"].name + ".tmp")
        tmp.write_text(f"{pid}\n")
        os.replace(tmp, p["pid"])
        return pid
    finally:
        for fd in (r, w):
            if fd >= 0:
                os.close(fd)


def _spawn_and_exit(argv: list[str], env: dict[str, str], log_path: Path, report: int) -> NoReturn:
    # The forked intermediate: system calls only (the caller may have threads), then _exit without cleanup.
    code = 1
    try:
        os.setsid()  # leader of a new session; the supervisor is not, so it never gets a controlling terminal
        os.chdir("/")
        null = os.open(os.devnull, os.O_RDONLY)
        log = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        os.dup2(null, 0)
        os.dup2(log, 1)
        os.dup2(log, 2)
        os.closerange(3, report)  # as Popen's close_fds: nothing the caller holds stays open in the daemon
        os.closerange(report + 1, os.sysconf("SC_OPEN_MAX"))  # (`report` is close-on-exec)
        pid = os.posix_spawn(argv[0], argv, env, setsigmask=(),
                             setsigdef=(signal.SIGINT,))  # the caller's SIGINT block ends here
        os.write(report, str(pid).encode())
        code = 0
    except BaseException as exc:  # noqa: BLE001  (the reason goes to the log, where log_error() finds it)
        with contextlib.suppress(OSError):
            os.write(2, f"supervisor not started: error: {exc}\n".encode())
    finally:
        os._exit(code)


def _recorded_pid(name: str, directory: Path | None = None) -> int | None:
    try:
        return int(paths(name, directory)["pid"].read_text())
    except (OSError, ValueError):
        return None


def stop_starting(name: str, directory: Path | None = None) -> None:
    """Stop the supervisor that launch_detached() started for `name`, ready or not (an interrupted start)."""
    pid = _recorded_pid(name, directory)
    if pid is not None:
        stop_pid(pid, name, directory)
    else:
        remove_leftovers(name, directory)
    remove_board_files(name, directory)  # (a --flash-dir is not in the state dir: only the default goes)


def log_error(log: Path) -> str:
    try:
        lines = log.read_text(errors="replace").strip().splitlines()
    except OSError:
        return "no log"
    for line in reversed(lines):
        if "error:" in line:
            return line.split("error:", 1)[1].strip()
    return lines[-1].strip() if lines else "no output"


def wait_ready(proc: subprocess.Popen | int, name: str, directory: Path | None = None,
               timeout: float = 20.0) -> dict[str, Any]:
    """The state file of supervisor `proc` (a child's Popen, or the pid of a detached one) once it is ready."""
    pid = proc if isinstance(proc, int) else proc.pid
    p = paths(name, directory)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = read_state(name, directory)
        if state is not None and state.get("pid") == pid and state.get("board_pid"):
            return state
        if (proc.poll() is not None) if not isinstance(proc, int) else not _running(pid):
            raise HilError(f"virtual board '{name}' did not start: {log_error(p['log'])} (log: {p['log']})")
        time.sleep(0.02)
    stop_pid(pid, name, directory)
    raise HilError(f"virtual board '{name}' was not ready after {timeout:.0f} s (log: {p['log']})")


def _running(pid: int) -> bool:
    _reap(pid)  # a zombie only if we are its subreaper
    return pid_alive(pid)


def stop_pid(pid: int, name: str, directory: Path | None = None, timeout: float = 10.0) -> None:
    """SIGTERM, wait (bounded), SIGKILL if needed; then make sure no file of this board is left."""
    if pid_alive(pid) and _is_supervisor(pid, name):
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while pid_alive(pid) and time.monotonic() < deadline:
            _reap(pid)
            time.sleep(0.02)
        if pid_alive(pid):
            os.kill(pid, signal.SIGKILL)  # its interpreter dies with it (PDEATHSIG)
            deadline = time.monotonic() + 5
            while pid_alive(pid) and time.monotonic() < deadline:
                _reap(pid)
                time.sleep(0.02)
    remove_leftovers(name, directory)


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, os.WNOHANG)  # our own child becomes a zombie until reaped
    except ChildProcessError:
        pass


def stop(name: str, directory: Path | None = None, timeout: float = 10.0) -> dict[str, Any]:
    state = read_state(name, directory)
    if state is None:
        p = paths(name, directory)
        if p["tty"].is_symlink() or p["pid"].exists():  # gone without its state file, or still starting
            stop_starting(name, directory)
            return {"name": name}
        raise HilError(f"no virtual board named '{name}' in {directory or state_dir()} "
                       "(see `usocket-hil virtual list`)")
    stop_pid(state.get("pid", -1), name, directory, timeout)
    remove_board_files(name, directory, state.get("flash_dir"))
    names = state.get("netns") or []
    if names:  # a supervisor killed -9 leaves its namespaces to the reaper; do not wait for it
        try:
            from ..netns import delete_names

            delete_names(names)
        except (ImportError, HilError):
            pass
    return state


def hard_reset(name: str, directory: Path | None = None, timeout: float = 10.0) -> None:
    """Ask board `name`'s supervisor to restart its interpreter (SIGUSR1) and wait until it has."""
    before = read_state(name, directory)
    pid = before.get("pid") if before else None
    if not (pid_alive(pid) and _is_supervisor(pid, name)):
        raise HilError(f"virtual board '{name}' is not running (its supervisor is gone)")
    os.kill(pid, signal.SIGUSR1)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        now = read_state(name, directory) or {}
        if now.get("hard_resets", 0) > before.get("hard_resets", 0) and now.get("board_pid"):
            return
        if not pid_alive(pid):
            break
        _reap(pid)
        time.sleep(0.02)
    raise HilError(f"virtual board '{name}' did not come back from a hard reset within {timeout:.0f} s")
