# Port model (circuitpython): CircuitPython's `time` (shared-bindings/time/__init__.c): monotonic(),
# monotonic_ns(), sleep(seconds), time(), localtime(), mktime(), struct_time -- no ticks_ms/ticks_diff/
# sleep_ms, which are MicroPython's.  Built on this interpreter's own time (reached as utime).
import utime as _t

sleep = _t.sleep
time = _t.time
localtime = _t.localtime
mktime = _t.mktime


def monotonic_ns():
    return _t.time_ns()  # (the unix build has no monotonic ns clock in Python; the wall clock stands in)


def monotonic():
    return _t.time_ns() / 1000000000
