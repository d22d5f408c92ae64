"""esptool's output routed per thread through its public set_logger(): each board's thread writes its own
log, other threads still reach esptool's own logger, and esptool's logger is back afterwards."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from esptool.logger import EsptoolLogger, log

from host_harness.flash import esplog
from host_harness.flash.errors import FlashCancelled


def _installed() -> object:
    return log.print.__self__  # the logger esptool's `log` proxy currently forwards to


def _speak(board_log: esplog.BoardLog, name: str) -> None:
    with esplog.bind(board_log):
        log.print(f"hello from {name}")
        log.note(f"note {name}")
        log.warning(f"warn {name}")
        log.error(f"error {name}")
        with log.progress(total=4, description=f"writing {name}") as task:
            for _ in range(4):
                task.update(1)


def test_threads_write_their_own_logs_and_esptool_logger_comes_back(tmp_path: Path, capsys) -> None:
    seen: dict[str, list[tuple[int, int]]] = {"alpha": [], "beta": []}
    logs = {n: esplog.BoardLog(tmp_path / f"{n}.log", on_progress=lambda d, t, _x, n=n: seen[n].append((d, t)))
            for n in seen}
    default = _installed()
    assert default is EsptoolLogger()
    with esplog.routed():
        assert _installed() is not default
        threads = [threading.Thread(target=_speak, args=(logs[n], n)) for n in seen]
        for t in threads:
            t.start()
        for t in threads:
            t.join(10)
        log.print("from the main thread")  # bound to no board: esptool's own logger prints it
    assert _installed() is default
    for board_log in logs.values():
        board_log.close()
    text = {n: (tmp_path / f"{n}.log").read_text() for n in seen}
    for n, other in (("alpha", "beta"), ("beta", "alpha")):
        for line in (f"hello from {n}", f"Note: note {n}", f"Warning: warn {n}", f"Error: error {n}"):
            assert line in text[n]
        assert other not in text[n]  # nothing of the other thread
        assert seen[n] and seen[n][-1] == (4, 4)
    assert "from the main thread" in capsys.readouterr().out
    assert all("from the main thread" not in t for t in text.values())


def test_nested_runs_restore_once_the_last_ends(tmp_path: Path) -> None:
    default = _installed()
    with esplog.routed():
        inner = _installed()
        with esplog.routed():
            assert _installed() is inner
        assert _installed() is inner
    assert _installed() is default


def test_cancel_stops_at_the_next_progress_call(tmp_path: Path) -> None:
    cancel = threading.Event()
    board_log = esplog.BoardLog(tmp_path / "c.log", cancel=cancel)
    cancel.set()
    with esplog.routed(), esplog.bind(board_log), pytest.raises(FlashCancelled):
        with log.progress(total=2) as task:
            task.update(1)
    board_log.close()
    assert _installed() is EsptoolLogger()
