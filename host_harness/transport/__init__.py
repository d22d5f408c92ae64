"""Board transport: `BoardSession` over mpremote's SerialTransport, exec with deadlines and outcomes."""

from .result import (
    BoardCrashedError,
    BoardExecError,
    BoardHungError,
    BoardOutcomeError,
    ExecResult,
    Outcome,
    RecoveryStep,
    Traceback,
    parse_traceback,
)
from .session import BoardSession, BoardValueError, HardReset, RemoteFileError

__all__ = [
    "BoardCrashedError",
    "BoardExecError",
    "BoardHungError",
    "BoardOutcomeError",
    "BoardSession",
    "BoardValueError",
    "ExecResult",
    "HardReset",
    "Outcome",
    "RecoveryStep",
    "RemoteFileError",
    "Traceback",
    "parse_traceback",
]
