# The application-tier scenario that needs async/await (MicroPython's asyncio streams over usocket_port after
# install()): a module of its own, loaded only where the firmware's compiler has them (NEEDS, read by
# tests/device/test_conformance.py; WiPy's cc3200 build has MICROPY_PY_ASYNC_AWAIT 0).
from apps import _Modules
from compat import MICROPYTHON, Skip, check, randint

NEEDS = ("async",)
CLAUSES = {
    "case_asyncio_streams": ("app.asyncio", "app.install"),
}


def case_asyncio_streams(env):
    # MicroPython's own asyncio streams (extmod/asyncio/stream.py): open_connection and start_server call
    # `import socket` inside, so after install() they run over usocket_port.
    if not MICROPYTHON:
        raise Skip("MicroPython's asyncio streams; CPython's asyncio has its own transports")
    with _Modules(True):
        try:
            import asyncio
        except ImportError:
            raise Skip("this firmware has no asyncio")
        if not hasattr(asyncio, "start_server"):
            raise Skip("this firmware's asyncio has no streams")
        import errno
        if not hasattr(errno, "EINPROGRESS"):
            raise Skip("this firmware's errno has no EINPROGRESS, which asyncio.open_connection imports")
        out = {}
        host = env["bind_ip"]
        port = randint(20000, 60000)

        async def serve(r, w):
            d = await r.readline()
            w.write(d.upper())
            await w.drain()
            w.close()

        async def main():
            srv = await asyncio.start_server(serve, host, port)
            r, w = await asyncio.open_connection(host, port)
            w.write(b"over usocket_port\n")
            await w.drain()
            out["reply"] = await asyncio.wait_for(r.readline(), 5)
            w.close()
            srv.close()
            await srv.wait_closed()

        asyncio.run(main())
        check(out["reply"] == b"OVER USOCKET_PORT\n", "asyncio echo %r" % (out.get("reply"),))
        return {"bytes": len(out["reply"])}
