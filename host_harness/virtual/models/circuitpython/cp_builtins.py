# Port model (circuitpython): exceptions CircuitPython has as builtins and this unix build lacks
# (py/objexcept.c in CircuitPython: BrokenPipeError, ConnectionError), installed into builtins.
import builtins

if not hasattr(builtins, "ConnectionError"):
    class ConnectionError(OSError):
        pass

    builtins.ConnectionError = ConnectionError

if not hasattr(builtins, "BrokenPipeError"):
    class BrokenPipeError(OSError):
        pass

    builtins.BrokenPipeError = BrokenPipeError
