"""`python -m host_harness.virtual.esp32_serial`: one virtual ESP32 behind an RFC2217 bridge (see device.py)."""

import sys

from .device import main

sys.exit(main())
