"""The pytest plugin's parts (host_harness.pytest_plugin gathers them for pytest).

options.py   command-line options, markers, selection by target/capability
manager.py   session state: board definition, running backend, bring-up errors
fixtures.py  `board` (per test) on top of the scoped backend, and `sync`
board.py     BoardHandle: exec/eval/call/run/start_call/reset returning values
backends/    the running board: host_harness.board.open_board with the plugin's options
peers.py     host peers as fixtures, leftover-listener detection
sync.py      host end of the board<->host sync channel (device end: device/hilsync.py)
logs.py      per-test board logs, report sections, JUnit <system-out>
layout.py    what the plugin adds to the deploy set (cases, hilsync, --board-lib)
tracebacks.py  board tracebacks annotated with host source lines (errors: transport/result.py)
"""
