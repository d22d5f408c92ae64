"""pyserial URL handlers of our own, found before pyserial's (serial.protocol_handler_packages).

`install()` puts this package first in pyserial's handler search; `rfc2217://` then opens
protocol_rfc2217.Serial — pyserial's RFC2217 client without one round trip per timeout change.
"""

from __future__ import annotations

import serial

PACKAGE = __name__


def install() -> None:
    """Idempotent; affects every serial_for_url() of this process (esptool and mpremote use it)."""
    if PACKAGE not in serial.protocol_handler_packages:
        serial.protocol_handler_packages.insert(0, PACKAGE)
