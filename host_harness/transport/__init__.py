"""Board transport: `BoardSession` over mpremote's SerialTransport, exec with deadlines and outcomes.

result.py            the outcome family: ExecResult and the BoardError exceptions (no mpremote import)
mpremote_adapter.py  mpremote's SerialTransport with deadline-bounded reads and writes (its internals)
session.py           BoardSession: raw-REPL exec, binary-safe output, resync, hung-board recovery
exit_status.py       exec(catch_exit=True): the code pasted inside a SystemExit catcher, the status read back
files.py             file operations over a session (fs_* under deadlines)
urls/                pyserial URL schemes of our own (protocol_<scheme>.py), URL checks, open errors
"""

from ..lazy import lazy_exports
from .result import (
    BoardCrashed,
    BoardError,
    BoardHung,
    BoardTransportError,
    ExecResult,
    Outcome,
    RecoveryStep,
    SyncTimeout,
    Traceback,
    parse_traceback,
)

# The session pulls in mpremote and pyserial: load it only when asked for.
__getattr__, __dir__ = lazy_exports(
    __name__, dict.fromkeys(("BoardSession", "BoardValueError", "HardReset", "RemoteFileError"), "session"))

__all__ = [
    "BoardCrashed",
    "BoardError",
    "BoardHung",
    "BoardSession",
    "BoardTransportError",
    "BoardValueError",
    "ExecResult",
    "HardReset",
    "Outcome",
    "RecoveryStep",
    "RemoteFileError",
    "SyncTimeout",
    "Traceback",
    "parse_traceback",
]
