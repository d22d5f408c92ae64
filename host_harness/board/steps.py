"""Step outcomes, the bring-up strategy and the reset ladder: the two state machines of a running board.

Bring-up walks off -> flashed -> booted -> deployed -> online; a reset climbs interrupt -> soft -> hard ->
power.  A board kind (serial.py, virtual.py, host.py) says what each step does for it by handing callables to
`BringUp` and `ResetLadder`; a kind that cannot do a step leaves it out (a cpython board has no flash, a
socket:// board no power switch).  Each step runs with its own deadline and leaves a `StepOutcome` in the
board's record, so a failure names the step, and the session log shows how long each took.
(The split follows labgrid's strategies over drivers; here the "drivers" are the board kinds.)
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from ..errors import HilError

BRING_UP_STATES = ("off", "flashed", "booted", "deployed", "online")
RESET_RUNGS = ("interrupt", "soft", "hard", "power")
# Exit status of a run stopped because its board did not come up: the pytest plugin's (pytest's own
# INTERRUPTED: the session was stopped) and `usocket-hil test`'s (a port or transport error, cli.py).
BRINGUP_FAILED = 2
# Exit status of a suite stopped mid-run because the link to its board is gone (its port's server died):
# every later test would fail for that one cause, so the plugin stops and `usocket-hil test` names it.
LINK_LOST = 6


@dataclass(frozen=True)
class StepOutcome:
    step: str  # a bring-up state reached, or a reset rung tried
    ok: bool
    detail: str
    seconds: float

    def line(self) -> str:
        return f"{self.step}: {'ok' if self.ok else 'FAILED'} in {self.seconds:.2f} s ({self.detail})"


class StepError(HilError):
    """A bring-up step or every reset rung failed; `outcomes` is the record up to the failure."""

    def __init__(self, message: str, outcomes: list[StepOutcome]) -> None:
        super().__init__(message)
        self.outcomes = outcomes

    @property
    def link_gone(self) -> bool:
        """Every step failed because the board could not be reached at all: its port's server is gone, or it
        is frozen (the line silent and the server answering no RFC2217 option: a wedged USB-UART, a frozen
        ser2net host, a pulled network cable keep the TCP connection open)."""
        if not self.outcomes or any(o.ok for o in self.outcomes):
            return False
        gone = [bool(_LINK_GONE.search(o.detail)) for o in self.outcomes]
        return any(gone) and all(g or _SILENT.search(o.detail) for g, o in zip(gone, self.outcomes, strict=True))


# what the transport says when the port itself is gone (transport/session.py, pyserial's rfc2217)
_LINK_GONE = re.compile(r"is closed|link to the board lost|reader thread died|Broken pipe|onnection refused|"
                        r"onnection reset|cannot open port|timeout while waiting for option")
_SILENT = re.compile(r"nothing received")  # (transport/session.py: not one byte came back within the deadline)


# A step's action gets its deadline in seconds and returns a short description of what it did.
Action = Callable[[float], str]


@dataclass
class Step:
    name: str
    action: Action
    deadline: float


def _run(step: Step) -> StepOutcome:
    t0 = time.monotonic()
    try:
        detail = step.action(step.deadline)
    except HilError as exc:
        return StepOutcome(step.name, False, str(exc), time.monotonic() - t0)
    except OSError as exc:  # e.g. a port path that is not a tty, a full disk
        return StepOutcome(step.name, False, " ".join(str(exc).split()), time.monotonic() - t0)
    return StepOutcome(step.name, True, detail, time.monotonic() - t0)


@dataclass
class BringUp:
    """The bring-up strategy: the kind's steps in BRING_UP_STATES order, stopping at the first failure."""

    board: str
    steps: list[Step] = field(default_factory=list)

    def add(self, name: str, action: Action, deadline: float) -> None:
        if name not in BRING_UP_STATES[1:]:
            raise ValueError(f"unknown bring-up state {name!r} (one of {', '.join(BRING_UP_STATES[1:])})")
        self.steps.append(Step(name, action, deadline))
        self.steps.sort(key=lambda s: BRING_UP_STATES.index(s.name))

    def run(self, record: Callable[[StepOutcome], None], *, start: str | None = None) -> list[StepOutcome]:
        """Run the steps (from `start` on); StepError names the first that failed."""
        done: list[StepOutcome] = []
        first = BRING_UP_STATES.index(start) if start else 0
        for step in self.steps:
            if BRING_UP_STATES.index(step.name) < first:
                continue
            outcome = _run(step)
            done.append(outcome)
            record(outcome)
            if not outcome.ok:
                raise StepError(f"{self.board} did not come up ({step.name} step): {outcome.detail}", done)
        return done


@dataclass
class ResetLadder:
    """The reset ladder: rungs in RESET_RUNGS order; `climb` tries them until one brings the board back."""

    board: str
    rungs: list[Step] = field(default_factory=list)

    def add(self, name: str, action: Action, deadline: float) -> None:
        if name not in RESET_RUNGS:
            raise ValueError(f"unknown reset rung {name!r} (one of {', '.join(RESET_RUNGS)})")
        self.rungs = [r for r in self.rungs if r.name != name] + [Step(name, action, deadline)]
        self.rungs.sort(key=lambda s: RESET_RUNGS.index(s.name))

    def names(self) -> list[str]:
        return [r.name for r in self.rungs]

    def climb(self, record: Callable[[StepOutcome], None], *, start: str = "soft",
              stop: str | None = None) -> StepOutcome:
        """Try the rungs from `start` (up to `stop`) until one works; StepError lists every failure."""
        tried: list[StepOutcome] = []
        lo = RESET_RUNGS.index(start)
        hi = RESET_RUNGS.index(stop) if stop else len(RESET_RUNGS) - 1
        for rung in self.rungs:
            if not lo <= RESET_RUNGS.index(rung.name) <= hi:
                continue
            outcome = _run(rung)
            tried.append(outcome)
            record(outcome)
            if outcome.ok:
                return outcome
        if not tried:
            raise StepError(f"{self.board}: no {start} reset available (it can do: "
                            f"{', '.join(self.names()) or 'none'})", tried)
        raise StepError(f"{self.board} could not be reset: "
                        + "; ".join(f"{o.step} reset: {o.detail}" for o in tried), tried)
