"""Boards reached over the network, as pyserial URLs, so every `--port` (and mpremote's SerialTransport, which
opens ports with `serial.serial_for_url`) takes them unchanged:

  wipy://HOST[:23][?user=micro&password=python&netns=NAME]     WiPy 1.0 telnet REPL (ports/cc3200/telnet/telnet.c)
  webrepl://HOST[:8266][?password=PASS&netns=NAME]             WebREPL (extmod/modwebrepl.c)

`netns=` names the network namespace the connection is made from (a name under /run/netns, or a path): a
virtual board's host-side namespace, so that nothing connects from the root namespace to a namespace address.

Files go over FTP on a WiPy (ftp.py, ftplib) and over WebREPL's binary protocol on a WebREPL board
(webrepl_files.py).  `register()` makes pyserial find the handlers (serial.protocol_handler_packages).
"""

from __future__ import annotations

import serial

PACKAGE = __name__


def register() -> None:
    """Let `serial.serial_for_url` open wipy:// and webrepl:// URLs (idempotent)."""
    if PACKAGE not in serial.protocol_handler_packages:
        serial.protocol_handler_packages.append(PACKAGE)


register()
