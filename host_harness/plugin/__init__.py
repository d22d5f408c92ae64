"""The pytest plugin's parts (host_harness.pytest_plugin gathers them for pytest).

options.py   command-line options, markers, selection by target/capability
manager.py   session state: board definition, running backend, bring-up errors
fixtures.py  `board` (per test) on top of the scoped backend, and `sync`
board.py     BoardHandle: exec/eval/call/run/start_call/reset returning values
backends/    virtual (VirtualBoard), serial (--port), cpython (kind "host")
peers.py     host peers as fixtures, leftover-listener detection
sync.py      host end of the board<->host sync channel (device end: device/hilsync.py)
logs.py      per-test board logs, report sections, JUnit <system-out>
layout.py    which host files make up the board's /lib
errors.py    BoardError family, board traceback annotation
"""
