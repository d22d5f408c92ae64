# The seed-only program that needs async/await: a module of its own, loaded only where the firmware's compiler
# has them (NEEDS, read by tests/device/test_conformance.py; WiPy's cc3200 build has MICROPY_PY_ASYNC_AWAIT 0).
#   echo    : TcpEcho, see stream.py
from compat import MICROPYTHON, Skip, check, random_bytes

import usocket_port as usocket

NEEDS = ("async",)
CLAUSES = {
    "case_asyncio_echo": ("ext.asyncio", "ext.poll"),
}


def case_asyncio_echo(env):
    if not MICROPYTHON:
        raise Skip("asyncio streams over a raw socket object are MicroPython's API (CPython uses its own)")
    try:
        import asyncio
    except ImportError:
        try:
            import uasyncio as asyncio
        except ImportError:
            raise Skip("no asyncio in this firmware (CircuitPython's is the separate adafruit asyncio library)")
    if not hasattr(asyncio, "StreamReader"):
        raise Skip("this firmware's asyncio has no streams")
    s = usocket.socket()
    s.settimeout(5)
    s.connect(env["echo"])
    s.setblocking(False)
    result = {}

    async def main():
        r = asyncio.StreamReader(s)
        w = asyncio.StreamWriter(s, {})
        data = random_bytes(6000)
        w.write(data)
        await w.drain()
        got = await asyncio.wait_for(r.readexactly(len(data)), 5)
        check(got == data, "asyncio echo corrupted")
        w.write(b"line\n")
        await w.drain()
        ln = await asyncio.wait_for(r.readline(), 5)
        check(ln == b"line\n", "asyncio readline %r" % (ln,))
        result["bytes"] = len(data)

    asyncio.run(main())
    s.close()
    return result
